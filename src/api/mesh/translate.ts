/**
 * The translator: a pure function from the stored resources to the snapshot of one node proxy.
 * It lives in api (not control) because the control plane, the policy analyser and offline CLI
 * verbs (`weft policy explain -f`) all need the same mesh model from the same resources.
 *
 * Deterministic by construction — every list is sorted and the version is a hash of the canonical
 * JSON — so the same resources always give the same versions and a proxy is only pushed a new
 * snapshot when something it sees changed. Placement and addresses come from the shared pure
 * functions in src/api/mesh, which `weft up` and `weft request` call too.
 */
import { createHash } from 'node:crypto';
import { meshAddresses } from './addressing.ts';
import { placeInstances } from './placement.ts';
import type { Resource } from '../resource.ts';
import { certTtlSeconds, MESH_DEFAULTS, meshSettingsOf } from '../resources/mesh-config.ts';
import { nodeAddressOf, nodeTunnelPort } from '../resources/node.ts';
import { matchLabelsMatch } from '../resources/common.ts';
import type {
  AppProtocol,
  BackendRef,
  EndpointEntry,
  FaultInjectionEntry,
  InstanceEntry,
  ListenerEntry,
  MeshSettings,
  NodeEntry,
  PolicyObject,
  RateLimitPolicyEntry,
  RouteEntry,
  RouteFilter,
  RouteMatch,
  RouteRule,
  ServiceEntry,
  Snapshot,
  TrafficPolicyEntry,
} from '../wire/snapshot.ts';

/** Everything the translator derives once per resource set; snapshots for each node reuse it. */
export interface MeshModel {
  revision: number;
  mesh: MeshSettings;
  nodes: NodeEntry[];
  instances: InstanceEntry[];
  services: ServiceEntry[];
  routes: RouteEntry[];
  trafficPolicies: TrafficPolicyEntry[];
  /** capture address by `ns/instance>svcns/svc` */
  capture: Map<string, string>;
  /** Why loopback capture is off for this mesh (too many pairs), when it is. */
  captureLimit: string | undefined;
  security: Snapshot['security'];
  faultInjections: FaultInjectionEntry[];
  rateLimitPolicies: RateLimitPolicyEntry[];
}

/** The Service annotation that opts a service into active health checks (docs/resilience.md). */
const HEALTH_CHECK_ANNOTATION = 'weft.dev/health-check';

