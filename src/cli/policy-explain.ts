/**
 * `weft policy explain`: the decision the mesh would take for one request, and the chain behind it —
 * which route carried it to which workloads, the mTLS mode, NetworkPolicy in both directions, and
 * every AuthorizationPolicy considered, with the first field that failed for those that did not
 * match. It runs the same engine the proxies run (policy/authz, policy/routing) on the same mesh
 * model the control plane pushes (api/mesh), so the explanation cannot disagree with enforcement.
 */
import type { InstanceEntry, MeshModel, Resource, ServiceEntry, ServicePortEntry } from '../api/index.ts';
import { buildMeshModel } from '../api/index.ts';
import { compileAuthorization, compileRouter, servicesOfFromSnapshot } from '../policy/index.ts';
import type { Authorizer, Decision, TraceEntry, WorkloadInfo } from '../policy/index.ts';
import { WeftError } from '../lib/index.ts';

export interface ExplainQuery {
  /** A workload (`name` or `ns/name`) or a SPIFFE ID. */
  from: string;
  /** `service[.ns][:port]`. */
  to: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  namespace: string;
}

export interface DestinationVerdict {
  workload: string;
  instances: string[];
  port: number;
  protocol: string;
  mtls: { mode: string; reason: string };
  networkPolicy: { ingress: Decision; egress: Decision | undefined };
  authorization: Decision;
  allowed: boolean;
}

export interface Explanation {
  source: { principal: string; workload?: string; address: string };
  service: string;
  servicePort: number;
  request: { method: string; path: string } | undefined;
  route: { name: string; rule: number; backends: { service: string; weight: number }[] } | undefined;
  /** Set when the request goes nowhere (no route matches, no endpoints). */
  unreachable?: string;
  destinations: DestinationVerdict[];
  allowed: boolean;
}

function workloadsOf(model: MeshModel): WorkloadInfo[] {
  const seen = new Map<string, WorkloadInfo>();
  for (const i of model.instances) {
    const k = `${i.namespace}/${i.workload}`;
    if (!seen.has(k)) {
      seen.set(k, {
        namespace: i.namespace,
        name: i.workload,
        labels: i.labels,
        serviceAccount: i.serviceAccount,
        spiffeId: i.spiffeId,
      });
    }
  }
  return [...seen.values()];
}

function findService(
  model: MeshModel,
  to: string,
  ns: string,
): { service: ServiceEntry; port: ServicePortEntry } {
  const colon = to.lastIndexOf(':');
  const host = colon > 0 ? to.slice(0, colon) : to;
  const portText = colon > 0 ? to.slice(colon + 1) : undefined;
  const service =
    model.services.find((s) => s.namespace === ns && s.name === host) ??
    model.services.find((s) => s.hosts.includes(host));
  if (!service) {
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_SERVICE',
      `no Service "${host}" in the mesh (known: ${model.services.map((s) => `${s.namespace}/${s.name}`).join(', ') || 'none'})`,
    );
  }
  const port =
    portText === undefined
      ? service.ports[0]
      : service.ports.find((p) => String(p.port) === portText || p.name === portText);
  if (!port) {
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_SERVICE',
      `Service ${service.namespace}/${service.name} has no port ${portText ?? ''} (ports: ${service.ports.map((p) => p.port).join(', ')})`,
    );
  }
  return { service, port };
}

function findSource(
  model: MeshModel,
  from: string,
  ns: string,
): { principal: string; instance?: InstanceEntry } {
  if (from.startsWith('spiffe://')) return { principal: from };
  const [wns, name] = from.includes('/') ? (from.split('/', 2) as [string, string]) : [ns, from];
  const instance = model.instances.find((i) => i.namespace === wns && i.workload === name);
  if (!instance) {
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_WORKLOAD',
      `no Workload "${wns}/${name}" with a running instance (known: ${[...new Set(model.instances.map((i) => `${i.namespace}/${i.workload}`))].join(', ') || 'none'})`,
    );
  }
  return { principal: instance.spiffeId, instance };
}

