/**
 * Crash consistency of the SQLite store: a child applies large multi-document revisions in a loop
 * and is SIGKILLed at random moments (often mid-transaction). After each kill the store must hold
 * exactly one complete revision — the state whose checksum the child logged for that revision before
 * applying it — with contiguous revision numbers and an intact history (DESIGN.md: "no state is lost
 * on restart or crash"; SQLite atomic commit, https://www.sqlite.org/atomiccommit.html).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore, storeFile } from '../../src/control/store/index.ts';
import { stateChecksum } from '../fixtures/store/crash-model.ts';

const CHILD = join(import.meta.dirname, '..', 'fixtures', 'store', 'crash-child.ts');
const KILLS = 10;

function readLog(file: string): Map<number, string> {
  const out = new Map<number, string>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\d+) ([0-9a-f]{64})$/.exec(line);
    if (!m) continue;
    const rev = Number(m[1]);
    const prev = out.get(rev);
    // A revision logged, killed before commit, and redone after a restart must be the same change.
    if (prev !== undefined)
      assert.equal(m[2], prev, `revision ${rev} was logged twice with different content`);
    out.set(rev, m[2]!);
  }
  return out;
}

void test('the SQLite store holds exactly one complete revision after SIGKILL at random moments', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-crash-'));
  const log = join(dir, 'checksums.log');
  let midTransaction = 0;
  let lastRevision = 0;
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const child = spawn(process.execPath, [CHILD, dir, log], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      try {
        // Wait until the child has committed a revision of its own and started the next one (a
        // condition, not a sleep), then kill it after a random delay: mostly mid-transaction,
        // sometimes between revisions.
        await new Promise<void>((resolve, reject) => {
          let buf = '';
          child.stdout.on('data', (d: Buffer) => {
            buf += d.toString();
            const at = buf.indexOf('committed');
            if (at >= 0 && buf.indexOf('applying', at) >= 0) resolve();
          });
          child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
        });
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 25)));
      } finally {
        child.kill('SIGKILL');
      }
      const { signal } = await exited;
      assert.equal(signal, 'SIGKILL', stderr);

      const logged = readLog(log);
      const store = openSqliteStore({ file: storeFile(dir) });
      try {
        const rev = await store.revision();
        assert.ok(rev > lastRevision, `revision advanced (${lastRevision} → ${rev})`);
        lastRevision = rev;
        const maxLogged = Math.max(...logged.keys());
        assert.ok(maxLogged === rev || maxLogged === rev + 1, `logged up to ${maxLogged}, committed ${rev}`);
        if (maxLogged === rev + 1) midTransaction++;

        assert.equal(stateChecksum(await store.list()), logged.get(rev), `state equals revision ${rev}`);
        const history = await store.history({ limit: 10_000 });
        assert.deepEqual(
          history.map((h) => h.revision),
          Array.from({ length: rev }, (_, i) => rev - i),
          'revision numbers are contiguous',
        );
        for (const back of [rev - 1, Math.max(1, Math.floor(rev / 2))]) {
          if (back < 1) continue;
          assert.equal(
            stateChecksum(await store.revisionState(back)),
            logged.get(back),
            `state as of ${back}`,
          );
        }
      } finally {
        await store.close();
      }
    }
    t.diagnostic(`${KILLS} kills, ${midTransaction} between logging and commit, ${lastRevision} revisions`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
