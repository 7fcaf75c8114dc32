/**
 * What `weft up` runs for a set of resources: the nodes (with their tunnel and admin addresses), and
 * every workload instance with its node, its loopback address, the ports it serves, its environment
 * and the command that runs it. Pure: the same placement (src/api/mesh/placement.ts) and addressing
 * (meshAddresses, src/api/mesh/addressing.ts) the control plane's translator uses, so the address an
 * instance listens on and the capture addresses in its environment are exactly the ones its node
 * proxy serves (docs/architecture.md, "Capture").
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  captureKey,
  matchLabelsMatch,
  meshAddresses,
  meshSettingsOf,
  nodeAddressOf,
  placeInstances,
  resourceKey,
  serviceEnvName,
} from '../api/index.ts';
import type { NodeSpec, Resource, ServiceSpec, SourceRef, WorkloadSpec } from '../api/index.ts';

/** The admin port of every node proxy `weft up` starts (on the node's own loopback address). */
export const PROXY_ADMIN_PORT = 15000;

export interface PlannedNode {
  name: string;
  /** Tunnel listener address (InternalIP). */
  address: string;
  /** host:port of the proxy's admin server. */
  admin: string;
}

export type Readiness =
  | { type: 'http'; host: string; port: number; path: string }
  | { type: 'tcp'; host: string; port: number }
  | { type: 'none' };

export interface PlannedInstance {
  /** `ns/instance`, the key in pids.json. */
  key: string;
  namespace: string;
  instance: string;
  workload: string;
  node: string;
  address: string;
  /** Numeric ports the instance serves (targetPorts of the Services selecting it). */
  ports: number[];
  command: string;
  args: string[];
  cwd: string;
  /** The mesh part of the environment (the runtime adds the parent's environment under it). */
  env: Record<string, string>;
  readiness: Readiness;
  /** A stable digest of how it runs: an instance is restarted by --watch only when this changes. */
  fingerprint: string;
}

export interface PlannedService {
  namespace: string;
  name: string;
  ports: { name: string; port: number; targetPort: number }[];
  /** Instance addresses with their target ports (what the service routes to). */
  endpoints: { instance: string; node: string; address: string }[];
}

export interface MeshPlan {
  nodes: PlannedNode[];
  instances: PlannedInstance[];
  services: PlannedService[];
  workloads: number;
  trustDomain: string;
}

export interface PlanOptions {
  /** Absolute path of the weft entry file (src/bin/weft.ts): builtin workloads run `weft echo`. */
  entry: string;
  /** The Node.js binary for weft's own processes and for `command: node`. */
  execPath: string;
  /** Where each resource came from (for `run.cwd`, relative to the manifest's directory). */
  sources?: ReadonlyMap<string, SourceRef>;
  /** Fallback directory for relative `run.cwd` and commands (the user's working directory). */
  cwd: string;
}

/**
 * The third octet of the default nodes' addresses: 127.0.10.<i> for the default trust domain
 * (`cluster.local`), and for any other trust domain a subnet of its own in 127.0.11–250.x, so two
 * meshes with different trust domains (a test beside the quickstart, the benchmark) never share a
 * node address — everything else a mesh binds is already salted by the trust domain.
 */
export function defaultNodeSubnet(trustDomain: string): number {
  if (trustDomain === 'cluster.local') return 10;
  let h = 0x811c9dc5;
  for (let i = 0; i < trustDomain.length; i++) h = Math.imul(h ^ trustDomain.charCodeAt(i), 0x01000193);
  return 11 + ((h >>> 0) % 240);
}

/** `v1 Node` resources node-1..node-N on 127.0.<subnet>.<i> (tunnel port 15008). */
export function defaultNodes(count: number, trustDomain: string): Resource<NodeSpec>[] {
  const subnet = defaultNodeSubnet(trustDomain);
  const out: Resource<NodeSpec>[] = [];
  for (let i = 1; i <= count; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `node-${i}`,
        namespace: '',
        labels: { 'weft.dev/managed-by': 'weft-up' },
        annotations: {},
      },
      spec: {} as NodeSpec,
      status: { addresses: [{ type: 'InternalIP', address: `127.0.${subnet}.${i}` }] },
    });
  return out;
}

