/**
 * The walking skeleton end to end with real processes: `weft control` and two `weft proxy` children
 * on loopback, workloads as servers in this process bound to their instance addresses. A request
 * from `web` (node-a) crosses both proxies over the mTLS tunnel to `api` (node-b); the backend sees
 * the verified caller in x-forwarded-client-cert; AuthorizationPolicy decides per request (HTTP) and
 * per connection (TCP).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { Snapshot } from '../../src/api/index.ts';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { httpRequest } from '../harness/workloads.ts';

const TD = 'tunnel-it.test';
const servers: (http.Server | net.Server)[] = [];
let mesh: Mesh;

const resources = [
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'web' },
    spec: { labels: { app: 'web' }, serviceAccount: 'web', node: 'node-a', builtin: 'echo' },
  },
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'api' },
    spec: { labels: { app: 'api' }, serviceAccount: 'api', node: 'node-b', builtin: 'echo' },
  },
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'db' },
    spec: { labels: { app: 'db' }, serviceAccount: 'db', node: 'node-b', builtin: 'echo' },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api' },
    spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 8080, appProtocol: 'http' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'db' },
    spec: { selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432, appProtocol: 'tcp' }] },
  },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'api-allow-web' },
    spec: {
      selector: { matchLabels: { app: 'api' } },
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: [`${TD}/ns/default/sa/web`] } }],
          to: [{ operation: { methods: ['GET'], paths: ['/allowed*'] } }],
        },
      ],
    },
  },
];

let snapshotA: Snapshot;
let snapshotB: Snapshot;

before(async () => {
  mesh = await startMesh({ trustDomain: TD, subnet: 21, nodes: ['node-a', 'node-b'], resources });
  snapshotA = await mesh.snapshotOf('node-a');
  snapshotB = await mesh.snapshotOf('node-b');
  const api = snapshotB.instances.find((i) => i.workload === 'api')!;
  const apiServer = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, xfcc: req.headers['x-forwarded-client-cert'] ?? null }));
  });
  await new Promise<void>((r) => apiServer.listen(8080, api.address, r));
  servers.push(apiServer);
  const db = snapshotB.instances.find((i) => i.workload === 'db')!;
  const dbServer = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => dbServer.listen(5432, db.address, r));
  servers.push(dbServer);
});

after(async () => {
  for (const s of servers) s.close();
  await mesh?.stop();
});

function capture(service: string): { host: string; port: number } {
  const l = snapshotA.listeners.find((x) => x.source === 'default/web-0' && x.service.name === service)!;
  assert.ok(l, `web-0 has a capture listener for ${service}`);
  return { host: l.address, port: l.port };
}

const request = (host: string, port: number, path: string, headers: Record<string, string> = {}) =>
  httpRequest({ host, port }, path, { headers });

test('HTTP crosses both proxies; the backend sees the verified caller, not the spoofed one', async () => {
  const { host, port } = capture('api');
  const res = await request(host, port, '/allowed/x', {
    'x-forwarded-client-cert': `By=x;URI=spiffe://${TD}/ns/default/sa/admin`,
  });
  assert.equal(res.status, 200, res.body);
  const body = JSON.parse(res.body) as { path: string; xfcc: string };
  assert.equal(body.path, '/allowed/x');
  assert.equal(body.xfcc, `By=spiffe://${TD}/ns/default/sa/api;URI=spiffe://${TD}/ns/default/sa/web`);
});

test('a request the policy does not allow gets an explained 403 from the destination proxy', async () => {
  const { host, port } = capture('api');
  const res = await request(host, port, '/admin');
  assert.equal(res.status, 403);
  const body = JSON.parse(res.body) as { error: string; reason: string };
  assert.equal(body.error, 'access denied');
  assert.match(body.reason, /deny/i);
  assert.ok(res.headers['x-weft-denied-by']);
});

test('TCP to a service with no ALLOW policy is closed before any byte reaches it (default deny)', async () => {
  const { host, port } = capture('db');
  const got = await new Promise<string>((resolve) => {
    const s = net.connect({ host, port }, () => s.write('ping'));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(data));
  });
  assert.equal(got, '');
});

test('snapshots agree between nodes and name the trust domain', () => {
  assert.equal(snapshotA.mesh.trustDomain, TD);
  assert.deepEqual(
    snapshotA.instances.map((i) => i.address),
    snapshotB.instances.map((i) => i.address),
  );
});
