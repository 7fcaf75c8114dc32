/**
 * Translation cost: build the mesh model and one node's snapshot for 100 / 1,000 / 10,000 services
 * (one workload with two replicas, one HTTPRoute and one AuthorizationPolicy per service, 10 nodes).
 * The model is built once per revision and each node's snapshot derived from it, so both are shown.
 */
import type { Resource } from '../../../src/api/index.ts';
import { buildMeshModel, snapshotFor } from '../../../src/api/index.ts';
import type { MicroBenchmark } from '../harness.ts';

function meta(name: string, namespace = 'default'): Resource['metadata'] {
  return { name, namespace, labels: {}, annotations: {} };
}

export function syntheticMesh(services: number, nodes = 10): Resource[] {
  const out: Resource[] = [];
  for (let n = 0; n < nodes; n++) {
    out.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { ...meta(`node-${n}`, '') },
      spec: {},
      status: { addresses: [{ type: 'InternalIP', address: `127.0.10.${n + 1}` }] },
    });
  }
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % 20}`;
    const name = `svc-${i}`;
    out.push({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'Workload',
      metadata: meta(name, ns),
      spec: { labels: { app: name }, serviceAccount: name, replicas: 2, builtin: 'echo' },
    });
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name, ns),
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080, appProtocol: 'http' }] },
    });
    out.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta(name, ns),
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name, port: 8080 }],
        rules: [
          { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name, port: 8080 }] },
        ],
      },
    });
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: meta(name, ns),
      spec: {
        selector: { matchLabels: { app: name } },
        action: 'ALLOW',
        rules: [
          { from: [{ source: { principals: [`cluster.local/ns/${ns}/sa/svc-${(i + 1) % services}`] } }] },
        ],
      },
    });
  }
  return out;
}

const sizes = [100, 1_000, 10_000];

export const benchmarks: MicroBenchmark[] = sizes.flatMap((n) => {
  const resources = syntheticMesh(n);
  return [
    {
      name: `translate: mesh model, ${n} services`,
      fn: () => buildMeshModel(resources).services.length,
    },
    {
      name: `translate: one node snapshot, ${n} services`,
      setup: () => buildMeshModel(resources),
      fn: (model: ReturnType<typeof buildMeshModel>) => snapshotFor(model, 'node-3').version,
    } satisfies MicroBenchmark<ReturnType<typeof buildMeshModel>>,
  ];
});
