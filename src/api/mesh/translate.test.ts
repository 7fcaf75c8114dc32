import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../resource.ts';
import { parseResourceObject } from '../manifest/parse.ts';
import { addressBlocks } from './addressing.ts';
import {
  buildMeshModel,
  canonicalJson,
  identitiesOnNode,
  snapshotFor,
  snapshotJson,
  translate,
} from './translate.ts';

const API_VERSIONS: Record<string, string> = {
  Node: 'v1',
  Service: 'v1',
  MeshConfig: 'weft.dev/v1alpha1',
  Workload: 'weft.dev/v1alpha1',
  HTTPRoute: 'gateway.networking.k8s.io/v1',
};

/** Resources go through the real validator, as the translator always receives them. */
function res(
  kind: string,
  name: string,
  spec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Resource {
  const raw = { apiVersion: API_VERSIONS[kind], kind, metadata: { name }, spec, ...extra };
  const { resource, diagnostics } = parseResourceObject(raw);
  assert.deepEqual(diagnostics, [], `${kind}/${name} is valid`);
  return resource!;
}

const node = (name: string, address: string, zone = 'z1') =>
  res(
    'Node',
    name,
    {},
    {
      metadata: {
        name,
        labels: { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': zone },
      },
      status: { addresses: [{ type: 'InternalIP', address }] },
    },
  );

const mesh: Resource[] = [
  node('node-1', '127.0.10.1'),
  node('node-2', '127.0.10.2', 'z2'),
  res('MeshConfig', 'default', { trustDomain: 'example.org', certTtl: '30m' }),
  res('Workload', 'web', { labels: { app: 'web' }, serviceAccount: 'web', node: 'node-1', builtin: 'echo' }),
  res('Workload', 'reviews-v1', {
    labels: { app: 'reviews', version: 'v1' },
    serviceAccount: 'reviews',
    replicas: 2,
    builtin: 'echo',
    ports: [{ name: 'http', containerPort: 9081 }],
  }),
  res('Service', 'reviews', {
    selector: { app: 'reviews' },
    ports: [{ name: 'http', port: 9080, targetPort: 'http', appProtocol: 'http' }],
  }),
  res('Service', 'db', { selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432 }] }),
  res('HTTPRoute', 'reviews', {
    parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }],
    rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }],
  }),
];

test('translate: mesh settings from MeshConfig with defaults', () => {
  const s = translate(mesh, 'node-1');
  assert.deepEqual(s.mesh, {
    trustDomain: 'example.org',
    defaultPolicy: 'deny',
    certTtlSeconds: 1800,
    rootNamespace: 'weft-system',
    allowLogPercent: 0,
  });
});

test('translate: replicas are placed over both nodes, identities follow the service account', () => {
  const model = buildMeshModel(mesh);
  const reviews = model.instances.filter((i) => i.workload === 'reviews-v1');
  assert.equal(reviews.length, 2);
  assert.deepEqual(new Set(reviews.map((i) => i.node)), new Set(['node-1', 'node-2']));
  for (const i of reviews) {
    assert.equal(i.spiffeId, 'spiffe://example.org/ns/default/sa/reviews');
    // In the instance block of example.org's address region.
    const second = (addressBlocks('example.org').instance.base >>> 16) & 255;
    assert.match(i.address, new RegExp(`^127\\.${second}\\.\\d+\\.\\d+$`));
  }
  const web = model.instances.find((i) => i.workload === 'web')!;
  assert.equal(web.node, 'node-1');
});

test('translate: endpoints resolve a named targetPort and carry locality', () => {
  const s = translate(mesh, 'node-1');
  const svc = s.services.find((x) => x.name === 'reviews')!;
  assert.deepEqual(svc.ports, [{ name: 'http', port: 9080, targetPort: 9081, protocol: 'http' }]);
  assert.equal(svc.endpoints.length, 2);
  const localities = svc.endpoints.map((e) => e.locality).sort();
  assert.deepEqual(localities, ['r1/z1', 'r1/z2']);
  assert.ok(svc.hosts.includes('reviews.default.svc.cluster.local'));
  const db = s.services.find((x) => x.name === 'db')!;
  assert.equal(db.ports[0]!.protocol, 'tcp');
  assert.equal(db.endpoints.length, 0);
});

