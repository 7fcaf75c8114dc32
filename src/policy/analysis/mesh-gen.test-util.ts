/**
 * fast-check generators for the differential tests: random meshes (namespaces, workloads, services
 * with HTTP and TCP ports, several nodes), policy sets covering every predicate form the engine
 * supports (AuthorizationPolicy ALLOW/DENY/AUDIT with principals, namespaces incl. globs, ipBlocks,
 * remoteIpBlocks, hosts, ports, methods, paths in exact/prefix/suffix/presence forms and their not*
 * forms, `when` on headers, source.*, destination.*, connection.sni (request.auth.* is rejected by validation); selectors and
 * targetRefs; PeerAuthentication modes; NetworkPolicy with pod/namespace selectors, ipBlock and
 * ports), and requests drawn near those values so boundaries are hit.
 */
import fc from 'fast-check';
import { parseManifests } from '../../api/index.ts';
import type { Resource } from '../../api/index.ts';
import assert from 'node:assert/strict';
import type { WitnessRequest } from './analyser.ts';
import { createAnalyser } from './analyser.ts';
import { analysisModel } from './model.ts';
import { classOf, rejectedBeforeAuthorization } from './classify.ts';

export const NAMESPACES = ['default', 'tenant-a', 'tenant-b'];
const LABEL_VALUES = ['web', 'api', 'db'];
const SAS = ['web', 'api', 'db', 'default'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const PATHS = [
  '/',
  '/api',
  '/api/',
  '/api/v1',
  '/api/v1/x',
  '/admin',
  '/admin/x',
  '/x.json',
  '/health',
  '/a/b/c',
];
const HOSTS = ['web', 'api.default', 'x.example.com', 'API.Example.com', 'localhost'];
const HEADERS = ['x-user', 'x-tenant'];
const HEADER_VALUES = ['alice', 'bob', 'al', 'admin-1', ''];

const stringForm = (base: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    base,
    base.map((s) => `${s.slice(0, Math.max(1, Math.floor(s.length / 2)))}*`),
    base.map((s) => `*${s.slice(Math.floor(s.length / 2))}`),
    fc.constant('*'),
  );

const principal = fc
  .tuple(
    fc.constantFrom(...NAMESPACES),
    fc.constantFrom(...SAS),
    fc.constantFrom('cluster.local', 'other.td'),
  )
  .map(([ns, sa, td]) => `${td}/ns/${ns}/sa/${sa}`);

const some = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(a, { minLength: 1, maxLength: 2 });

const source = fc.record(
  {
    principals: some(stringForm(principal)),
    notPrincipals: some(stringForm(principal)),
    namespaces: some(fc.oneof(fc.constantFrom(...NAMESPACES), fc.constantFrom('tenant-*', '*', '*-b'))),
    notNamespaces: some(fc.constantFrom(...NAMESPACES)),
    ipBlocks: some(fc.constantFrom('127.0.10.1', '127.0.10.0/24', '127.0.10.2/31', '10.0.0.0/8')),
    notIpBlocks: some(fc.constantFrom('127.0.10.1', '127.0.10.2/32')),
    remoteIpBlocks: some(fc.constantFrom('127.0.10.0/30', '0.0.0.0/0')),
  },
  { requiredKeys: [] },
);

const operation = fc.record(
  {
    hosts: some(stringForm(fc.constantFrom(...HOSTS))),
    notHosts: some(stringForm(fc.constantFrom(...HOSTS))),
    ports: some(fc.constantFrom('8080', '9090', '5432')),
    notPorts: some(fc.constantFrom('8080', '5432')),
    methods: some(stringForm(fc.constantFrom(...METHODS))),
    notMethods: some(fc.constantFrom(...METHODS)),
    paths: some(stringForm(fc.constantFrom(...PATHS))),
    notPaths: some(stringForm(fc.constantFrom(...PATHS))),
  },
  { requiredKeys: [] },
);

const condition = fc.oneof(
  fc.record({
    key: fc.constantFrom(...HEADERS).map((h) => `request.headers[${h}]`),
    values: some(stringForm(fc.constantFrom(...HEADER_VALUES.filter(Boolean)))),
  }),
  fc.record({
    key: fc.constantFrom(...HEADERS).map((h) => `request.headers[${h}]`),
    notValues: some(stringForm(fc.constantFrom(...HEADER_VALUES.filter(Boolean)))),
  }),
  fc.record({ key: fc.constant('source.namespace'), values: some(fc.constantFrom(...NAMESPACES)) }),
  fc.record({ key: fc.constant('source.principal'), notValues: some(principal) }),
  fc.record({ key: fc.constant('source.ip'), values: some(fc.constantFrom('127.0.10.0/24', '127.0.10.2')) }),
  fc.record({
    key: fc.constant('destination.ip'),
    notValues: some(fc.constantFrom('127.1.0.0/16', '10.0.0.1')),
  }),
  fc.record({ key: fc.constant('destination.port'), values: some(fc.constantFrom('8080', '5432')) }),
  fc.record({ key: fc.constant('connection.sni'), values: some(fc.constantFrom('*', 'web')) }),
);

const rule = fc.record(
  {
    from: fc.array(fc.record({ source }), { minLength: 1, maxLength: 2 }),
    to: fc.array(fc.record({ operation }), { minLength: 1, maxLength: 2 }),
    when: fc.array(condition, { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: [] },
);

const selector = fc.option(fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...LABEL_VALUES) }) }), {
  nil: undefined,
});

