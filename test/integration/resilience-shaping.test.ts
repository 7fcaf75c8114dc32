/**
 * Fault injection and rate limiting through real proxies (issue 8): a FaultInjection referenced by
 * an HTTPRoute rule aborts and delays its percentages of requests (within statistical tolerance),
 * flagged with x-weft-fault and counted; a GRPCRoute rule aborts with a gRPC status; a dangling
 * reference answers 500. RateLimitPolicy: a local limit at the destination proxy, and a global
 * limit shared by two destination proxies through one real redis-server, which is then killed to
 * show failureMode closed (429) and open (allowed), both counted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { startMesh, waitFor } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, grpcRoute, httpRoute, service, workload } from '../harness/resources.ts';
import { grpcEchoClient, httpRequest, startEcho, startGrpcEcho } from '../harness/workloads.ts';

const TD = 'res-shaping.test';
let mesh: Mesh;
let redis: ChildProcess | undefined;
let redisPort = 0;
const closers: (() => Promise<void>)[] = [];

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

async function startRedis(): Promise<void> {
  redisPort = await freePort();
  redis = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitFor(
    'redis-server listening',
    () =>
      new Promise<boolean>((resolve) => {
        const c = net.connect(redisPort, '127.0.0.1');
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      }),
    10_000,
  );
}

async function killRedis(): Promise<void> {
  const p = redis;
  redis = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = once(p, 'exit');
  process.kill(p.pid!, 'SIGKILL');
  await exited;
}

const fault = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'FaultInjection',
  metadata: { name },
  spec,
});
const extRef = (name: string) => ({
  type: 'ExtensionRef',
  extensionRef: { group: 'weft.dev', kind: 'FaultInjection', name },
});
const rateLimit = (name: string, target: string, spec: Record<string, unknown>) => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name },
  spec: { targetRef: { group: '', kind: 'Service', name: target }, ...spec },
});
const perCaller = (requests: number) => [
  { name: 'per-caller', descriptors: [{ key: 'SourceIdentity' }], limit: { requests, unit: 'minute' } },
];

before(async () => {
  await startRedis();
  const address = `127.0.0.1:${redisPort}`;
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 63,
    nodes: ['node-0', 'node-1', 'node-2'],
    resources: [
      workload('client', 'node-0'),
      workload('be', 'node-1'),
      workload('gbe', 'node-1'),
      // Two instances on two nodes: two destination proxies share the global limit.
      workload('glob', 'node-1'),
      workload('glob2', 'node-2', { labels: { app: 'glob' } }),
      service('aborts', [{ port: 8080 }], { app: 'be' }),
      service('delays', [{ port: 8080 }], { app: 'be' }),
      service('dangling', [{ port: 8080 }], { app: 'be' }),
      service('grpc', [{ port: 9090, appProtocol: 'grpc' }], { app: 'gbe' }),
      service('local-rl', [{ port: 8080 }], { app: 'be' }),
      service('global-closed', [{ port: 8080 }], { app: 'glob' }),
      service('global-open', [{ port: 8080 }], { app: 'glob' }),
      fault('abort-25', { abort: { httpStatus: 503, percentage: 25 } }),
      fault('delay-50', { delay: { fixedDelay: '150ms', percentage: 50 } }),
      fault('grpc-unavailable', { abort: { grpcStatus: 'UNAVAILABLE', percentage: 100 } }),
      httpRoute('aborts', { name: 'aborts' }, [
        { backendRefs: [{ name: 'aborts', port: 8080 }], filters: [extRef('abort-25')] },
      ]),
      httpRoute('delays', { name: 'delays' }, [
        { backendRefs: [{ name: 'delays', port: 8080 }], filters: [extRef('delay-50')] },
      ]),
      httpRoute('dangling', { name: 'dangling' }, [
        { backendRefs: [{ name: 'dangling', port: 8080 }], filters: [extRef('no-such-fault')] },
      ]),
      grpcRoute('grpc', { name: 'grpc' }, [
        {
          matches: [{ method: { service: 'weft.echo.v1.Echo', method: 'Echo' } }],
          backendRefs: [{ name: 'grpc', port: 9090 }],
          filters: [extRef('grpc-unavailable')],
        },
      ]),
      rateLimit('local', 'local-rl', { rules: perCaller(5) }),
      rateLimit('gclosed', 'global-closed', {
        mode: 'global',
        failureMode: 'closed',
        redis: { address },
        rules: perCaller(10),
      }),
      rateLimit('gopen', 'global-open', {
        mode: 'global',
        failureMode: 'open',
        redis: { address },
        rules: perCaller(1000),
      }),
      allowFrom(TD, ['client']),
    ],
  });
  for (const [w, i] of [
    ['be', 0],
    ['glob', 0],
    ['glob2', 0],
  ] as const) {
    const e = await startEcho(mesh.instance(w, i), 8080);
    closers.push(() => e.close());
  }
  const g = await startGrpcEcho(mesh.instance('gbe', 0), 9090);
  closers.push(() => g.close());
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
  await killRedis();
});

const call = (svc: string, path = '/', headers: Record<string, string> = {}) =>
  httpRequest(mesh.capture('client-0', svc, 8080), path, { headers });

async function metricsOf(node: string): Promise<string> {
  const p = mesh.proxies.find((x) => x.name === node)!;
  return (await fetch(`${p.admin}/metrics`)).text();
}

function counter(text: string, name: string, labels: string): number {
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name + '{') && line.includes(labels)) sum += Number(line.split(' ').pop());
  return sum;
}

test('fault abort: 25 % of 400 requests answered 503 with x-weft-fault, not retried, counted', async () => {
  let aborted = 0;
  for (let b = 0; b < 20; b++) {
    const rs = await Promise.all(Array.from({ length: 20 }, () => call('aborts')));
    for (const r of rs) {
      if (r.status === 503) {
        assert.equal(r.headers['x-weft-fault'], 'abort');
        aborted++;
      } else assert.equal(r.status, 200);
    }
  }
  // Binomial(400, 0.25): mean 100, sd 8.7; ±40 is > 4.5 sd.
  assert.ok(aborted >= 60 && aborted <= 140, `${aborted} of 400 aborted`);
  const m = await metricsOf('node-0');
  assert.equal(counter(m, 'weft_proxy_faults_injected_total', 'kind="abort"'), aborted);
});

test('fault delay: 50 % of 60 requests held 150 ms and flagged', async () => {
  let delayed = 0;
  const rs = await Promise.all(
    Array.from({ length: 60 }, async () => {
      const t0 = Date.now();
      const r = await call('delays');
      return { r, ms: Date.now() - t0 };
    }),
  );
  for (const { r, ms } of rs) {
    assert.equal(r.status, 200);
    if (r.headers['x-weft-fault'] === 'delay') {
      delayed++;
      assert.ok(ms >= 145, `a delayed request took ${ms} ms`);
    }
  }
  // Binomial(60, 0.5): mean 30, sd 3.9.
  assert.ok(delayed >= 12 && delayed <= 48, `${delayed} of 60 delayed`);
});

test('a rule naming a FaultInjection that does not exist answers 500 (Gateway API ExtensionRef)', async () => {
  const r = await call('dangling');
  assert.equal(r.status, 500);
  assert.match(r.body, /no-such-fault/);
});

test('fault abort on a GRPCRoute answers the gRPC status', async () => {
  const client = grpcEchoClient(mesh.capture('client-0', 'grpc', 9090).host, 9090);
  try {
    await assert.rejects(client.unary('hi'), (err: { code?: number }) => err.code === 14);
  } finally {
    client.close();
  }
});

test('local rate limit: 5 per minute per caller, then 429 with retry-after and x-ratelimit-*', async () => {
  const rs = [];
  for (let i = 0; i < 8; i++) rs.push(await call('local-rl'));
  assert.deepEqual(
    rs.map((r) => r.status),
    [200, 200, 200, 200, 200, 429, 429, 429],
  );
  assert.equal(rs[0]!.headers['x-ratelimit-limit'], '5');
  assert.equal(rs[0]!.headers['x-ratelimit-remaining'], '4');
  assert.equal(rs[5]!.headers['x-ratelimit-remaining'], '0');
  assert.ok(Number(rs[5]!.headers['retry-after']) >= 1);
});

test('global limit: two destination proxies share one Redis counter; killing Redis honours failureMode', async () => {
  const byNode = new Map<string, number>();
  let allowed = 0;
  for (let i = 0; i < 30; i++) {
    const r = await call('global-closed');
    if (r.status === 200) {
      allowed++;
      const node = r.json().node;
      byNode.set(node, (byNode.get(node) ?? 0) + 1);
    } else assert.equal(r.status, 429);
  }
  assert.equal(allowed, 10, 'exactly the shared limit passed');
  assert.equal(byNode.size, 2, `both destination proxies served: ${[...byNode.keys()].join()}`);

  await killRedis();
  const closed = await call('global-closed');
  assert.equal(closed.status, 429);
  assert.equal(closed.headers['retry-after'], '1');
  const open = await call('global-open');
  assert.equal(open.status, 200);
  let failedClosed = 0;
  let failedOpen = 0;
  for (const node of ['node-1', 'node-2']) {
    const m = await metricsOf(node);
    failedClosed += counter(m, 'weft_proxy_ratelimit_total', 'result="failed_closed"');
    failedOpen += counter(m, 'weft_proxy_ratelimit_total', 'result="failed_open"');
  }
  assert.ok(failedClosed >= 1 && failedOpen >= 1, `failed_closed ${failedClosed}, failed_open ${failedOpen}`);
});
