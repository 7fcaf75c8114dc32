/**
 * Enforcement through real proxies of what the pure engine decides: Kubernetes NetworkPolicy at the
 * destination (ingress) and at the source (egress), AuthorizationPolicy against path tricks (the
 * destination proxy authorizes and forwards the normalised path, docs/authorization.md), and the
 * default-deny answer a caller sees.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startMesh, waitFor } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { service, workload } from '../harness/resources.ts';
import { httpRequest, startEcho } from '../harness/workloads.ts';
import type { EchoWorkload } from '../harness/workloads.ts';

const TD = 'security-it.test';
let mesh: Mesh;
let api: EchoWorkload;
let db: net.Server;

const principals = (...sas: string[]) => sas.map((sa) => `${TD}/ns/default/sa/${sa}`);

const resources = [
  workload('web', 'node-0'),
  workload('intruder', 'node-0'),
  workload('api', 'node-1'),
  workload('db', 'node-1'),
  service('api', [{ name: 'http', port: 8080 }]),
  service('db', [{ name: 'tcp', port: 5432, appProtocol: 'tcp' }]),
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'api-public' },
    spec: {
      selector: { matchLabels: { app: 'api' } },
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: principals('web', 'intruder') } }],
          to: [{ operation: { paths: ['/public/*'] } }],
        },
        // Anyone, with or without a certificate, may read /open/*.
        { to: [{ operation: { methods: ['GET'], paths: ['/open/*'] } }] },
      ],
    },
  },
  // api accepts plaintext from outside the mesh; everything else keeps Weft's STRICT default.
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'api-permissive' },
    spec: { selector: { matchLabels: { app: 'api' } }, mtls: { mode: 'PERMISSIVE' } },
  },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'db-clients' },
    spec: {
      selector: { matchLabels: { app: 'db' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: principals('web', 'intruder') } }] }],
    },
  },
  // NetworkPolicy narrows what AuthorizationPolicy allows: only `web` pods may reach db:5432 …
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'db-ingress' },
    spec: {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { app: 'web' } } }],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ],
    },
  },
  // … and `intruder` may open no connection at all (egress isolation with no allowed peer).
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'intruder-no-egress' },
    spec: { podSelector: { matchLabels: { app: 'intruder' } }, policyTypes: ['Egress'] },
  },
];

before(async () => {
  // Every allowed decision is logged too (denials always are): telemetry.accessLog at 100 %.
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 36,
    resources,
    meshConfig: { telemetry: { accessLog: true, sampling: 100 } },
  });
  api = await startEcho(mesh.instance('api'), 8080);
  db = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => db.listen(5432, mesh.instance('db').address, r));
});

after(async () => {
  await api?.close();
  db?.close();
  await mesh?.stop();
});

function tcpRoundTrip(target: { host: string; port: number }): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(target, () => s.write('ping'));
    let data = '';
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (data === 'ping') s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(data));
  });
}

test('NetworkPolicy ingress: web reaches db, intruder is cut off although AuthorizationPolicy allows it', async () => {
  assert.equal(await tcpRoundTrip(mesh.capture('web-0', 'db', 5432)), 'ping');
  assert.equal(await tcpRoundTrip(mesh.capture('intruder-0', 'db', 5432)), '');
});

test('NetworkPolicy egress: the source proxy refuses intruder before anything leaves its node', async () => {
  const before = api.served.length;
  const res = await httpRequest(mesh.capture('intruder-0', 'api', 8080), '/public/x');
  assert.equal(res.status, 403);
  const body = JSON.parse(res.body) as { error: string; reason: string };
  assert.equal(body.error, 'access denied');
  assert.match(body.reason, /egress/i);
  assert.equal(api.served.length, before, 'nothing reached the workload');
});

test('path tricks are normalised before authorization and the workload sees the normalised path', async () => {
  const target = mesh.capture('web-0', 'api', 8080);
  const ok = await httpRequest(target, '/public/a');
  assert.equal(ok.status, 200, ok.body);
  for (const trick of [
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/..%2Fadmin',
    '/public/x/../../admin',
  ]) {
    const res = await httpRequest(target, trick);
    assert.equal(res.status, 403, `${trick} must be denied as /admin`);
  }
  const merged = await httpRequest(target, '//public//b');
  assert.equal(merged.status, 200, merged.body);
  assert.equal((JSON.parse(merged.body) as { path: string }).path, '/public/b');
  const dotted = await httpRequest(target, '/public/./c/../d?q=1');
  assert.equal(dotted.status, 200, dotted.body);
  const seen = JSON.parse(dotted.body) as { path: string; query: Record<string, string> | string };
  assert.equal(seen.path, '/public/d');
});

test('the denial names the policy decision: default deny for paths no rule allows', async () => {
  const res = await httpRequest(mesh.capture('web-0', 'api', 8080), '/admin');
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-weft-denied-by'], 'default-deny');
  assert.match((JSON.parse(res.body) as { reason: string }).reason, /default deny/);
});

test('PeerAuthentication: PERMISSIVE admits plaintext as unauthenticated, STRICT closes it', async () => {
  const apiPlain = { host: mesh.instance('api').plaintextAddress, port: 8080 };
  const open = await httpRequest(apiPlain, '/open/doc', {
    headers: { 'x-forwarded-client-cert': `By=x;URI=spiffe://${TD}/ns/default/sa/web` },
  });
  assert.equal(open.status, 200, open.body);
  const seen = JSON.parse(open.body) as { caller: unknown; headers: Record<string, string> };
  assert.equal(
    seen.headers['x-forwarded-client-cert'],
    undefined,
    'a plaintext caller never carries an identity',
  );
  const pub = await httpRequest(apiPlain, '/public/a');
  assert.equal(pub.status, 403, 'rules that need a principal do not match a caller without one');
  const dbPlain = { host: mesh.instance('db').plaintextAddress, port: 5432 };
  assert.equal(await tcpRoundTrip(dbPlain), '', 'STRICT: the plaintext connection is closed');
});

test('decision log: one JSON line per decision, allowed ones sampled in (100 % here), with policy and rule', async () => {
  const res = await httpRequest(mesh.capture('web-0', 'api', 8080), '/public/logged');
  assert.equal(res.status, 200);
  const lines = await waitFor('the allow decision in the log', () => {
    const found = mesh
      .logs()
      .split('\n')
      .filter((l) => l.includes('"authz decision"') && l.includes('GET /public/logged'));
    return found.length > 0 ? found : undefined;
  });
  const rec = JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{'))) as Record<string, unknown>;
  assert.equal(rec['decision'], 'allow');
  assert.equal(rec['policy'], 'default/api-public');
  assert.equal(rec['rule'], 0);
  assert.equal(rec['source'], `spiffe://${TD}/ns/default/sa/web`);
  assert.equal(rec['destination'], 'default/api');
});

test('header injection: proxy-to-proxy headers a workload sends are dropped, never reach the destination', async () => {
  const res = await httpRequest(mesh.capture('web-0', 'api', 8080), '/public/h', {
    headers: { 'x-weft-route': 'evil', 'x-weft-service': 'default/db', 'x-weft-probe': 'health' },
  });
  assert.equal(res.status, 200, res.body);
  const seen = JSON.parse(res.body) as { headers: Record<string, string> };
  assert.deepEqual(
    Object.keys(seen.headers).filter((h) => h.startsWith('x-weft-')),
    [],
    'the workload sees no x-weft-* header',
  );
  const probe = await httpRequest(mesh.capture('web-0', 'api', 8080), '/admin', {
    headers: { 'x-weft-probe': 'health' },
  });
  assert.equal(probe.status, 403, 'a probe header does not bypass authorization');
});