export function explain(resources: readonly Resource[], q: ExplainQuery): Explanation {
  const model = buildMeshModel(resources);
  const src = findSource(model, q.from, q.namespace);
  const { service, port } = findService(model, q.to, q.namespace);
  const l7 = port.protocol !== 'tcp';
  const workloads = workloadsOf(model);
  const authz: Authorizer = compileAuthorization({
    security: model.security,
    mesh: model.mesh,
    workloads,
    servicesOf: servicesOfFromSnapshot(model.services),
  });
  const out: Explanation = {
    source: {
      principal: src.principal,
      ...(src.instance ? { workload: `${src.instance.namespace}/${src.instance.workload}` } : {}),
      address: src.instance?.address ?? '0.0.0.0',
    },
    service: `${service.namespace}/${service.name}`,
    servicePort: port.port,
    request: l7 ? { method: q.method, path: q.path } : undefined,
    route: undefined,
    destinations: [],
    allowed: false,
  };
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(q.headers)) lower[k.toLowerCase()] = v;
  const qi = q.path.indexOf('?');
  const req = {
    method: q.method,
    path: q.path,
    host: lower['host'] ?? service.name,
    header: (n: string) => lower[n],
  };

  // Routing decides which services (and so which workloads) the request reaches.
  let backends: { service: ServiceEntry; port: number; weight: number }[] = [
    { service, port: port.port, weight: 1 },
  ];
  if (l7) {
    const router = compileRouter(model.routes, {
      namespace: service.namespace,
      name: service.name,
      port: port.port,
    });
    if (router.hasRoutes) {
      const m = router.match({
        method: q.method,
        path: qi < 0 ? q.path : q.path.slice(0, qi),
        query: qi < 0 ? '' : q.path.slice(qi + 1),
        host: req.host,
        header: req.header,
      });
      if (!m) {
        out.unreachable = 'no route rule matches: the mesh answers 404';
        return out;
      }
      const refs = m.rule.backendRefs.filter((b) => b.weight > 0);
      out.route = {
        name: `${m.route.namespace}/${m.route.name}`,
        rule: m.ruleIndex,
        backends: refs.map((b) => ({ service: `${b.namespace}/${b.name}`, weight: b.weight })),
      };
      backends = refs.flatMap((b) => {
        const s = model.services.find((x) => x.namespace === b.namespace && x.name === b.name);
        return s ? [{ service: s, port: b.port ?? port.port, weight: b.weight }] : [];
      });
    }
  }

  for (const b of backends) {
    const bport = b.service.ports.find((p) => p.port === b.port);
    if (!bport) continue;
    const byWorkload = new Map<string, typeof b.service.endpoints>();
    for (const ep of b.service.endpoints) {
      const k = `${ep.namespace}/${ep.workload}`;
      byWorkload.set(k, [...(byWorkload.get(k) ?? []), ep]);
    }
    for (const [key, eps] of byWorkload) {
      const ep = eps[0]!;
      const wa = authz.forWorkload(ep.namespace, ep.workload);
      const conn = {
        source: { principal: src.principal, ip: out.source.address },
        destination: { ip: ep.address, port: bport.targetPort },
      };
      const authorization = l7
        ? wa.checkRequest(conn, req, { explain: true })
        : wa.checkConnection(conn, { explain: true });
      const srcPeer = {
        ip: out.source.address,
        ...(src.instance
          ? { namespace: src.instance.namespace, labels: src.instance.labels, name: src.instance.workload }
          : {}),
      };
      const ingress = authz.checkIngress(
        { namespace: ep.namespace, name: ep.workload },
        srcPeer,
        bport.targetPort,
        'TCP',
        {
          explain: true,
        },
      );
      const egress = src.instance
        ? authz.checkEgress(
            { namespace: src.instance.namespace, name: src.instance.workload },
            { ip: ep.address, namespace: ep.namespace, labels: ep.labels, name: ep.workload },
            bport.targetPort,
            'TCP',
            { explain: true },
          )
        : undefined;
      const mtls = authz.resolveMtls(ep.namespace, ep.workload, bport.targetPort);
      const allowed = authorization.allowed && ingress.allowed && (egress?.allowed ?? true);
      out.destinations.push({
        workload: key,
        instances: eps.map((e) => e.instance),
        port: bport.targetPort,
        protocol: bport.protocol,
        mtls: { mode: mtls.mode, reason: mtls.reason },
        networkPolicy: { ingress, egress },
        authorization,
        allowed,
      });
    }
  }
  if (out.destinations.length === 0 && !out.unreachable) out.unreachable = 'the service has no endpoints';
  out.allowed = out.destinations.length > 0 && out.destinations.every((d) => d.allowed);
  return out;
}

function traceLines(trace: readonly TraceEntry[] | undefined): string[] {
  if (!trace || trace.length === 0) return ['      (no policy applies)'];
  return trace.flatMap((t) => {
    const head = `      ${t.matched ? '✓' : '✗'} ${t.policy} (${t.action})${t.matched ? ` matched rule ${t.rule ?? 0}` : ' did not match'}`;
    return [head, ...(t.failures ?? []).map((f) => `          ${f}`)];
  });
}

function decisionLine(d: Decision): string {
  return `${d.allowed ? 'allowed' : 'DENIED'}${d.policy ? ` by ${d.policy}${d.rule !== undefined ? ` rule ${d.rule}` : ''}` : ''}: ${d.reason}`;
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const what = e.request ? `${e.request.method} ${e.request.path}` : 'TCP connection';
  lines.push(`${e.source.workload ?? e.source.principal} → ${e.service}:${e.servicePort}  ${what}`);
  lines.push(`  caller identity: ${e.source.principal}`);
  if (e.route) {
    lines.push(
      `  route: ${e.route.name} rule ${e.route.rule} → ${e.route.backends.map((b) => `${b.service} (weight ${b.weight})`).join(', ')}`,
    );
  } else if (e.request) lines.push('  route: none attached: the Service itself');
  if (e.unreachable) lines.push(`  unreachable: ${e.unreachable}`);
  for (const d of e.destinations) {
    lines.push(`  destination ${d.workload} (${d.instances.join(', ')}) port ${d.port}/${d.protocol}`);
    lines.push(`    mTLS: ${d.mtls.mode} (${d.mtls.reason})`);
    lines.push(`    NetworkPolicy ingress: ${decisionLine(d.networkPolicy.ingress)}`);
    if (d.networkPolicy.egress)
      lines.push(`    NetworkPolicy egress: ${decisionLine(d.networkPolicy.egress)}`);
    lines.push(`    AuthorizationPolicy: ${decisionLine(d.authorization)}`);
    lines.push(...traceLines(d.authorization.trace));
    lines.push(`    → ${d.allowed ? 'ALLOWED' : 'DENIED'}`);
  }
  lines.push(`verdict: ${e.allowed ? 'ALLOWED' : 'DENIED'}`);
  return lines.join('\n') + '\n';
}
