/**
 * Resilience through real proxies with real failing backends (issue 8): retries recover transient
 * 503s and connect failures from killed instances, stay within the retry budget when a service is
 * down, leave non-idempotent requests alone; per-try timeouts move on from a black-holed endpoint
 * and the request timeout answers 504; the circuit breaker refuses a bounded burst at once with
 * 503 + x-weft-overloaded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { InstanceEntry } from '../../src/api/index.ts';
import { seededRandom, startEchoServer } from '../../src/cli/echo.ts';
import type { EchoServer } from '../../src/cli/echo.ts';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, httpRoute, service, workload } from '../harness/resources.ts';
import { httpRequest } from '../harness/workloads.ts';

const TD = 'res-retry.test';
let mesh: Mesh;
const closers: (() => Promise<void> | void)[] = [];
const served = new Map<string, number>();
const echoByAddress = new Map<string, EchoServer>();

async function echo(
  inst: InstanceEntry,
  o: { failRatio?: number; status?: number; delayMs?: number; seed?: number } = {},
): Promise<EchoServer> {
  const server = await startEchoServer({
    listen: [{ host: inst.address, port: 8080 }],
    identity: {
      workload: inst.workload,
      namespace: inst.namespace,
      serviceAccount: inst.serviceAccount,
      node: inst.node,
      instance: inst.name,
    },
    failRatio: o.failRatio,
    status: o.status,
    delayMs: o.delayMs,
    random: seededRandom(o.seed ?? 1),
    log: () => served.set(inst.workload, (served.get(inst.workload) ?? 0) + 1),
  });
  closers.push(() => (echoByAddress.has(inst.address) ? server.close() : undefined));
  echoByAddress.set(inst.address, server);
  return server;
}

const WORKLOADS = ['flaky', 'noretry', 'down', 'dead', 'bh', 'slow', 'cb'];

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 61,
    resources: [
      workload('client', 'node-0'),
      ...WORKLOADS.map((w) => workload(w, 'node-1', { replicas: w === 'slow' || w === 'cb' ? 1 : 3 })),
      ...WORKLOADS.map((w) => service(w, [{ port: 8080 }])),
      // The same flaky backends without retries, to show what the caller sees without the policy.
      service('flaky-raw', [{ port: 8080 }], { app: 'flaky' }),
      httpRoute('flaky-raw', { name: 'flaky-raw' }, [
        { backendRefs: [{ name: 'flaky-raw', port: 8080 }], retry: { attempts: 0 } },
      ]),
      httpRoute('bh', { name: 'bh' }, [
        { backendRefs: [{ name: 'bh', port: 8080 }], timeouts: { request: '3s', backendRequest: '250ms' } },
      ]),
      httpRoute('slow', { name: 'slow' }, [
        { backendRefs: [{ name: 'slow', port: 8080 }], timeouts: { request: '300ms' } },
      ]),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'cb' },
        spec: { host: 'cb', trafficPolicy: { connectionPool: { http: { http2MaxRequests: 3 } } } },
      },
      allowFrom(TD, ['client']),
    ],
  });
  for (let i = 0; i < 3; i++) {
    await echo(mesh.instance('flaky', i), { failRatio: 0.3, seed: 11 + i });
    await echo(mesh.instance('down', i), { status: 503 });
    await echo(mesh.instance('dead', i));
  }
  await echo(mesh.instance('slow', 0), { delayMs: 1500 });
  await echo(mesh.instance('cb', 0), { delayMs: 500 });
  // bh: instance 0 answers; 1 and 2 accept connections and never say a word (a black hole).
  await echo(mesh.instance('bh', 0));
  for (const i of [1, 2]) {
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => hole.listen(8080, mesh.instance('bh', i).address, r));
    closers.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          hole.close(() => r());
        }),
    );
  }
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
});

const call = (svc: string, path = '/', opts: Parameters<typeof httpRequest>[2] = {}) =>
  httpRequest(mesh.capture('client-0', svc, 8080), path, opts);

async function metrics(node: string): Promise<string> {
  const p = mesh.proxies.find((x) => x.name === node)!;
  return (await fetch(`${p.admin}/metrics`)).text();
}

function counter(text: string, name: string, labels: string): number {
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name + '{') && line.includes(labels)) sum += Number(line.split(' ').pop());
  return sum;
}

test('retries recover transient 503s (30 % per instance): ≥ 95 % succeed, 70 % without', async () => {
  let ok = 0;
  let okRaw = 0;
  let attemptsSeen = 0;
  for (let i = 0; i < 150; i++) {
    const r = await call('flaky', `/?i=${i}`, { headers: { 'x-weft-debug': '1' } });
    if (r.status === 200) ok++;
    if (Number(r.headers['x-weft-attempts']) > 1) attemptsSeen++;
    if ((await call('flaky-raw', `/?i=${i}`)).status === 200) okRaw++;
  }
  // P(3 failures in a row) = 2.7 %: expect ~146; without retries Binomial(150, 0.7) ≈ 105 ± 6.
  assert.ok(ok >= 142, `with retries ${ok}/150 succeeded`);
  assert.ok(okRaw <= 125, `without retries ${okRaw}/150 succeeded`);
  assert.ok(attemptsSeen >= 20, `x-weft-attempts > 1 on ${attemptsSeen} responses`);
});

test('a killed instance (connection refused) is retried elsewhere, for POST too', async () => {
  const before = served.get('dead') ?? 0;
  await killInstance(mesh.instance('dead', 1));
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const post = i % 2 === 1;
    const r = await call('dead', '/', post ? { method: 'POST', body: 'x' } : {});
    statuses.push(r.status);
  }
  assert.deepEqual(
    statuses.filter((x) => x !== 200),
    [],
    'every request succeeded despite the dead instance',
  );
  assert.equal((served.get('dead') ?? 0) - before, 30);
});

/** Stop the echo server bound to `inst` (the test's stand-in for a killed process). */
async function killInstance(inst: InstanceEntry): Promise<void> {
  const s = echoByAddress.get(inst.address);
  assert.ok(s, `no echo on ${inst.address}`);
  await s.close();
  echoByAddress.delete(inst.address);
}

