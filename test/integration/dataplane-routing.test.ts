/**
 * Data plane conformance, routing: every HTTPRoute match type and filter the mesh supports, rule
 * precedence, weighted backends, mirroring, timeouts, unmatched requests, and GRPCRoute method
 * matching, through real proxies (Gateway API v1 HTTPRoute/GRPCRoute semantics; GAMMA attachment to
 * a Service).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMesh, waitFor } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, grpcRoute, httpRoute, service, workload } from '../harness/resources.ts';
import { grpcEchoClient, h2cSession, httpRequest, startEcho, startGrpcEcho } from '../harness/workloads.ts';
import type { EchoWorkload } from '../harness/workloads.ts';

const TD = 'dp-routing.test';
let mesh: Mesh;
const closers: (() => Promise<void>)[] = [];
let shadow: EchoWorkload;

const v1 = { name: 'echo-v1', port: 8080 };
const v2 = { name: 'echo-v2', port: 8080 };
const prefix = (value: string) => ({ path: { type: 'PathPrefix', value } });
const exact = (value: string) => ({ path: { type: 'Exact', value } });

const routes = [
  httpRoute('echo-routes', { name: 'echo', port: 8080 }, [
    {
      matches: [exact('/exact')],
      filters: [
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: { set: [{ name: 'x-resp', value: 'r1' }] },
        },
      ],
      backendRefs: [v1],
    },
    {
      matches: [prefix('/prefix')],
      filters: [
        {
          type: 'RequestHeaderModifier',
          requestHeaderModifier: {
            set: [{ name: 'x-set', value: 'set' }],
            add: [{ name: 'x-added', value: 'yes' }],
            remove: ['x-remove-me'],
          },
        },
      ],
      backendRefs: [v2],
    },
    { matches: [{ path: { type: 'RegularExpression', value: '/re/[0-9]+' } }], backendRefs: [v2] },
    {
      matches: [{ ...exact('/hdr'), headers: [{ name: 'x-version', value: 'v2' }] }],
      backendRefs: [v2],
    },
    { matches: [exact('/hdr')], backendRefs: [v1] },
    { matches: [{ ...exact('/q'), queryParams: [{ name: 'flavor', value: 'v2' }] }], backendRefs: [v2] },
    { matches: [exact('/q')], backendRefs: [v1] },
    { matches: [{ ...exact('/m'), method: 'POST' }], backendRefs: [v2] },
    { matches: [{ ...exact('/m'), method: 'GET' }], backendRefs: [v1] },
  ]),
  // Gateway API allows at most 16 rules per route; a second route on the same parent merges in.
  httpRoute('echo-routes-b', { name: 'echo', port: 8080 }, [
    // Precedence: the longer prefix wins whatever the rule order.
    { matches: [prefix('/prec')], backendRefs: [v1] },
    { matches: [prefix('/prec/deeper')], backendRefs: [v2] },
    {
      matches: [prefix('/old')],
      filters: [
        {
          type: 'RequestRedirect',
          requestRedirect: {
            path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' },
            statusCode: 301,
          },
        },
      ],
    },
    {
      matches: [prefix('/rw-full')],
      filters: [
        {
          type: 'URLRewrite',
          urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/replaced' } },
        },
      ],
      backendRefs: [v1],
    },
    {
      matches: [prefix('/rw-prefix')],
      filters: [
        {
          type: 'URLRewrite',
          urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/api/v2' } },
        },
      ],
      backendRefs: [v1],
    },
    {
      matches: [prefix('/split')],
      backendRefs: [
        { ...v1, weight: 3 },
        { ...v2, weight: 1 },
      ],
    },
    {
      matches: [prefix('/mirror-half')],
      filters: [
        { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 8080 }, percent: 50 } },
      ],
      backendRefs: [v1],
    },
    {
      matches: [prefix('/mirror')],
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 8080 } } }],
      backendRefs: [v1],
    },
    {
      matches: [prefix('/slow-backend')],
      timeouts: { request: '10s', backendRequest: '300ms' },
      backendRefs: [v1],
    },
    { matches: [prefix('/slow')], timeouts: { request: '300ms' }, backendRefs: [v1] },
  ]),
  grpcRoute('grpc-routes', { name: 'grpc', port: 9090 }, [
    {
      matches: [{ method: { type: 'Exact', service: 'weft.echo.v1.Echo', method: 'EchoStream' } }],
      backendRefs: [{ name: 'grpc-v2', port: 9090 }],
    },
    {
      matches: [{ method: { type: 'Exact', service: 'weft.echo.v1.Echo', method: 'Echo' } }],
      backendRefs: [{ name: 'grpc-v1', port: 9090 }],
    },
  ]),
];

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 32,
    resources: [
      workload('client', 'node-0'),
      workload('echo-v1', 'node-1', { labels: { app: 'echo-v1', tier: 'echo' } }),
      workload('echo-v2', 'node-1', { labels: { app: 'echo-v2', tier: 'echo' } }),
      workload('shadow', 'node-1'),
      workload('grpc-v1', 'node-1', { labels: { app: 'grpc-v1', tier: 'grpc' } }),
      workload('grpc-v2', 'node-1', { labels: { app: 'grpc-v2', tier: 'grpc' } }),
      service('echo', [{ port: 8080 }], { tier: 'echo' }),
      service('echo-v1', [{ port: 8080 }]),
      service('echo-v2', [{ port: 8080 }]),
      service('shadow', [{ port: 8080 }]),
      service('grpc', [{ port: 9090, appProtocol: 'grpc' }], { tier: 'grpc' }),
      service('grpc-v1', [{ port: 9090, appProtocol: 'grpc' }]),
      service('grpc-v2', [{ port: 9090, appProtocol: 'grpc' }]),
      allowFrom(TD, ['client']),
      ...routes,
    ],
  });
  for (const w of ['echo-v1', 'echo-v2']) {
    const e = await startEcho(mesh.instance(w), 8080);
    closers.push(() => e.close());
  }
  shadow = await startEcho(mesh.instance('shadow'), 8080);
  closers.push(() => shadow.close());
  for (const w of ['grpc-v1', 'grpc-v2']) {
    const g = await startGrpcEcho(mesh.instance(w), 9090);
    closers.push(() => g.close());
  }
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
});

const target = () => mesh.capture('client-0', 'echo', 8080);
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  httpRequest(target(), path, { headers, method });

test('path Exact, PathPrefix and RegularExpression pick their rules', async () => {
  assert.equal((await get('/exact')).json().instance, 'echo-v1-0');
  assert.equal((await get('/exact/more')).status, 404, 'Exact does not match a longer path');
  assert.equal((await get('/prefix/a/b')).json().instance, 'echo-v2-0');
  assert.equal((await get('/prefixnot')).status, 404, 'PathPrefix matches whole segments only');
  assert.equal((await get('/re/123')).json().instance, 'echo-v2-0');
  assert.equal((await get('/re/12a')).status, 404, 'RegularExpression matches the whole path');
});

test('header, query and method matches', async () => {
  assert.equal((await get('/hdr', { 'x-version': 'v2' })).json().instance, 'echo-v2-0');
  assert.equal((await get('/hdr', { 'x-version': 'v3' })).json().instance, 'echo-v1-0');
  assert.equal((await get('/q?flavor=v2')).json().instance, 'echo-v2-0');
  assert.equal((await get('/q?flavor=v1')).json().instance, 'echo-v1-0');
  assert.equal((await get('/m', {}, 'POST')).json().instance, 'echo-v2-0');
  assert.equal((await get('/m')).json().instance, 'echo-v1-0');
  assert.equal((await get('/m', {}, 'DELETE')).status, 404);
});

test('precedence: the longest matching prefix wins regardless of rule order', async () => {
  assert.equal((await get('/prec/deeper/x')).json().instance, 'echo-v2-0');
  assert.equal((await get('/prec/shallow')).json().instance, 'echo-v1-0');
});

test('RequestHeaderModifier and ResponseHeaderModifier', async () => {
  const r = await get('/prefix/h', { 'x-remove-me': '1', 'x-set': 'old', 'x-added': 'first' });
  const h = r.json().headers;
  assert.equal(h['x-set'], 'set');
  assert.equal(h['x-remove-me'], undefined);
  assert.match(String(h['x-added']), /first.*yes/);
  const e = await get('/exact');
  assert.equal(e.headers['x-resp'], 'r1');
});

test('RequestRedirect answers locally with the rewritten location', async () => {
  const r = await get('/old/page?x=1');
  assert.equal(r.status, 301);
  assert.match(String(r.headers.location), /^http:\/\/[^/]+\/new\/page\?x=1$/);
});

test('URLRewrite ReplaceFullPath and ReplacePrefixMatch', async () => {
  assert.equal((await get('/rw-full/anything')).json().path, '/replaced');
  const p = (await get('/rw-prefix/a/b?k=v')).json();
  assert.equal(p.path, '/api/v2/a/b');
  assert.deepEqual(p.query, { k: 'v' });
});

test('weighted backendRefs split 3:1 within tolerance over 400 requests', async () => {
  const counts = new Map<string, number>();
  const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 8 });
  try {
    for (let batch = 0; batch < 20; batch++) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, () => httpRequest(target(), '/split', { agent })),
      );
      for (const r of rs) counts.set(r.json().instance, (counts.get(r.json().instance) ?? 0) + 1);
    }
  } finally {
    agent.destroy();
  }
  const a = counts.get('echo-v1-0') ?? 0;
  const b = counts.get('echo-v2-0') ?? 0;
  assert.equal(a + b, 400);
  // Binomial(400, 0.75): sd ≈ 8.7; ±45 is > 5 sd.
  assert.ok(Math.abs(a - 300) <= 45, `v1 got ${a} of 400, expected ~300`);
});

test('RequestMirror: the mirror gets a copy, the caller gets the primary answer', async () => {
  const before = shadow.served.length;
  const r = await get('/mirror/one');
  assert.equal(r.status, 200);
  assert.equal(r.json().instance, 'echo-v1-0');
  await waitFor('the mirror to receive the copy', () =>
    shadow.served.slice(before).some((x) => x.path === '/mirror/one'),
  );
});

test('RequestMirror percent: about half of 200 requests are mirrored', async () => {
  const before = shadow.served.length;
  for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 20 }, () => get('/mirror-half')));
  // Mirrors are fire and forget: wait until the count stops moving.
  let last = -1;
  await waitFor(
    'mirrored copies to settle',
    () => {
      const n = shadow.served.length;
      const stable = n === last;
      last = n;
      return stable;
    },
    10_000,
    200,
  );
  const mirrored = shadow.served.slice(before).filter((x) => x.path === '/mirror-half').length;
  // Binomial(200, 0.5): sd ≈ 7; ±40 is > 5 sd.
  assert.ok(Math.abs(mirrored - 100) <= 40, `mirrored ${mirrored} of 200`);
});

test('timeouts.request and timeouts.backendRequest answer 504 when exceeded', async () => {
  assert.equal((await get('/slow?delay=0')).status, 200);
  const t0 = Date.now();
  const r = await get('/slow?delay=3000');
  assert.equal(r.status, 504, r.body);
  assert.ok(Date.now() - t0 < 2500, 'the timeout fired long before the backend answered');
  assert.equal((await get('/slow-backend?delay=3000')).status, 504);
  assert.equal((await get('/slow-backend?delay=10')).status, 200);
  const s = h2cSession(target());
  try {
    assert.equal((await s.request('/slow?delay=3000')).status, 504);
  } finally {
    s.close();
  }
});

test('a request no rule matches gets 404', async () => {
  const r = await get('/nothing-here');
  assert.equal(r.status, 404);
  assert.equal(r.headers['x-weft-local-reply'], 'true');
});

test('GRPCRoute matches on service and method', async () => {
  const { host, port } = mesh.capture('client-0', 'grpc', 9090);
  const c = grpcEchoClient(host, port);
  try {
    const u = await c.unary('u');
    assert.equal(u.response.instance, 'grpc-v1-0');
    const s = await c.stream('s', 3);
    assert.deepEqual(
      s.responses.map((r) => r.instance),
      ['grpc-v2-0', 'grpc-v2-0', 'grpc-v2-0'],
    );
  } finally {
    c.close();
  }
});