type Obj = Record<string, unknown>;

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const rec = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
const byName = <T extends { namespace?: string; name: string }>(a: T, b: T): number =>
  cmp(`${a.namespace ?? ''}/${a.name}`, `${b.namespace ?? ''}/${b.name}`);

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function spiffeIdFor(
  trustDomain: string,
  namespace: string,
  serviceAccount: string,
  agent?: string,
): string {
  return agent
    ? `spiffe://${trustDomain}/ns/${namespace}/agent/${agent}`
    : `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Which app protocol a Service port speaks: appProtocol first, then Istio's port-name prefixes. */
export function appProtocolOf(port: Obj): AppProtocol {
  const ap = str(port['appProtocol']).toLowerCase();
  const fromName = str(port['name']).toLowerCase().split('-')[0] ?? '';
  const v = ap || fromName;
  if (v === 'http' || v === 'http1' || v === 'kubernetes.io/http') return 'http';
  if (v === 'http2' || v === 'h2c' || v === 'kubernetes.io/h2c') return 'http2';
  if (v === 'grpc' || v === 'grpc-web') return 'grpc';
  return 'tcp';
}

function meshSettings(resources: readonly Resource[]): MeshSettings {
  // Validated resources carry every default; the fallbacks keep hand-built inputs (tools, tests) sane.
  const spec = { ...MESH_DEFAULTS, ...meshSettingsOf(resources) };
  return {
    trustDomain: spec.trustDomain,
    defaultPolicy: spec.defaultPolicy,
    certTtlSeconds: certTtlSeconds(spec),
    rootNamespace: spec.rootNamespace,
    allowLogPercent: spec.telemetry?.accessLog ? spec.telemetry.sampling : 0,
  };
}

/** Build the mesh model from a complete, validated resource set. */
export function buildMeshModel(resources: readonly Resource[], revision = 0): MeshModel {
  const mesh = meshSettings(resources);
  const of = (kind: string) => resources.filter((r) => r.kind === kind);

  const nodes: NodeEntry[] = of('Node')
    .map((n) => ({
      name: n.metadata.name,
      address: nodeAddressOf(n),
      tunnelPort: nodeTunnelPort(n),
      labels: { ...n.metadata.labels },
    }))
    .sort(byName);
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));

  const workloads = of('Workload').map((w) => {
    const spec = w.spec as Obj;
    const labels = Object.keys(rec(spec['labels'])).length > 0 ? rec(spec['labels']) : w.metadata.labels;
    return {
      resource: w,
      namespace: w.metadata.namespace,
      name: w.metadata.name,
      labels,
      serviceAccount: str(spec['serviceAccount'], 'default'),
      agent: spec['agent'] === true ? w.metadata.name : undefined,
      replicas: num(spec['replicas'], 1),
      node: typeof spec['node'] === 'string' ? spec['node'] : undefined,
      ports: arr(spec['ports']),
    };
  });
  const workloadByKey = new Map(workloads.map((w) => [`${w.namespace}/${w.name}`, w]));
  const placements = placeInstances(
    workloads.map((w) => ({ namespace: w.namespace, name: w.name, replicas: w.replicas, node: w.node })),
    nodes.map((n) => n.name),
  );

  const serviceRes = of('Service').sort((a, b) => byName(a.metadata, b.metadata));
  const addresses = meshAddresses(
    placements,
    serviceRes.map((s) => ({ namespace: s.metadata.namespace, name: s.metadata.name })),
    mesh.trustDomain,
  );

  const instances: InstanceEntry[] = placements.map((p) => {
    const w = workloadByKey.get(`${p.namespace}/${p.workload}`)!;
    return {
      name: p.instance,
      namespace: p.namespace,
      workload: p.workload,
      serviceAccount: w.serviceAccount,
      spiffeId: spiffeIdFor(mesh.trustDomain, p.namespace, w.serviceAccount, w.agent),
      labels: { ...w.labels },
      address: addresses.instance.get(`${p.namespace}/${p.instance}`)!,
      plaintextAddress: addresses.plaintext.get(`${p.namespace}/${p.instance}`)!,
      node: p.node,
    };
  });

  // Indexes so selecting is linear in the size of the mesh, not quadratic.
  const workloadsByNs = new Map<string, typeof workloads>();
  for (const w of workloads) {
    const list = workloadsByNs.get(w.namespace);
    if (list) list.push(w);
    else workloadsByNs.set(w.namespace, [w]);
  }
  const instancesByWorkload = new Map<string, InstanceEntry[]>();
  for (const i of instances) {
    const k = `${i.namespace}/${i.workload}`;
    const list = instancesByWorkload.get(k);
    if (list) list.push(i);
    else instancesByWorkload.set(k, [i]);
  }

  const services: ServiceEntry[] = serviceRes.map((s) => {
    const spec = s.spec as Obj;
    const selector = rec(spec['selector']);
    const { namespace, name } = s.metadata;
    const selected =
      Object.keys(selector).length === 0
        ? []
        : (workloadsByNs.get(namespace) ?? []).filter((w) => matchLabelsMatch(selector, w.labels));
    const ports = arr(spec['ports']).map((p) => {
      const port = num(p['port'], 0);
      const target = p['targetPort'];
      let targetPort = typeof target === 'number' ? target : port;
      if (typeof target === 'string') {
        // A named targetPort resolves against the containerPorts of the selected workloads.
        for (const w of selected) {
          const named = w.ports.find((wp) => wp['name'] === target);
          if (named) targetPort = num(named['containerPort'], port);
        }
      }
      return { name: str(p['name']), port, targetPort, protocol: appProtocolOf(p) };
    });
    const endpoints: EndpointEntry[] = selected
      .flatMap((w) => instancesByWorkload.get(`${namespace}/${w.name}`) ?? [])
      .sort((a, b) => cmp(a.name, b.name))
      .map((i) => {
        const nodeLabels = nodeByName.get(i.node)?.labels ?? {};
        const locality = [
          nodeLabels['topology.kubernetes.io/region'] ?? '',
          nodeLabels['topology.kubernetes.io/zone'] ?? '',
          nodeLabels['topology.istio.io/subzone'] ?? '',
        ]
          .join('/')
          .replace(/\/+$/, '');
        return {
          instance: i.name,
          namespace: i.namespace,
          workload: i.workload,
          address: i.address,
          node: i.node,
          spiffeId: i.spiffeId,
          labels: i.labels,
          weight: 1,
          locality,
        };
      });
    const domain = 'cluster.local';
    const healthCheck = s.metadata.annotations?.[HEALTH_CHECK_ANNOTATION];
    return {
      namespace,
      name,
      hosts: [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.${domain}`],
      ports,
      endpoints,
      ...(typeof healthCheck === 'string' ? { healthCheck } : {}),
    };
  });

  const routes: RouteEntry[] = [...of('HTTPRoute'), ...of('GRPCRoute')]
    .map((r) => translateRoute(r))
    .sort((a, b) => cmp(a.kind, b.kind) || byName(a, b));

  const serviceByHost = new Map<string, ServiceEntry>();
  for (const s of services) for (const h of s.hosts) serviceByHost.set(h, s);
  const trafficPolicies: TrafficPolicyEntry[] = [];
  for (const dr of of('DestinationRule').sort((a, b) => byName(a.metadata, b.metadata))) {
    const spec = dr.spec as Obj;
    const host = str(spec['host']);
    const svc = serviceByHost.get(host) ?? serviceByHost.get(`${host}.${dr.metadata.namespace}`) ?? undefined;
    if (!svc) continue;
    trafficPolicies.push({
      namespace: dr.metadata.namespace,
      name: dr.metadata.name,
      service: { namespace: svc.namespace, name: svc.name },
      trafficPolicy: (spec['trafficPolicy'] as Obj | undefined) ?? {},
      subsets: arr(spec['subsets']).map((s) => ({
        name: str(s['name']),
        labels: rec(s['labels']),
        ...(s['trafficPolicy'] ? { trafficPolicy: s['trafficPolicy'] as Obj } : {}),
      })),
    });
  }

  const policyObject = (r: Resource): PolicyObject => ({
    apiVersion: r.apiVersion,
    kind: r.kind,
    metadata: { name: r.metadata.name, namespace: r.metadata.namespace, labels: { ...r.metadata.labels } },
    spec: r.spec as Obj,
  });
  const sortPolicies = (rs: Resource[]) =>
    rs.sort((a, b) => byName(a.metadata, b.metadata)).map(policyObject);
  const namespaceNames = new Set<string>(['default', mesh.rootNamespace]);
  for (const r of resources) if (r.metadata.namespace) namespaceNames.add(r.metadata.namespace);
  const nsLabels = new Map(of('Namespace').map((n) => [n.metadata.name, n.metadata.labels]));
  for (const n of nsLabels.keys()) namespaceNames.add(n);
  const security: Snapshot['security'] = {
    authorizationPolicies: sortPolicies(of('AuthorizationPolicy')),
    peerAuthentications: sortPolicies(of('PeerAuthentication')),
    networkPolicies: sortPolicies(of('NetworkPolicy')),
    namespaces: [...namespaceNames].sort().map((name) => ({
      name,
      // Kubernetes sets this label on every namespace automatically.
      labels: { ...nsLabels.get(name), 'kubernetes.io/metadata.name': name },
    })),
  };

  // Resilience objects the proxies read: fault injections (referenced from route rules by
  // ExtensionRef) and rate-limit policies with their target service resolved in their namespace.
  const faultInjections: FaultInjectionEntry[] = of('FaultInjection')
    .sort((a, b) => byName(a.metadata, b.metadata))
    .map((f) => ({
      namespace: f.metadata.namespace,
      name: f.metadata.name,
      spec: f.spec as FaultInjectionEntry['spec'],
    }));
  const serviceKeys = new Set(services.map((s) => `${s.namespace}/${s.name}`));
  const rateLimitPolicies: RateLimitPolicyEntry[] = [];
  for (const rl of of('RateLimitPolicy').sort((a, b) => byName(a.metadata, b.metadata))) {
    const spec = rl.spec as Obj;
    const target = str((spec['targetRef'] as Obj | undefined)?.['name']);
    if (!serviceKeys.has(`${rl.metadata.namespace}/${target}`)) continue;
    rateLimitPolicies.push({
      namespace: rl.metadata.namespace,
      name: rl.metadata.name,
      service: { namespace: rl.metadata.namespace, name: target },
      spec,
    });
  }

  return {
    revision,
    mesh,
    nodes,
    instances,
    services,
    routes,
    trafficPolicies,
    capture: addresses.capture,
    captureLimit: addresses.captureLimit,
    security,
    faultInjections,
    rateLimitPolicies,
  };
}

