/**
 * The mesh the control-plane benchmark applies, as raw resource objects (what `weft apply` sends):
 * N Node resources, W workloads per node pinned with `spec.node` (one service account each, so every
 * instance is its own SPIFFE identity to sign), one HTTP Service per `perService` workloads with an
 * HTTPRoute (GAMMA: parentRef = Service) and an ALLOW AuthorizationPolicy naming the next service's
 * callers, under a deny-by-default MeshConfig. Changes for the measured applies alternate between a
 * Service (targetPort) and an AuthorizationPolicy (a path), so every apply moves every node's
 * snapshot (each snapshot carries the whole service and policy set). Pure: unit-tested against the
 * real validator in test/bench/control-mesh.test.ts.
 */

export interface BenchMeshOptions {
  nodes: number;
  trustDomain: string;
  /** Workloads placed on each node (default 2). */
  workloadsPerNode?: number;
  /** Workloads selected by each Service (default 10; at least 2 services are made). */
  perService?: number;
  /** Namespaces the services and workloads are spread over (default 10). */
  namespaces?: number;
}

export type RawResource = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

export interface BenchMesh {
  resources: RawResource[];
  nodes: string[];
  services: { namespace: string; name: string }[];
  /** SPIFFE IDs placed on each node (the identities its proxy may ask SVIDs for). */
  identitiesByNode: Map<string, string[]>;
  options: Required<BenchMeshOptions>;
}

export const nodeName = (i: number): string => `node-${String(i).padStart(4, '0')}`;

/** Loopback address of node `i`: 127.30.x.y, never .0 or .255 (only written into the Node; nothing binds it). */
export function nodeAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= 250 * 256) throw new RangeError(`node index ${i} out of range`);
  return `127.30.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export function benchMesh(o: BenchMeshOptions): BenchMesh {
  const options: Required<BenchMeshOptions> = {
    workloadsPerNode: 2,
    perService: 10,
    namespaces: 10,
    ...o,
  };
  const { nodes: n, trustDomain, workloadsPerNode, perService, namespaces } = options;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`nodes must be a positive integer (got ${n})`);
  const workloads = n * workloadsPerNode;
  const serviceCount = Math.max(2, Math.floor(workloads / perService));
  const nsOf = (service: number): string => `ns-${service % namespaces}`;
  const svcName = (service: number): string => `svc-${String(service).padStart(4, '0')}`;
  const resources: RawResource[] = [
    {
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'MeshConfig',
      metadata: { name: 'mesh' },
      spec: { trustDomain, defaultPolicy: 'deny' },
    },
  ];
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(nodeName(i));
    resources.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName(i), labels: { 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
      status: { addresses: [{ type: 'InternalIP', address: nodeAddress(i) }] },
    });
  }
  const identitiesByNode = new Map<string, string[]>(nodes.map((x) => [x, []]));
  // Workload w serves service w % S; its namespace is that service's namespace.
  const callersOf = new Map<number, { ns: string; sa: string }[]>();
  for (let w = 0; w < workloads; w++) {
    const service = w % serviceCount;
    const ns = nsOf(service);
    const name = `wl-${String(w).padStart(5, '0')}`;
    const node = nodeName(Math.floor(w / workloadsPerNode));
    resources.push({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'Workload',
      metadata: { name, namespace: ns },
      spec: { labels: { app: svcName(service) }, serviceAccount: name, node, replicas: 1, builtin: 'echo' },
    });
    identitiesByNode.get(node)!.push(`spiffe://${trustDomain}/ns/${ns}/sa/${name}`);
    const list = callersOf.get(service) ?? [];
    list.push({ ns, sa: name });
    callersOf.set(service, list);
  }
  const services: { namespace: string; name: string }[] = [];
  for (let s = 0; s < serviceCount; s++) {
    const ns = nsOf(s);
    const name = svcName(s);
    services.push({ namespace: ns, name });
    resources.push(serviceResource(ns, name, 8080));
    resources.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace: ns },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name, port: 80 }],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
            backendRefs: [{ name, port: 80 }],
            timeouts: { request: '5s' },
          },
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name, port: 80 }] },
        ],
      },
    });
    const callers = callersOf.get((s + 1) % serviceCount) ?? [];
    resources.push(
      policyResource(
        ns,
        name,
        callers.map((c) => `${trustDomain}/ns/${c.ns}/sa/${c.sa}`),
        ['/api/*'],
      ),
    );
  }
  return { resources, nodes, services, identitiesByNode, options };
}

function serviceResource(namespace: string, name: string, targetPort: number): RawResource {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      selector: { app: name },
      ports: [{ name: 'http', port: 80, targetPort, appProtocol: 'http' }],
    },
  };
}

function policyResource(namespace: string, name: string, principals: string[], paths: string[]): RawResource {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      action: 'ALLOW',
      rules: [
        { from: [{ source: { principals } }], to: [{ operation: { methods: ['GET', 'POST'], paths } }] },
      ],
    },
  };
}

/**
 * The resource changed by measured apply `k` (0-based): even k moves a Service's targetPort, odd k
 * adds a path to an AuthorizationPolicy. Each call differs from the previous one and from the
 * initial mesh, so each apply is a real change for every node.
 */
export function changeFor(mesh: BenchMesh, k: number): { resource: RawResource; what: string } {
  const s = mesh.services[Math.floor(k / 2) % mesh.services.length]!;
  if (k % 2 === 0) {
    const port = 9000 + k;
    return {
      resource: serviceResource(s.namespace, s.name, port),
      what: `Service ${s.namespace}/${s.name} targetPort ${port}`,
    };
  }
  const original = mesh.resources.find(
    (r) =>
      r.kind === 'AuthorizationPolicy' && r.metadata.name === s.name && r.metadata.namespace === s.namespace,
  )!;
  const rules = (original.spec!['rules'] as { from: { source: { principals: string[] } }[] }[])[0]!;
  const principals = rules.from[0]!.source.principals;
  const path = `/v${k}/*`;
  return {
    resource: policyResource(s.namespace, s.name, principals, ['/api/*', path]),
    what: `AuthorizationPolicy ${s.namespace}/${s.name} + path ${path}`,
  };
}