test('translate: capture listeners exist only for instances on the node, one per service port', () => {
  const s1 = translate(mesh, 'node-1');
  const local = new Set(s1.localInstances);
  assert.ok(local.has('default/web-0'));
  for (const l of s1.listeners) assert.ok(local.has(l.source), `${l.source} is local`);
  const webToReviews = s1.listeners.filter(
    (l) => l.source === 'default/web-0' && l.service.name === 'reviews',
  );
  assert.equal(webToReviews.length, 1);
  assert.equal(webToReviews[0]!.port, 9080);
  assert.equal(webToReviews[0]!.protocol, 'http');
  // Every capture address is unique across the whole mesh.
  const all = [...translate(mesh, 'node-1').listeners, ...translate(mesh, 'node-2').listeners];
  const perAddress = new Map<string, string>();
  for (const l of all) {
    const key = `${l.source}>${l.service.name}`;
    assert.ok(!perAddress.has(l.address) || perAddress.get(l.address) === key);
    perAddress.set(l.address, key);
  }
});

test('translate: routes get defaults and resolved namespaces', () => {
  const s = translate(mesh, 'node-1');
  assert.equal(s.routes.length, 1);
  const r = s.routes[0]!;
  assert.deepEqual(r.parents, [{ namespace: 'default', name: 'reviews', port: 9080 }]);
  assert.deepEqual(r.rules[0]!.matches, [{ path: { type: 'PathPrefix', value: '/' } }]);
  assert.deepEqual(r.rules[0]!.backendRefs, [
    { namespace: 'default', name: 'reviews', port: 9080, weight: 1 },
  ]);
});

test('translate: deterministic — input order does not change the snapshot or its version', () => {
  const a = translate(mesh, 'node-2', 7);
  const b = translate([...mesh].reverse(), 'node-2', 7);
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(a.version, b.version);
});

test('translate: version ignores the revision number but follows content', () => {
  const a = translate(mesh, 'node-1', 1);
  const b = translate(mesh, 'node-1', 2);
  assert.equal(a.version, b.version);
  const changed = translate(
    [...mesh, res('Service', 'extra', { selector: { app: 'web' }, ports: [{ port: 1 }] })],
    'node-1',
  );
  assert.notEqual(changed.version, a.version);
});

test('translate: a node may obtain only the identities of its own instances', () => {
  const model = buildMeshModel(mesh);
  const ids1 = identitiesOnNode(model, 'node-1');
  assert.ok(ids1.has('spiffe://example.org/ns/default/sa/web'));
  const ids2 = identitiesOnNode(model, 'node-2');
  assert.ok(!ids2.has('spiffe://example.org/ns/default/sa/web'));
  assert.equal(snapshotFor(model, 'node-3').localInstances.length, 0);
});

test('snapshotJson: the same snapshot as JSON.stringify, with the shared parts serialised once', () => {
  const model = buildMeshModel(mesh);
  const a = snapshotFor(model, 'node-1');
  const b = snapshotFor(model, 'node-2');
  assert.deepEqual(JSON.parse(snapshotJson(a)), JSON.parse(JSON.stringify(a)));
  assert.deepEqual(JSON.parse(snapshotJson(b)), JSON.parse(JSON.stringify(b)));
  assert.equal(a.services, b.services, 'mesh-wide parts are shared by reference between nodes');
});

test('address regions: the default trust domain keeps 127.1–127.4, others get a region of their own', () => {
  assert.equal(addressBlocks('cluster.local').capture.base, ((127 << 24) >>> 0) + (2 << 16));
  const regions = new Set<number>();
  for (const td of ['a.test', 'b.test', 'c.test', 'res-retry.test', 'security-it.test']) {
    const b = addressBlocks(td);
    const second = (b.instance.base >>> 16) & 255;
    assert.ok(second >= 16 && second + 3 <= 207, `${td} stays in 127.16–127.207`);
    assert.equal((b.capture.base >>> 16) & 255, second + 1);
    assert.equal((b.plaintext.base >>> 16) & 255, second + 3);
    regions.add(second);
  }
  assert.ok(regions.size >= 3, 'different trust domains spread over regions');
});
