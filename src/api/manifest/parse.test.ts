/**
 * Good inputs for every kind (the fixtures), defaults, freezing, did-you-mean, multi-document YAML,
 * JSON, the HTTP API entry point, and the cross-resource checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseManifests,
  parseResourceObject,
  checkResources,
  formatDiagnostic,
  KINDS,
  resourceKey,
  workloadIdentityPath,
  nodeTunnelPort,
  nodeAddressOf,
  certTtlSeconds,
  meshSettingsOf,
} from '../index.ts';
import type {
  Resource,
  HTTPRouteSpec,
  ServiceSpec,
  WorkloadSpec,
  NetworkPolicySpec,
  GRPCRouteSpec,
  NodeSpec,
} from '../index.ts';

const GOOD = join(import.meta.dirname, '../../../test/fixtures/manifests/good');
const goodSources = () =>
  readdirSync(GOOD)
    .sort()
    .map((f) => ({ file: f, text: readFileSync(join(GOOD, f), 'utf8') }));

function one<S = Record<string, unknown>>(text: string, file = 'm.yaml'): Resource<S> {
  const r = parseManifests([{ file, text }]);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
  assert.equal(r.resources.length, 1);
  return r.resources[0]! as unknown as Resource<S>;
}

void test('the good fixtures parse without diagnostics and cover every kind', () => {
  const r = parseManifests(goodSources());
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
  assert.deepEqual(checkResources(r.resources, r.sources).map(formatDiagnostic), []);
  const kinds = new Set(r.resources.map((x) => x.kind));
  for (const k of KINDS) assert.ok(kinds.has(k.kind), `fixture for ${k.kind}`);
  // sources keyed by resourceKey, pointing at each document's start.
  assert.deepEqual(r.sources.get('Service/shop/ratings'), { file: 'services.yaml', line: 17, column: 1 });
  assert.deepEqual(r.sources.get('PeerAuthentication/weft-system/default'), {
    file: 'list.json',
    line: 10,
    column: 5,
  });
});

void test('defaults are applied and documented values come out', () => {
  const route = one<HTTPRouteSpec>(
    'apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{group: "", kind: Service, name: s}]\n  rules:\n  - backendRefs: [{name: s, port: 80}]\n  - matches: [{headers: [{name: a, value: b}]}]\n',
  );
  assert.equal(route.apiVersion, 'gateway.networking.k8s.io/v1', 'alias canonicalised');
  assert.equal(route.metadata.namespace, 'default');
  assert.deepEqual(route.spec.rules[0]!.matches, [{ path: { type: 'PathPrefix', value: '/' } }]);
  assert.deepEqual(route.spec.rules[0]!.backendRefs, [
    { group: '', kind: 'Service', name: 's', port: 80, weight: 1 },
  ]);
  assert.deepEqual(route.spec.rules[1]!.matches, [
    { path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'a', value: 'b' }] },
  ]);

  const noRules = one<HTTPRouteSpec>(
    'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {}\n',
  );
  assert.deepEqual(noRules.spec.rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]);
  const grpc = one<GRPCRouteSpec>(
    'apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec:\n  rules: [{matches: [{method: {service: a.B}}]}]\n',
  );
  assert.deepEqual(grpc.spec.rules[0]!.matches, [{ method: { type: 'Exact', service: 'a.B' } }]);

  const svc = one<ServiceSpec>(
    'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {name: http-web, port: 80}\n  - {name: grpc, port: 81, targetPort: 9000}\n  - {name: db, port: 82}\n  - {name: h2c, port: 83, appProtocol: kubernetes.io/h2c}\n  - {name: x, port: 84, appProtocol: HTTP}\n',
  );
  assert.equal(svc.spec.type, 'ClusterIP');
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.targetPort, p.protocol, p.appProtocol]),
    [
      [80, 'TCP', 'http'],
      [9000, 'TCP', 'grpc'],
      [82, 'TCP', 'tcp'],
      [83, 'TCP', 'http2'],
      [84, 'TCP', 'http'],
    ],
  );

  const wl = one<WorkloadSpec>(
    'apiVersion: weft.dev/v1alpha1\nkind: Workload\nmetadata: {name: w, namespace: a, labels: {app: w}}\nspec: {builtin: echo}\n',
  );
  assert.deepEqual(
    { ...wl.spec },
    { labels: { app: 'w' }, serviceAccount: 'default', replicas: 1, builtin: 'echo', agent: false },
  );
  assert.equal(workloadIdentityPath(wl), 'ns/a/sa/default');
  const agent = one<WorkloadSpec>(
    'apiVersion: weft.dev/v1alpha1\nkind: Workload\nmetadata: {name: bot}\nspec: {builtin: echo, agent: true, labels: {x: y}}\n',
  );
  assert.equal(workloadIdentityPath(agent), 'ns/default/agent/bot');
  assert.deepEqual(agent.spec.labels, { x: 'y' });

  const mc = one('apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: m}\n');
  assert.equal(mc.metadata.namespace, '');
  assert.deepEqual(mc.spec, {
    trustDomain: 'cluster.local',
    defaultPolicy: 'deny',
    certTtl: '1h',
    rootNamespace: 'weft-system',
    telemetry: { accessLog: false, sampling: 1 },
  });
  assert.equal(certTtlSeconds(meshSettingsOf([mc])), 3600);
  assert.equal(meshSettingsOf([]).trustDomain, 'cluster.local');

  const np = one<NetworkPolicySpec>(
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  egress: [{ports: [{port: 53}]}]\n',
  );
  assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(np.spec.podSelector, {});
  assert.equal(np.spec.egress![0]!.ports![0]!.protocol, 'TCP');
  const npIn = one<NetworkPolicySpec>(
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec: {podSelector: {}}\n',
  );
  assert.deepEqual(npIn.spec.policyTypes, ['Ingress']);

  const ap = one<NodeSpec>(
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\n',
  );
  assert.deepEqual(ap.spec, { action: 'ALLOW' });
  const pa = one('apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: a}\n');
  assert.deepEqual(pa.spec, { mtls: { mode: 'UNSET' } });

  const node = one(
    'apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {addresses: [{type: InternalIP, address: 127.0.0.5}]}\n',
  );
  assert.equal(nodeTunnelPort(node), 15008);
  assert.equal(nodeAddressOf(node), '127.0.0.5');
  assert.equal(node.metadata.namespace, '');
});

void test('status is ignored except for Node', () => {
  const svc = one<HTTPRouteSpec>(
    'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\nstatus: {loadBalancer: {}}\n',
  );
  assert.equal(svc.status, undefined);
});

void test('results are deep-frozen', () => {
  const r = parseManifests(goodSources());
  for (const res of r.resources) {
    assert.ok(Object.isFrozen(res) && Object.isFrozen(res.metadata) && Object.isFrozen(res.spec));
  }
  const route = r.resources.find((x) => x.kind === 'HTTPRoute') as unknown as Resource<HTTPRouteSpec>;
  assert.ok(Object.isFrozen(route.spec.rules[0]!.matches[0]!.path));
  assert.throws(() => {
    (route.spec.rules as unknown as unknown[]).push({});
  }, TypeError);
});

void test('did-you-mean for fields, kinds and enum values; plain list when nothing is close', () => {
  const r = parseManifests([
    {
      file: 'a.yaml',
      text: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: a\n  trafficPolicy:\n    loadBalancr: {simple: RANDOM}\n    zzzzzzzz: 1\n',
    },
  ]);
  const lines = r.diagnostics.map(formatDiagnostic);
  assert.deepEqual(lines, [
    'a.yaml:7:5: spec.trafficPolicy.loadBalancr: unknown field "loadBalancr"; did you mean "loadBalancer"?',
    'a.yaml:8:5: spec.trafficPolicy.zzzzzzzz: unknown field "zzzzzzzz" (known fields: loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings)',
  ]);
});

void test('multi-document YAML: positions per document, empty documents skipped, bad ones do not hide good ones', () => {
  const text = [
    '# leading comment',
    '---',
    'apiVersion: v1',
    'kind: Namespace',
    'metadata: {name: a}',
    '---',
    '---',
    'apiVersion: v1',
    'kind: Namespace',
    'metadata: {name: B}',
    '---',
    'apiVersion: v1',
    'kind: Namespace',
    'metadata: {name: c}',
    '',
  ].join('\n');
  const r = parseManifests([{ file: 'ns.yaml', text }]);
  assert.deepEqual(
    r.resources.map((x) => x.metadata.name),
    ['a', 'c'],
  );
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'ns.yaml:10:18: metadata.name: "B" is invalid: must be a lowercase RFC 1123 label: a-z, 0-9 and \'-\', starting and ending with a letter or digit',
  ]);
  assert.deepEqual(r.sources.get('Namespace//c'), { file: 'ns.yaml', line: 12, column: 1 });
});

void test('duplicates within the input are reported at the second occurrence and dropped', () => {
  const doc = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n';
  const r = parseManifests([
    { file: 'one.yaml', text: doc },
    { file: 'two.yaml', text: '# x\n' + doc },
  ]);
  assert.equal(r.resources.length, 1);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'two.yaml:2:1: duplicate Namespace a (first defined at one.yaml:1:1)',
  ]);
});

void test('JSON input: an object, an array and positions inside it', () => {
  const text = JSON.stringify(
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 0 }] } },
    ],
    null,
    2,
  );
  const r = parseManifests([{ file: 'x.json', text }]);
  assert.equal(r.resources.length, 1);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'x.json:18:19: [1].spec.ports[0].port: 0 is out of range (must be 1-65535)',
  ]);
  const bad = parseManifests([{ file: 'y.json', text: '{"apiVersion": "v1",\n  "kind": }' }]);
  assert.equal(bad.diagnostics[0]!.code, 'WEFT_MANIFEST_SYNTAX');
  assert.match(formatDiagnostic(bad.diagnostics[0]!), /^y\.json:\d+:\d+: JSON syntax: Unexpected token/);
});

void test('parseResourceObject: same checks, no positions', () => {
  const ok = parseResourceObject({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'a', labels: { x: 'y' } },
  });
  assert.equal(ok.resource?.metadata.labels.x, 'y');
  assert.deepEqual(ok.diagnostics, []);
  const bad = parseResourceObject({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'a' },
    spec: { action: 'CUSTOM' },
  });
  assert.equal(bad.resource, undefined);
  assert.deepEqual(bad.diagnostics, [
    {
      severity: 'error',
      code: 'WEFT_VALIDATION_UNSUPPORTED',
      path: 'spec.action',
      message: 'action CUSTOM (external authorization) is not supported yet; use ALLOW, DENY or AUDIT',
    },
  ]);
  assert.equal(parseResourceObject('nope').diagnostics[0]!.code, 'WEFT_VALIDATION_TYPE');
});

void test('KINDS: table of kinds with per-kind parse', () => {
  assert.deepEqual(
    KINDS.map((k) => [k.kind, k.apiVersion, k.namespaced]),
    [
      ['Namespace', 'v1', false],
      ['Node', 'v1', false],
      ['MeshConfig', 'weft.dev/v1alpha1', false],
      ['Service', 'v1', true],
      ['Workload', 'weft.dev/v1alpha1', true],
      ['HTTPRoute', 'gateway.networking.k8s.io/v1', true],
      ['GRPCRoute', 'gateway.networking.k8s.io/v1', true],
      ['DestinationRule', 'networking.istio.io/v1', true],
      ['AuthorizationPolicy', 'security.istio.io/v1', true],
      ['PeerAuthentication', 'security.istio.io/v1', true],
      ['NetworkPolicy', 'networking.k8s.io/v1', true],
      ['FaultInjection', 'weft.dev/v1alpha1', true],
      ['RateLimitPolicy', 'weft.dev/v1alpha1', true],
      ['Invariant', 'weft.dev/v1alpha1', true],
    ],
  );
  const svc = KINDS.find((k) => k.kind === 'Service')!;
  assert.ok(
    svc.parse({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 1 }] } })
      .resource,
  );
  assert.match(
    svc.parse({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 's' } }).issues[0]!.message,
    /expected kind Service/,
  );
});

const CROSS = `
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: lonely}
spec:
  selector: {app: nobody}
  ports: [{port: 81}]
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: {name: web, labels: {app: web}}
spec:
  builtin: echo
  node: n2
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules:
  - backendRefs: [{name: missing, port: 80}, {name: web, port: 80}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: ghost, port: 1}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec: {host: nothing.default.svc.cluster.local}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec: {podSelector: {matchLabels: {app: db}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap}
spec: {selector: {matchLabels: {app: db}}}
---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: one}
---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: two}
`;

void test('cross-resource checks with field positions', () => {
  const r = parseManifests([{ file: 'c.yaml', text: CROSS }]);
  assert.deepEqual(r.diagnostics, []);
  const lines = checkResources(r.resources, r.sources).map(formatDiagnostic);
  assert.deepEqual(
    lines.sort(),
    [
      'c.yaml:17:13: warning: spec.selector: selects no Workload in namespace default',
      'c.yaml:25:9: spec.node: Node "n2" does not exist (nodes: n1)',
      'c.yaml:31:60: spec.parentRefs[0].port: Service default/web has no port 8080 (it has 80)',
      'c.yaml:33:26: spec.rules[0].backendRefs[0].name: backend Service default/missing does not exist',
      'c.yaml:34:72: spec.rules[0].filters[0].requestMirror.backendRef.name: mirror Service default/ghost does not exist',
      'c.yaml:39:14: warning: spec.host: host "nothing.default.svc.cluster.local" matches no Service',
      'c.yaml:11:46: warning: spec.ports[0].targetPort: named targetPort "http" is not among the ports of Workload web',
      'c.yaml:44:21: warning: spec.podSelector: selects no Workload in namespace default',
      'c.yaml:49:18: warning: spec.selector: selects no Workload in namespace default',
      'c.yaml:57:18: metadata.name: only one MeshConfig is allowed; one is already defined',
    ].sort(),
  );
});

void test('cross-resource checks: no Node resources means no node error; duplicates from the API path; sources fallback', () => {
  const r = parseManifests([
    {
      file: 'w.yaml',
      text: 'apiVersion: weft.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec: {builtin: echo, node: anywhere}\n',
    },
  ]);
  assert.deepEqual(checkResources(r.resources), []);
  const a = parseResourceObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }).resource!;
  const b = parseResourceObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }).resource!;
  const sources = new Map([[resourceKey(a), { file: 'api', line: 3, column: 1 }]]);
  assert.deepEqual(checkResources([a, b], sources).map(formatDiagnostic), ['api:3:1: duplicate Namespace a']);
});

void test('root-namespace policies select across namespaces', () => {
  const text = `apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: {name: w, namespace: shop, labels: {app: w}}
spec: {builtin: echo}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: weft-system}
spec: {selector: {matchLabels: {app: w}}}
`;
  const r = parseManifests([{ file: 'p.yaml', text }]);
  assert.deepEqual(checkResources(r.resources, r.sources), []);
});
