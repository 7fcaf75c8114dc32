/**
 * Global rate limiting against a real redis-server (Debian's, installed by .ci/run): two limiter
 * instances — standing in for two proxies — share one server and together honour one limit; then
 * the server is killed mid-test and each policy's failureMode (open / closed) decides.
 * The server runs on a free loopback port with persistence off and is stopped by pid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { systemClock } from '../../src/lib/index.ts';
import { RateLimiter, RedisGcraStore, RespClient, RespError } from '../../src/proxy/ratelimit/index.ts';
import type { RateLimitPolicySpec } from '../../src/api/index.ts';

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

async function startRedis(): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.resume();
  proc.stderr!.resume();
  // Wait for PING to answer (bounded: 200 tries × 25 ms).
  const probe = new RespClient({
    host: '127.0.0.1',
    port,
    clock: systemClock,
    timeoutMs: 200,
    random: () => 0,
  });
  try {
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      const ok = await probe.command(['PING']).then(
        (r) => r === 'PONG',
        () => false,
      );
      if (ok) return { proc, port };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('redis-server did not answer PING');
  } finally {
    probe.close();
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  process.kill(proc.pid!, 'SIGKILL');
  await exited;
}

const spec = (failureMode: 'open' | 'closed', requests: number): RateLimitPolicySpec => ({
  targetRef: { group: '', kind: 'Service', name: 'reviews' },
  mode: 'global',
  failureMode,
  rules: [
    { name: 'per-caller', descriptors: [{ key: 'SourceIdentity' }], limit: { requests, unit: 'minute' } },
  ],
});

const req = (id: string) => ({
  sourceIdentity: id,
  path: '/',
  route: '',
  header: () => undefined,
});

void test('two proxies share one global limit through Redis; killing Redis honours failureMode', async () => {
  const { proc, port } = await startRedis();
  const clients: RespClient[] = [];
  const client = () => {
    const c = new RespClient({ host: '127.0.0.1', port, clock: systemClock, timeoutMs: 500 });
    clients.push(c);
    return c;
  };
  try {
    const storeA = new RedisGcraStore(client());
    const storeB = new RedisGcraStore(client());
    const a = new RateLimiter('shop/limits', spec('open', 10), systemClock, storeA);
    const b = new RateLimiter('shop/limits', spec('closed', 10), systemClock, storeB);
    assert.equal(a.mode, 'global');

    // 30 requests alternating between the two proxies: exactly 10 pass (one minute's budget).
    const caller = 'spiffe://cluster.local/ns/shop/sa/productpage';
    let allowed = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await (i % 2 === 0 ? a : b).check(req(caller));
      statuses.push(r.status);
      if (r.allowed) allowed++;
      else {
        const h = new Map(r.headers);
        assert.equal(h.get('x-ratelimit-limit'), '10');
        assert.equal(h.get('x-ratelimit-remaining'), '0');
        assert.ok(
          Number(h.get('retry-after')) >= 1 && Number(h.get('retry-after')) <= 6,
          h.get('retry-after'),
        );
      }
    }
    assert.equal(allowed, 10, statuses.join(','));
    assert.ok(statuses.slice(10).every((s) => s === 429));
    assert.equal(a.stats.allowed + b.stats.allowed, 10);
    assert.ok(storeA.scriptLoads + storeB.scriptLoads >= 1, 'EVALSHA fell back to EVAL at least once');
    // Another caller has its own counter.
    assert.equal((await a.check(req('spiffe://cluster.local/ns/shop/sa/other'))).allowed, true);

    // The script cache flushed: EVALSHA answers NOSCRIPT, the store falls back to EVAL.
    const admin = client();
    assert.equal(await admin.command(['SCRIPT', 'FLUSH']), 'OK');
    const before = storeA.scriptLoads;
    assert.equal((await a.check(req('spiffe://cluster.local/ns/shop/sa/third'))).allowed, true);
    assert.equal(storeA.scriptLoads, before + 1);
    assert.ok((await admin.command(['BOGUS'])) instanceof RespError);

    // Redis dies mid-test.
    await stop(proc);
    const open = await a.check(req('spiffe://cluster.local/ns/shop/sa/fourth'));
    assert.equal(open.allowed, true, 'failureMode open lets the request through');
    assert.equal(open.storeFailure, true);
    const closed = await b.check(req('spiffe://cluster.local/ns/shop/sa/fourth'));
    assert.equal(closed.allowed, false, 'failureMode closed refuses');
    assert.equal(closed.status, 429);
    assert.equal(closed.storeFailure, true);
    assert.equal(a.stats.failedOpen, 1);
    assert.equal(b.stats.failedClosed, 1);
    assert.equal(a.stats.storeErrors + b.stats.storeErrors, 2);
  } finally {
    for (const c of clients) c.close();
    await stop(proc);
  }
});