const authzPolicy = fc.record({
  ns: fc.constantFrom(...NAMESPACES, 'weft-system'),
  action: fc.constantFrom('ALLOW', 'ALLOW', 'DENY', 'AUDIT'),
  selector,
  target: fc.option(fc.constantFrom('web', 'api', 'db'), { nil: undefined, freq: 4 }),
  rules: fc.option(fc.array(rule, { maxLength: 2 }), { nil: undefined, freq: 8 }),
});

const peerAuth = fc.record({
  ns: fc.constantFrom(...NAMESPACES, 'weft-system'),
  mode: fc.constantFrom('STRICT', 'PERMISSIVE', 'UNSET'),
});

const netPolicy = fc.record({
  ns: fc.constantFrom(...NAMESPACES),
  app: fc.option(fc.constantFrom(...LABEL_VALUES), { nil: undefined }),
  peer: fc.oneof(
    fc.record({
      podSelector: fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...LABEL_VALUES) }) }),
    }),
    fc.record({
      namespaceSelector: fc.record({ matchLabels: fc.record({ team: fc.constantFrom('a', 'b') }) }),
    }),
    fc.record({
      ipBlock: fc.constantFrom({ cidr: '127.0.10.0/24', except: ['127.0.10.2/32'] }, { cidr: '10.0.0.0/8' }),
    }),
  ),
  port: fc.option(fc.constantFrom(8080, 5432), { nil: undefined }),
});

export interface GeneratedMesh {
  readonly resources: Resource[];
  readonly text: string;
}

/** A random mesh and policy set, parsed and validated like `weft validate` would. */
export const meshArb: fc.Arbitrary<GeneratedMesh> = fc
  .record({
    workloads: fc.uniqueArray(
      fc.record({
        ns: fc.constantFrom(...NAMESPACES),
        app: fc.constantFrom(...LABEL_VALUES),
        sa: fc.constantFrom(...SAS),
        replicas: fc.integer({ min: 1, max: 2 }),
        tcp: fc.boolean(),
      }),
      { minLength: 1, maxLength: 5, selector: (w) => `${w.ns}/${w.app}` },
    ),
    nodes: fc.integer({ min: 1, max: 3 }),
    policies: fc.array(authzPolicy, { maxLength: 4 }),
    peers: fc.array(peerAuth, { maxLength: 2 }),
    netpols: fc.array(netPolicy, { maxLength: 2 }),
    defaultAllow: fc.boolean(),
  })
  .map((g) => {
    const docs: unknown[] = [];
    docs.push({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'MeshConfig',
      metadata: { name: 'mesh' },
      spec: { defaultPolicy: g.defaultAllow ? 'allow' : 'deny' },
    });
    for (let i = 1; i <= g.nodes; i++)
      docs.push({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: `n${i}` },
        status: { addresses: [{ type: 'InternalIP', address: `127.0.10.${i}` }] },
      });
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-a', labels: { team: 'a' } } });
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-b', labels: { team: 'b' } } });
    for (const w of g.workloads) {
      docs.push({
        apiVersion: 'weft.dev/v1alpha1',
        kind: 'Workload',
        metadata: { name: w.app, namespace: w.ns, labels: { app: w.app } },
        spec: { serviceAccount: w.sa, replicas: w.replicas, run: { command: 'true' } },
      });
      docs.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: w.app, namespace: w.ns },
        spec: {
          selector: { app: w.app },
          ports: [
            { name: 'http', port: 80, targetPort: 8080, appProtocol: 'http' },
            ...(w.tcp ? [{ name: 'pg', port: 5432, targetPort: 5432, appProtocol: 'tcp' }] : []),
          ],
        },
      });
    }
    g.policies.forEach((p, i) => {
      const spec: Record<string, unknown> = { action: p.action };
      if (p.target) spec['targetRefs'] = [{ group: '', kind: 'Service', name: p.target }];
      else if (p.selector) spec['selector'] = p.selector;
      if (p.rules) spec['rules'] = p.rules;
      docs.push({
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: `p${i}`, namespace: p.ns },
        spec,
      });
    });
    g.peers.forEach((p, i) =>
      docs.push({
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: `pa${i}`, namespace: p.ns },
        spec: { mtls: { mode: p.mode } },
      }),
    );
    g.netpols.forEach((n, i) =>
      docs.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `np${i}`, namespace: n.ns },
        spec: {
          podSelector: n.app ? { matchLabels: { app: n.app } } : {},
          policyTypes: ['Ingress'],
          ingress: [{ from: [n.peer], ...(n.port ? { ports: [{ port: n.port }] } : {}) }],
        },
      }),
    );
    const text = docs.map((d) => JSON.stringify(d)).join('\n---\n');
    const parsed = parseManifests([{ file: 'generated.yaml', text }]);
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0)
      throw new Error(`generator produced invalid manifests: ${JSON.stringify(errors[0])}\n${text}`);
    return { resources: parsed.resources, text };
  });

