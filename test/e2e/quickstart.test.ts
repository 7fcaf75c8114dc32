/**
 * End to end: `weft up -f examples/quickstart` as a real process tree on loopback. Waits for the
 * ready line, sends requests through every hop with `weft request`, checks the identities the apps
 * saw, the reviews canary split, a default-deny 403 and an L7 (method) denial, then SIGINT: every
 * pid in pids.json is gone, and the state directory works for a second run.
 *
 * It uses the default trust domain's node addresses 127.0.10.1-2, so it cannot run beside another
 * `weft up` of the default trust domain (tests and the benchmark use their own trust domains).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEFT = join(ROOT, 'src/bin/weft.ts');

const alive = (pid: number) => {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startUp(stateDir: string): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [WEFT, 'up', '-f', 'examples/quickstart', '--nodes', '2', '--state-dir', stateDir],
    {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

function request(
  stateDir: string,
  args: string[],
): Promise<{ status: number; body: any; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [WEFT, 'request', '--state-dir', stateDir, '-o', 'json', ...args],
      { cwd: ROOT, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`weft request ${args.join(' ')} failed: ${stderr || err.message}`));
        resolve(JSON.parse(stdout) as { status: number; body: any; headers: Record<string, string> });
      },
    );
  });
}

const ID = (kind: 'sa' | 'agent', name: string) => `spiffe://cluster.local/ns/default/${kind}/${name}`;

void test('weft up runs the quickstart mesh end to end', { timeout: 170_000 }, async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'weft-e2e-'));
  let up = startUp(stateDir);
  let pids: number[] = [];
  try {
    const t0 = Date.now();
    await until(() => /mesh ready in/.test(up.out()) || up.child.exitCode !== null, 'the ready line', 60_000);
    assert.match(up.out(), /weft: mesh ready in [\d.]+s — 2 nodes, 9 workloads, 8 services/, up.err());
    console.log(
      `quickstart ready after ${Date.now() - t0} ms (wall, incl. process start); line: ${/mesh ready in \S+/.exec(up.out())?.[0]}`,
    );

    const pidsFile = JSON.parse(readFileSync(join(stateDir, 'pids.json'), 'utf8')) as {
      control: number;
      proxies: Record<string, number>;
      instances: Record<string, number>;
    };
    pids = [pidsFile.control, ...Object.values(pidsFile.proxies), ...Object.values(pidsFile.instances)];
    assert.equal(Object.keys(pidsFile.proxies).length, 2);
    assert.equal(Object.keys(pidsFile.instances).length, 9);
    assert.ok(pids.every((p) => typeof p === 'number' && alive(p)));

    // Every hop: traffic-gen → storefront → details, reviews (→ ratings), with verified identities.
    const page = await request(stateDir, ['--from', 'traffic-gen', 'http://storefront/']);
    assert.equal(page.status, 200);
    assert.equal(page.body.caller, ID('sa', 'traffic-gen'));
    assert.equal(page.body.details.status, 200);
    assert.equal(page.body.details.body.caller, ID('sa', 'storefront'));
    assert.equal(page.body.reviews.status, 200);
    assert.equal(page.body.reviews.body.caller, ID('sa', 'storefront'));

    // The canary: 80/10/10 over a bounded number of requests, and v2/v3 reach ratings as reviews.
    const counts: Record<string, number> = { v1: 0, v2: 0, v3: 0 };
    const N = 60;
    for (let i = 0; i < N; i++) {
      const r = await request(stateDir, ['--from', 'storefront', 'http://reviews.default:9080/reviews/1']);
      assert.equal(r.status, 200);
      counts[r.body.version as string]!++;
      if (r.body.version !== 'v1') assert.equal(r.body.rating.body.caller, ID('sa', 'reviews'));
    }
    // Binomial bounds (p=0.8, n=60: mean 48, sd 3.1): generous to stay deterministic-ish.
    assert.ok(counts.v1! >= 36 && counts.v1! <= 58, `v1 share ${JSON.stringify(counts)}`);
    assert.ok(counts.v2! + counts.v3! >= 2, `v2+v3 get traffic ${JSON.stringify(counts)}`);

    // The agent may read its tool (GET) but not write (POST), and default deny stops everything else.
    const read = await request(stateDir, ['--from', 'assistant', 'http://inventory/items']);
    assert.equal(read.status, 200);
    assert.equal(read.body.caller, ID('agent', 'assistant'));
    const write = await request(stateDir, [
      '--from',
      'assistant',
      '-d',
      '{"sku":"x"}',
      'http://inventory/items',
    ]);
    assert.equal(write.status, 403);
    const denied = await request(stateDir, ['--from', 'details', 'http://ratings/ratings/1']);
    assert.equal(denied.status, 403);

    // A second weft up on the same state dir is refused while this one runs.
    const second = startUp(stateDir);
    assert.notEqual(await second.exited, 0);
    assert.match(second.err(), /in use by pid \d+/);

    up.child.kill('SIGINT');
    assert.equal(await up.exited, 0, up.err());
    await until(() => pids.every((p) => !alive(p)), 'every process in pids.json to be gone', 10_000);

    // The state dir is reusable.
    up = startUp(stateDir);
    await until(
      () => /mesh ready in/.test(up.out()) || up.child.exitCode !== null,
      'the second ready line',
      60_000,
    );
    assert.match(up.out(), /mesh ready in/, up.err());
    const again = await request(stateDir, ['--from', 'storefront', 'http://details/details/1']);
    assert.equal(again.status, 200);
    const p2 = JSON.parse(readFileSync(join(stateDir, 'pids.json'), 'utf8')) as {
      control: number;
      proxies: Record<string, number>;
      instances: Record<string, number>;
    };
    pids = [p2.control, ...Object.values(p2.proxies), ...Object.values(p2.instances)];
    up.child.kill('SIGINT');
    assert.equal(await up.exited, 0);
    await until(() => pids.every((p) => !alive(p)), 'every process of the second run to be gone', 10_000);
    assert.equal(existsSync(join(stateDir, 'up.lock')), false);
  } finally {
    if (up.child.exitCode === null) {
      up.child.kill('SIGINT');
      await up.exited;
    }
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