function translateRoute(r: Resource): RouteEntry {
  const spec = r.spec as Obj;
  const ns = r.metadata.namespace;
  const kind = r.kind === 'GRPCRoute' ? 'GRPCRoute' : 'HTTPRoute';
  const parents = arr(spec['parentRefs'])
    .filter((p) => (p['kind'] ?? 'Service') === 'Service')
    .map((p) => ({
      namespace: str(p['namespace'], ns),
      name: str(p['name']),
      ...(typeof p['port'] === 'number' ? { port: p['port'] } : {}),
    }));
  const backend = (b: Obj): BackendRef => ({
    namespace: str(b['namespace'], ns),
    name: str(b['name']),
    ...(typeof b['port'] === 'number' ? { port: b['port'] } : {}),
    weight: num(b['weight'], 1),
    ...(Array.isArray(b['filters']) ? { filters: arr(b['filters']).map((f) => filter(f, ns)) } : {}),
  });
  const rules: RouteRule[] = arr(spec['rules']).map((rule) => {
    const rawMatches = arr(rule['matches']);
    const matches: RouteMatch[] =
      rawMatches.length === 0
        ? [kind === 'HTTPRoute' ? { path: { type: 'PathPrefix', value: '/' } } : {}]
        : rawMatches.map((m) => (kind === 'HTTPRoute' ? httpMatch(m) : grpcMatch(m)));
    const out: RouteRule = {
      matches,
      filters: arr(rule['filters']).map((f) => filter(f, ns)),
      backendRefs: arr(rule['backendRefs']).map(backend),
    };
    if (typeof rule['name'] === 'string') out.name = rule['name'];
    if (rule['timeouts']) out.timeouts = rule['timeouts'] as RouteRule['timeouts'];
    if (rule['retry']) out.retry = rule['retry'] as RouteRule['retry'];
    return out;
  });
  return {
    kind,
    namespace: ns,
    name: r.metadata.name,
    creationTimestamp: r.metadata.creationTimestamp ?? '',
    parents,
    hostnames: (Array.isArray(spec['hostnames']) ? (spec['hostnames'] as string[]) : []).slice(),
    rules,
  };
}

