/**
 * Authorization (src/policy/authz): the per-request cost with 10, 1,000 and 10,000
 * AuthorizationPolicies in the mesh, of which the same five apply to the workload under test and all
 * others select other workloads (other namespaces, or other app labels in the same namespace). The
 * index should keep the per-request cost flat as unrelated policies grow; compiling one workload's
 * authorizer is measured apart.
 */
import type { PolicyObject } from '../../../src/api/wire/snapshot.ts';
import { compileAuthorization, prepareConnection } from '../../../src/policy/index.ts';
import type { RequestInfo, WorkloadAuthorizer, WorkloadInfo } from '../../../src/policy/index.ts';
import type { MicroBenchmark } from '../harness.ts';

const ROOT = 'weft-system';

function ap(ns: string, name: string, spec: Record<string, unknown>): PolicyObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { namespace: ns, name },
    spec,
  };
}

/** The five policies that apply to foo/httpbin. */
const APPLICABLE: PolicyObject[] = [
  ap('foo', 'deny-plaintext', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] }),
  ap('foo', 'deny-admin', {
    action: 'DENY',
    rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }],
  }),
  ap('foo', 'allow-readers', {
    selector: { matchLabels: { app: 'httpbin' } },
    rules: [
      {
        from: [
          {
            source: {
              principals: ['cluster.local/ns/default/sa/reader', 'cluster.local/ns/default/sa/sleep'],
            },
          },
        ],
        to: [{ operation: { methods: ['GET', 'HEAD'], paths: ['/info*', '/status/*'] } }],
      },
    ],
  }),
  ap('foo', 'allow-writers', {
    selector: { matchLabels: { app: 'httpbin' } },
    rules: [
      {
        from: [{ source: { namespaces: ['writers'] } }],
        to: [{ operation: { methods: ['POST'], paths: ['/data'] } }],
        when: [{ key: 'request.headers[x-team]', values: ['blue', 'green'] }],
      },
    ],
  }),
  ap(ROOT, 'audit-deletes', { action: 'AUDIT', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }),
];

function mesh(total: number): PolicyObject[] {
  const out = [...APPLICABLE];
  for (let i = 0; out.length < total; i++) {
    const spec = {
      selector: { matchLabels: { app: `app${i}` } },
      rules: [
        {
          from: [{ source: { principals: [`cluster.local/ns/ns${i % 97}/sa/client${i}`] } }],
          to: [{ operation: { methods: ['GET'], paths: [`/svc${i}/*`] } }],
        },
      ],
    };
    // A third in the workload's own namespace (other app labels), the rest in other namespaces.
    out.push(ap(i % 3 === 0 ? 'foo' : `ns${i % 97}`, `p${i}`, spec));
  }
  return out;
}

const WORKLOADS: WorkloadInfo[] = [
  {
    namespace: 'foo',
    name: 'httpbin',
    labels: { app: 'httpbin', version: 'v1' },
    serviceAccount: 'httpbin',
    spiffeId: 'spiffe://cluster.local/ns/foo/sa/httpbin',
  },
];

function authorizer(total: number): WorkloadAuthorizer {
  return compileAuthorization({
    security: {
      authorizationPolicies: mesh(total),
      peerAuthentications: [],
      networkPolicies: [],
      namespaces: [],
    },
    mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
  }).forWorkload('foo', 'httpbin');
}

const headers: Record<string, string> = { 'x-team': 'blue' };
const request = (method: string, path: string): RequestInfo => ({
  method,
  path,
  host: 'httpbin.foo',
  header: (n) => headers[n],
});
const READ = request('GET', '/info/42');
const WRITE = request('POST', '/data');
const conn = (principal: string) =>
  prepareConnection({
    source: { principal, ip: '10.0.0.5' },
    destination: { ip: '10.0.1.1', port: 8000 },
  });
const SLEEP = conn('spiffe://cluster.local/ns/default/sa/sleep');
const WRITER = conn('spiffe://cluster.local/ns/writers/sa/w');
const STRANGER = conn('spiffe://cluster.local/ns/other/sa/x');

export const benchmarks: MicroBenchmark[] = [10, 1_000, 10_000].flatMap(
  (n): MicroBenchmark<WorkloadAuthorizer>[] => [
    {
      name: `authz checkRequest allow (first ALLOW) — ${n} policies`,
      setup: () => authorizer(n),
      fn: (a) => a.checkRequest(SLEEP, READ),
    },
    {
      name: `authz checkRequest allow (second ALLOW, header) — ${n} policies`,
      setup: () => authorizer(n),
      fn: (a) => a.checkRequest(WRITER, WRITE),
    },
    {
      name: `authz checkRequest default deny — ${n} policies`,
      setup: () => authorizer(n),
      fn: (a) => a.checkRequest(STRANGER, READ),
    },
    {
      name: `authz checkConnection — ${n} policies`,
      setup: () => authorizer(n),
      fn: (a) => a.checkConnection(SLEEP),
    },
    { name: `authz compile + forWorkload — ${n} policies`, fn: () => authorizer(n) },
  ],
);