function byKey(a: { metadata: { namespace: string; name: string } }, b: typeof a): number {
  const x = `${a.metadata.namespace}/${a.metadata.name}`;
  const y = `${b.metadata.namespace}/${b.metadata.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Computes the plan. `resources` must already contain the Node resources. */
export function planMesh(resources: readonly Resource[], options: PlanOptions): MeshPlan {
  const trustDomain = meshSettingsOf(resources).trustDomain;
  const nodes = (resources.filter((r) => r.kind === 'Node') as Resource<NodeSpec>[])
    .map((n) => ({ name: n.metadata.name, address: nodeAddressOf(n) }))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((n) => ({ ...n, admin: `${n.address}:${PROXY_ADMIN_PORT}` }));
  const workloads = (
    resources.filter((r) => r.kind === 'Workload') as unknown as Resource<WorkloadSpec>[]
  ).sort(byKey);
  const services = (resources.filter((r) => r.kind === 'Service') as unknown as Resource<ServiceSpec>[]).sort(
    byKey,
  );
  const workloadOf = new Map(workloads.map((w) => [`${w.metadata.namespace}/${w.metadata.name}`, w]));
  const labelsOf = (w: Resource<WorkloadSpec>) =>
    Object.keys(w.spec.labels ?? {}).length > 0 ? w.spec.labels : w.metadata.labels;
  const selects = (s: Resource<ServiceSpec>, w: Resource<WorkloadSpec>) =>
    s.metadata.namespace === w.metadata.namespace &&
    s.spec.selector !== undefined &&
    Object.keys(s.spec.selector).length > 0 &&
    matchLabelsMatch(s.spec.selector, labelsOf(w));
  const targetPortOf = (p: ServiceSpec['ports'][number], w: Resource<WorkloadSpec> | undefined): number => {
    if (typeof p.targetPort === 'number') return p.targetPort;
    return w?.spec.ports?.find((wp) => wp.name === p.targetPort)?.containerPort ?? p.port;
  };

  const placements = placeInstances(
    workloads.map((w) => ({
      namespace: w.metadata.namespace,
      name: w.metadata.name,
      replicas: w.spec.replicas,
      node: w.spec.node,
    })),
    nodes.map((n) => n.name),
  );
  const addresses = meshAddresses(
    placements,
    services.map((s) => ({ namespace: s.metadata.namespace, name: s.metadata.name })),
    trustDomain,
  );

  const instances: PlannedInstance[] = placements.map((p) => {
    const w = workloadOf.get(`${p.namespace}/${p.workload}`)!;
    const address = addresses.instance.get(`${p.namespace}/${p.instance}`)!;
    const ports: number[] = [];
    for (const s of services)
      if (selects(s, w))
        for (const sp of s.spec.ports) {
          const tp = targetPortOf(sp, w);
          if (!ports.includes(tp)) ports.push(tp);
        }
    const env: Record<string, string> = {
      WEFT_LISTEN_ADDR: address,
      WEFT_PORTS: ports.join(','),
      WEFT_WORKLOAD: p.workload,
      WEFT_NAMESPACE: p.namespace,
      WEFT_SERVICE_ACCOUNT: w.spec.serviceAccount,
      WEFT_NODE: p.node,
      WEFT_INSTANCE: p.instance,
      WEFT_SPIFFE_ID: w.spec.agent
        ? `spiffe://${trustDomain}/ns/${p.namespace}/agent/${p.workload}`
        : `spiffe://${trustDomain}/ns/${p.namespace}/sa/${w.spec.serviceAccount}`,
    };
    if (ports[0] !== undefined) env.PORT = String(ports[0]);
    const sameNs = new Set(
      services.filter((s) => s.metadata.namespace === p.namespace).map((s) => s.metadata.name),
    );
    for (const s of services) {
      const first = s.spec.ports[0];
      const capture = addresses.capture.get(
        captureKey({ namespace: p.namespace, instance: p.instance }, s.metadata),
      );
      if (!first || !capture) continue;
      const addr = `${capture}:${first.port}`;
      const name = serviceEnvName(s.metadata.name);
      const set = (prefix: string) => {
        env[`${prefix}_URL`] = `http://${addr}`;
        env[`${prefix}_ADDR`] = addr;
      };
      if (s.metadata.namespace === p.namespace || !sameNs.has(s.metadata.name)) set(name);
      if (s.metadata.namespace !== p.namespace) set(`${name}_${serviceEnvName(s.metadata.namespace)}`);
    }
    const manifestDir = (() => {
      const ref = options.sources?.get(resourceKey(w));
      return ref ? dirname(resolve(options.cwd, ref.file)) : options.cwd;
    })();
    let command: string;
    let args: string[];
    let cwd = manifestDir;
    if (w.spec.builtin === 'echo' || !w.spec.run) {
      command = options.execPath;
      args = [options.entry, 'echo', ...(w.spec.args ?? [])];
    } else {
      Object.assign(env, w.spec.run.env);
      command = w.spec.run.command === 'node' ? options.execPath : w.spec.run.command;
      args = [...w.spec.run.args];
      if (w.spec.run.cwd)
        cwd = isAbsolute(w.spec.run.cwd) ? w.spec.run.cwd : resolve(manifestDir, w.spec.run.cwd);
      // A relative command path ("./bin/app") is relative to the working directory.
      if (command.startsWith('./') || command.startsWith('../')) command = resolve(cwd, command);
    }
    const readiness = readinessOf(w, address, ports);
    const fingerprint = JSON.stringify([p.node, address, command, args, cwd, env, readiness]);
    return {
      key: `${p.namespace}/${p.instance}`,
      namespace: p.namespace,
      instance: p.instance,
      workload: p.workload,
      node: p.node,
      address,
      ports,
      command,
      args,
      cwd,
      env,
      readiness,
      fingerprint,
    };
  });

  const planned: PlannedService[] = services.map((s) => {
    const selected = workloads.filter((w) => selects(s, w));
    const selectedNames = new Set(selected.map((w) => w.metadata.name));
    return {
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      ports: s.spec.ports.map((p) => ({
        name: p.name ?? '',
        port: p.port,
        targetPort: targetPortOf(p, selected[0]),
      })),
      endpoints: instances
        .filter((i) => i.namespace === s.metadata.namespace && selectedNames.has(i.workload))
        .map((i) => ({ instance: i.instance, node: i.node, address: i.address })),
    };
  });

  return { nodes, instances, services: planned, workloads: workloads.length, trustDomain };
}

function readinessOf(w: Resource<WorkloadSpec>, host: string, ports: number[]): Readiness {
  const portOf = (p: number | string): number | undefined =>
    typeof p === 'number' ? p : w.spec.ports?.find((wp) => wp.name === p)?.containerPort;
  const r = w.spec.readiness;
  if (r?.httpGet) {
    const port = portOf(r.httpGet.port);
    if (port !== undefined) return { type: 'http', host, port, path: r.httpGet.path };
  }
  if (r?.tcpSocket) {
    const port = portOf(r.tcpSocket.port);
    if (port !== undefined) return { type: 'tcp', host, port };
  }
  if (ports[0] === undefined) return { type: 'none' };
  if (w.spec.builtin === 'echo') return { type: 'http', host, port: ports[0], path: '/healthz' };
  return { type: 'tcp', host, port: ports[0] };
}