function httpMatch(m: Obj): RouteMatch {
  const out: RouteMatch = {};
  const path = m['path'] as Obj | undefined;
  out.path = path
    ? { type: (path['type'] as 'Exact') ?? 'PathPrefix', value: str(path['value'], '/') }
    : { type: 'PathPrefix', value: '/' };
  if (Array.isArray(m['headers'])) out.headers = arr(m['headers']).map(nameValue);
  if (Array.isArray(m['queryParams'])) out.queryParams = arr(m['queryParams']).map(nameValue);
  if (typeof m['method'] === 'string') out.method = m['method'];
  return out;
}

function nameValue(h: Obj): { type: 'Exact' | 'RegularExpression'; name: string; value: string } {
  return {
    type: h['type'] === 'RegularExpression' ? 'RegularExpression' : 'Exact',
    name: str(h['name']),
    value: str(h['value']),
  };
}

/** GRPCRoute method matches keep their own shape; the router matches them on `/service/method`. */
function grpcMatch(m: Obj): RouteMatch {
  const out: RouteMatch = {};
  const method = m['method'] as Obj | undefined;
  if (method) {
    const gm: NonNullable<RouteMatch['grpcMethod']> = {
      type: method['type'] === 'RegularExpression' ? 'RegularExpression' : 'Exact',
    };
    if (typeof method['service'] === 'string') gm.service = method['service'];
    if (typeof method['method'] === 'string') gm.method = method['method'];
    out.grpcMethod = gm;
  }
  if (Array.isArray(m['headers'])) out.headers = arr(m['headers']).map(nameValue);
  return out;
}

