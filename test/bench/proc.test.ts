/** ProcessSet stops exactly what it started and leaves nothing behind, even a child that ignores SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, processTree, ProcessSet, RssSampler } from '../../bench/macro/proc.ts';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

void test('SIGTERM stops a well-behaved process; one ignoring it is killed with its process group after the grace period', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-proc-'));
  const procs = new ProcessSet();
  try {
    const polite = procs.start('polite', 'sleep', ['30'], {
      cwd: dir,
      logFile: join(dir, 'polite.log'),
      cpus: null,
    });
    const stubborn = procs.start('stubborn', 'sh', ['-c', 'trap "" TERM; sleep 30 & wait'], {
      cwd: dir,
      logFile: join(dir, 'stubborn.log'),
      cpus: null,
      graceMs: 300,
    });
    await until(() => processTree([stubborn.pid]).length === 2, 'the stubborn shell to start its child');
    const child = processTree([stubborn.pid]).find((p) => p !== stubborn.pid)!;
    const sampler = new RssSampler({ polite: polite.pid }, 50);
    sampler.stop();
    assert.ok(sampler.peakKb.polite! > 0, 'RSS of a running process is sampled');
    assert.equal(procs.started.size, 2);
    await procs.stopAll();
    assert.equal(procs.started.size, 0);
    for (const pid of [polite.pid, stubborn.pid, child])
      await until(() => !isAlive(pid), `pid ${pid} to be gone`);
  } finally {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
