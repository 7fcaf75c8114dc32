/**
 * Data plane conformance, protocols and admin: HTTP/1.1, HTTP/2 with prior knowledge, gRPC (unary
 * and server streaming, with a grpc-js client and server, trailers intact) and a WebSocket upgrade
 * cross a real mesh (control + two proxy processes); a service without routes reaches its endpoints;
 * the admin endpoints tell the truth (ready, config without private keys, certs, metrics by source,
 * destination and code).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, service, workload } from '../harness/resources.ts';
import { grpcEchoClient, h2cSession, httpRequest, startEcho, startGrpcEcho } from '../harness/workloads.ts';

const TD = 'dp-protocols.test';
let mesh: Mesh;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 31,
    resources: [
      workload('client', 'node-0'),
      workload('echo', 'node-1'),
      workload('grpc', 'node-1'),
      service('echo', [{ port: 8080 }]),
      service('grpc', [{ port: 9090, appProtocol: 'grpc' }]),
      allowFrom(TD, ['client']),
    ],
  });
  const echo = await startEcho(mesh.instance('echo'), 8080);
  closers.push(() => echo.close());
  const grpcServer = await startGrpcEcho(mesh.instance('grpc'), 9090);
  closers.push(() => grpcServer.close());
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
});

test('HTTP/1.1 crosses the mesh; a service without routes reaches its endpoint; XFCC names the caller', async () => {
  const res = await httpRequest(mesh.capture('client-0', 'echo', 8080), '/hello?x=1', {
    headers: { 'x-forwarded-client-cert': `URI=spiffe://${TD}/ns/default/sa/spoofed` },
  });
  assert.equal(res.status, 200, res.body);
  const a = res.json();
  assert.equal(a.protocol, 'HTTP/1.1');
  assert.equal(a.path, '/hello');
  assert.deepEqual(a.query, { x: '1' });
  assert.equal(a.instance, 'echo-0');
  assert.equal(a.caller, `spiffe://${TD}/ns/default/sa/client`);
  assert.equal(a.callerBy, `spiffe://${TD}/ns/default/sa/echo`);
  assert.equal(
    a.headers['x-forwarded-client-cert'],
    `By=spiffe://${TD}/ns/default/sa/echo;URI=spiffe://${TD}/ns/default/sa/client`,
  );
});

test('HTTP/1.1 request bodies are carried', async () => {
  const body = 'x'.repeat(100_000);
  const res = await httpRequest(mesh.capture('client-0', 'echo', 8080), '/upload', {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.json().body, body);
});

test('HTTP/2 with prior knowledge (h2c) crosses the mesh, several streams on one connection', async () => {
  const s = h2cSession(mesh.capture('client-0', 'echo', 8080));
  try {
    const answers = await Promise.all([1, 2, 3].map((i) => s.request(`/h2/${i}`)));
    for (const [i, r] of answers.entries()) {
      assert.equal(r.status, 200, r.body);
      const a = r.json();
      assert.equal(a.protocol, 'HTTP/2');
      assert.equal(a.path, `/h2/${i + 1}`);
      assert.equal(a.caller, `spiffe://${TD}/ns/default/sa/client`);
    }
  } finally {
    s.close();
  }
});

test('gRPC unary through the mesh with grpc-js on both ends: response, trailers, caller', async () => {
  const { host, port } = mesh.capture('client-0', 'grpc', 9090);
  const c = grpcEchoClient(host, port);
  try {
    const { response, trailers } = await c.unary('hi', { 'x-meta': 'm1' });
    assert.equal(response.message, 'hi');
    assert.equal(response.instance, 'grpc-0');
    assert.equal(response.path, '/weft.echo.v1.Echo/Echo');
    assert.equal(response.caller, `spiffe://${TD}/ns/default/sa/client`);
    assert.equal(response.metadata['x-meta'], 'm1');
    assert.equal(trailers['x-trailer-check'], 'unary-hi');
  } finally {
    c.close();
  }
});

test('gRPC server streaming keeps every message in order and the trailers', async () => {
  const { host, port } = mesh.capture('client-0', 'grpc', 9090);
  const c = grpcEchoClient(host, port);
  try {
    const { responses, trailers } = await c.stream('s', 50);
    assert.equal(responses.length, 50);
    assert.deepEqual(
      responses.map((r) => r.index),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(trailers['x-trailer-check'], 'stream-50');
  } finally {
    c.close();
  }
});

test('gRPC error status and message cross the mesh unchanged', async () => {
  const { host, port } = mesh.capture('client-0', 'grpc', 9090);
  const c = grpcEchoClient(host, port);
  try {
    await assert.rejects(c.unary('fail'), (err: { code: number; details: string }) => {
      assert.equal(err.code, 5); // NOT_FOUND
      assert.equal(err.details, 'no such thing: fail');
      return true;
    });
  } finally {
    c.close();
  }
});

test('WebSocket upgrade through the mesh: messages echo both ways', async () => {
  const { host, port } = mesh.capture('client-0', 'echo', 8080);
  const ws = new WebSocket(`ws://${host}:${port}/ws`);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error('websocket failed to open')), { once: true });
    });
    const got: string[] = [];
    const want = ['one', 'two', 'x'.repeat(70_000)];
    const all = new Promise<void>((resolve) => {
      ws.addEventListener('message', (ev: MessageEvent) => {
        got.push(String(ev.data));
        if (got.length === want.length) resolve();
      });
    });
    for (const m of want) ws.send(m);
    await all;
    assert.deepEqual(got, want);
  } finally {
    ws.close();
  }
});

test('admin: /ready, /config_dump without private keys, /certs with the local identities', async () => {
  const [a, b] = mesh.proxies;
  assert.equal((await fetch(`${a!.admin}/ready`)).status, 200);
  const dumpText = await (await fetch(`${b!.admin}/config_dump`)).text();
  assert.doesNotMatch(dumpText, /PRIVATE KEY/);
  const dump = JSON.parse(dumpText) as {
    node: string;
    version: string;
    snapshot: { mesh: { trustDomain: string } };
  };
  assert.equal(dump.node, 'node-1');
  assert.equal(dump.snapshot.mesh.trustDomain, TD);
  const certsText = await (await fetch(`${b!.admin}/certs`)).text();
  assert.doesNotMatch(certsText, /PRIVATE KEY/);
  const certs = JSON.parse(certsText) as { spiffeId: string; notAfter: string }[];
  assert.deepEqual(certs.map((c) => c.spiffeId).sort(), [
    `spiffe://${TD}/ns/default/sa/echo`,
    `spiffe://${TD}/ns/default/sa/grpc`,
  ]);
  for (const c of certs) assert.ok(Date.parse(c.notAfter) > Date.now(), `${c.spiffeId} is valid`);
  assert.equal((await fetch(`${a!.admin}/nope`)).status, 404);
});

test('admin /metrics counts requests by source identity, destination service and code', async () => {
  const target = mesh.capture('client-0', 'echo', 8080);
  for (let i = 0; i < 3; i++) assert.equal((await httpRequest(target, '/m?status=418')).status, 418);
  const text = await (await fetch(`${mesh.proxies[0]!.admin}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('weft_proxy_requests_total{') &&
        l.includes(`source="spiffe://${TD}/ns/default/sa/client"`) &&
        l.includes('destination="default/echo"') &&
        l.includes('code="418"'),
    );
  assert.ok(line, `no request counter for code 418 in:\n${text}`);
  assert.equal(Number(line.split(' ').at(-1)), 3);
});