function filter(f: Obj, ns: string): RouteFilter {
  if (f['type'] === 'RequestMirror') {
    const mirror = f['requestMirror'] as Obj;
    const b = mirror['backendRef'] as Obj;
    return {
      type: 'RequestMirror',
      requestMirror: {
        backendRef: {
          namespace: str(b['namespace'], ns),
          name: str(b['name']),
          ...(typeof b['port'] === 'number' ? { port: b['port'] } : {}),
          weight: 1,
        },
        ...(typeof mirror['percent'] === 'number' ? { percent: mirror['percent'] } : {}),
      },
    };
  }
  return f as unknown as RouteFilter;
}

/** The snapshot for one node. */
export function snapshotFor(model: MeshModel, nodeName: string): Snapshot {
  const local = model.instances.filter((i) => i.node === nodeName);
  const listeners: ListenerEntry[] = [];
  for (const i of model.capture.size > 0 ? local : []) {
    for (const s of model.services) {
      const address = model.capture.get(`${i.namespace}/${i.name}>${s.namespace}/${s.name}`);
      if (!address) continue;
      for (const p of s.ports) {
        listeners.push({
          address,
          port: p.port,
          source: `${i.namespace}/${i.name}`,
          service: { namespace: s.namespace, name: s.name },
          protocol: p.protocol,
        });
      }
    }
  }
  listeners.sort((a, b) => cmp(a.address, b.address) || a.port - b.port);
  const body: Omit<Snapshot, 'version'> = {
    node: nodeName,
    revision: model.revision,
    mesh: model.mesh,
    nodes: model.nodes,
    instances: model.instances,
    localInstances: local.map((i) => `${i.namespace}/${i.name}`).sort(),
    services: model.services,
    routes: model.routes,
    trafficPolicies: model.trafficPolicies,
    listeners,
    security: model.security,
    faultInjections: model.faultInjections,
    rateLimitPolicies: model.rateLimitPolicies,
  };
  // The version hashes content only (not the revision number: an apply that changes nothing this
  // node sees must not produce a new version for it). The mesh-wide part is hashed once per model.
  const version = contentHash([sharedHash(model), nodeName, body.localInstances, listeners]);
  return { version, ...body };
}

const sharedHashes = new WeakMap<MeshModel, string>();

function sharedHash(model: MeshModel): string {
  let h = sharedHashes.get(model);
  if (h === undefined) {
    const { revision: _revision, capture: _capture, captureLimit: _limit, ...shared } = model;
    h = contentHash(shared);
    sharedHashes.set(model, h);
  }
  return h;
}

/**
 * The JSON text of a snapshot for the push stream. Every node's snapshot shares the mesh-wide parts
 * (services, routes, security…) by reference with the model, so each shared value is serialised
 * once and its text reused for every node; only the per-node parts (listeners, local instances) are
 * serialised per node. Key order does not matter to the receiver: the version is the content hash.
 */
const jsonOfShared = new WeakMap<object, string>();

export function snapshotJson(snapshot: Snapshot): string {
  let out = '{';
  let first = true;
  for (const [key, value] of Object.entries(snapshot)) {
    if (value === undefined) continue;
    let json: string;
    if (value !== null && typeof value === 'object') {
      json = jsonOfShared.get(value) ?? JSON.stringify(value);
      jsonOfShared.set(value, json);
    } else json = JSON.stringify(value);
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + json;
    first = false;
  }
  return out + '}';
}

/** Translate a resource set for one node (convenience for tests and tools). */
export function translate(resources: readonly Resource[], nodeName: string, revision = 0): Snapshot {
  return snapshotFor(buildMeshModel(resources, revision), nodeName);
}

/** SPIFFE IDs a node may obtain SVIDs for: those of the instances placed on it. */
export function identitiesOnNode(model: MeshModel, nodeName: string): Set<string> {
  return new Set(model.instances.filter((i) => i.node === nodeName).map((i) => i.spiffeId));
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v as Obj);
      let sorted = true;
      for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
      if (sorted) return v;
      const out: Obj = {};
      for (const k of keys.sort()) out[k] = (v as Obj)[k];
      return out;
    }
    return v;
  });
}

export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}
