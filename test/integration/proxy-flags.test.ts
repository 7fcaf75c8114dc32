/**
 * `weft proxy` restarts itself with the proxy's V8 flags (src/bin/proxy-flags.ts): whoever starts it
 * gets one process, with the same pid, running with the flags — unless the operator sized the heap.
 * Linux only (reads /proc/<pid>/cmdline).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_NODE_FLAGS } from '../../src/bin/proxy-flags.ts';

const WEFT = join(import.meta.dirname, '..', '..', 'src', 'bin', 'weft.ts');
const skip = !existsSync('/proc/self/cmdline') || typeof process.execve !== 'function';

/** Start a proxy whose control plane is unreachable (it keeps retrying), return its command line. */
async function proxyCommandLine(env: NodeJS.ProcessEnv): Promise<{ pid: number; cmdline: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-proxy-flags-'));
  const tokenFile = join(dir, 'join-token');
  writeFileSync(tokenFile, 'not-a-real-token\n');
  const child = spawn(
    process.execPath,
    [WEFT, 'proxy', '--node', 'n1', '--control', 'http://127.0.0.1:9', '--join-token-file', tokenFile],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.resume();
    const deadline = Date.now() + 30_000;
    while (!/admin http:\/\//.test(out)) {
      if (child.exitCode !== null) throw new Error(`weft proxy exited with ${child.exitCode}: ${out}`);
      if (Date.now() > deadline) throw new Error(`weft proxy did not start within 30 s: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid: child.pid!, cmdline };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

function envWithout(name: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[name];
  return env;
}

test('weft proxy runs with the proxy flags, in the process that was started', { skip }, async () => {
  const { cmdline } = await proxyCommandLine(envWithout('NODE_OPTIONS'));
  // The pid the parent knows now runs node <flags> weft.ts proxy …: the restart kept it.
  for (const { flag } of PROXY_NODE_FLAGS)
    assert.ok(cmdline.includes(flag), `${flag} in ${cmdline.join(' ')}`);
  assert.equal(cmdline.filter((a) => a === WEFT).length, 1);
  assert.deepEqual(cmdline.slice(cmdline.indexOf(WEFT) + 1, cmdline.indexOf(WEFT) + 4), [
    'proxy',
    '--node',
    'n1',
  ]);
});

test('weft proxy keeps the heap sizing the operator chose in NODE_OPTIONS', { skip }, async () => {
  const { cmdline } = await proxyCommandLine({ ...process.env, NODE_OPTIONS: '--max-semi-space-size=4' });
  assert.ok(!cmdline.some((a) => a.startsWith('--max-semi-space-size')), cmdline.join(' '));
});