test('the retry budget caps retries when a service is down; POST is not retried', async () => {
  const before = served.get('down') ?? 0;
  const text0 = await metrics('node-0');
  const exhausted0 = counter(text0, 'weft_proxy_retries_total', 'result="budget_exhausted"');
  const N = 300;
  for (let b = 0; b < N / 30; b++) {
    const rs = await Promise.all(Array.from({ length: 30 }, () => call('down')));
    for (const r of rs) assert.equal(r.status, 503);
  }
  const retries = (served.get('down') ?? 0) - before - N;
  // Budget over 10 s: 10/s × 10 s + 20 % of requests = 160 (+ the earlier requests of this window).
  assert.ok(retries <= 175, `${retries} retries for ${N} requests (without a budget: ${2 * N})`);
  assert.ok(retries >= 60, `${retries} retries: the budget's minimum should allow more`);
  const exhausted = counter(await metrics('node-0'), 'weft_proxy_retries_total', 'result="budget_exhausted"');
  assert.ok(exhausted > exhausted0, 'budget exhaustion is counted');

  const beforePost = served.get('down') ?? 0;
  const r = await call('down', '/', { method: 'POST', body: 'payload' });
  assert.equal(r.status, 503);
  assert.equal((served.get('down') ?? 0) - beforePost, 1, 'POST reached the backend exactly once');
});

test('per-try timeout moves on from black-holed endpoints; the request still succeeds', async () => {
  const started = Date.now();
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await call('bh', `/?i=${i}`)).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
  // At least one try must have hit a hole and waited its 250 ms.
  assert.ok(Date.now() - started >= 250, 'a per-try timeout fired');
});

test('the request timeout answers 504 and frees the caller long before the backend answers', async () => {
  const started = Date.now();
  const r = await call('slow');
  const took = Date.now() - started;
  assert.equal(r.status, 504, r.body);
  assert.ok(took < 1200, `504 after ${took} ms (backend takes 1500 ms)`);
});

test('the circuit breaker refuses a burst beyond http2MaxRequests at once with 503 + x-weft-overloaded', async () => {
  const started = Date.now();
  const timed = await Promise.all(
    Array.from({ length: 10 }, () => call('cb').then((r) => ({ r, ms: Date.now() - started }))),
  );
  const ok = timed.filter((t) => t.r.status === 200);
  const refused = timed.filter((t) => t.r.status === 503);
  assert.equal(ok.length, 3, timed.map((t) => t.r.status).join());
  assert.equal(refused.length, 7);
  for (const t of refused) {
    assert.equal(t.r.headers['x-weft-overloaded'], 'requests');
    assert.ok(t.ms < 400, `overflow answered after ${t.ms} ms (backend takes 500 ms)`);
  }
});