const near = (pool: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(...pool),
    fc
      .tuple(fc.constantFrom(...pool), fc.constantFrom('', 'x', '/', '/x', '.json', '-1', 'A'))
      .map(([a, b]) => a + b),
    fc.tuple(fc.constantFrom('', 'x', '/x'), fc.constantFrom(...pool)).map(([a, b]) => a + b),
    fc.string({ maxLength: 6 }),
  );

/** A request near the generated predicate values. */
export const requestArb: fc.Arbitrary<WitnessRequest> = fc.record({
  method: fc.oneof(
    fc.constantFrom(...METHODS),
    near(METHODS).map((m) => m.toUpperCase().replace(/[^A-Z0-9_-]/g, '') || 'GET'),
  ),
  path: fc.oneof(
    fc.constantFrom(...PATHS),
    near(PATHS).map((p) => (p.startsWith('/') ? p : `/${p}`)),
  ),
  host: near(HOSTS),
  headers: fc.dictionary(fc.constantFrom(...HEADERS), near(HEADER_VALUES), { maxKeys: 2 }),
});

/** Asserts the differential property for one mesh and a list of requests (see differential.test.ts). */
export function checkAgreement(
  mesh: { resources: Parameters<typeof analysisModel>[0]; text: string },
  requests: readonly WitnessRequest[],
): void {
  const a = createAnalyser(analysisModel(mesh.resources));
  for (const dst of a.destinations) {
    for (const port of dst.ports) {
      const set = a.classes(dst, port);
      assert.equal(set.inexact, '', `partition not exact: ${set.inexact}`);
      for (const src of a.sources) {
        for (const req of port.protocol === 'tcp' ? [undefined] : requests) {
          if (req !== undefined && rejectedBeforeAuthorization(req) !== '') {
            // The one class outside the partition: rejected before authorization, always denied.
            assert.equal(a.decideRequest(src, dst, port, req).allowed, false);
            continue;
          }
          const cls = classOf(set, req);
          assert.ok(
            cls,
            `request ${JSON.stringify(req)} belongs to no class at ${dst.id}:${port.port}\n${mesh.text}`,
          );
          const matching =
            req === undefined ? 1 : set.classes.filter((c) => c === cls || sameClass(c, cls)).length;
          assert.equal(matching, 1, 'classes overlap');
          const byClass = a.decide(src, dst, port, cls);
          const byEngine = a.decideRequest(src, dst, port, req);
          assert.equal(
            byClass.allowed,
            byEngine.allowed,
            `${src.id} → ${dst.id}:${port.port} ${JSON.stringify(req)}: class [${cls.constraints.join(' & ')}] says ${byClass.allowed} (${byClass.reason}), engine says ${byEngine.allowed} (${byEngine.reason})\n${mesh.text}`,
          );
        }
      }
    }
  }
}

function sameClass(a: { parts: ReadonlyMap<string, { matches: readonly string[] }> }, b: typeof a): boolean {
  if (a.parts.size !== b.parts.size) return false;
  for (const [k, p] of a.parts) {
    const q = b.parts.get(k);
    if (!q || q.matches.join('\0') !== p.matches.join('\0')) return false;
  }
  return true;
}
