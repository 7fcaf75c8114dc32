/**
 * The analyser: every (source, destination workload, port) of a mesh model and every class of request
 * the policies distinguish there, each decided by the engine the proxies run (compileAuthorization:
 * AuthorizationPolicy, PeerAuthentication, NetworkPolicy) on a concrete witness of the class.
 *
 * Decision procedure (docs/policy-analysis.md):
 * 1. Sources are the mesh's workload instances, grouped when nothing in the policies can tell them
 *    apart (same identity, namespace, labels and the same CIDR vector of the address the destination
 *    sees — the source node proxy's address, as inbound.ts passes the tunnel peer address).
 *    Destinations are workload instances grouped the same way (their address is `destination.ip`).
 * 2. For a destination workload and port, the request space is the product of the attribute
 *    partitions of witness.ts (method, path, host, each header a `when` tests), built from the
 *    predicate values of the policies that apply to that workload (plus any extra values a caller
 *    needs, e.g. an invariant's operation or the other side of a diff). Every request lies in
 *    exactly one cell; attributes no applicable policy tests cannot change a decision, so they take a
 *    fixed default. TCP ports have one class: the connection.
 * 3. Each cell is decided with the real engine on its witness: mTLS mode, NetworkPolicy ingress and
 *    egress, then AuthorizationPolicy (`checkRequest` on HTTP ports, `checkConnection` on TCP, as
 *    proxy/inbound.ts does). Mesh traffic always arrives over the mTLS tunnel with the source SVID.
 */
import type { MeshModel } from '../../api/index.ts';
import type { PolicyObject } from '../../api/wire/snapshot.ts';
import { compileAuthorization, servicesOfFromSnapshot } from '../authz/authorizer.ts';
import type { Authorizer } from '../authz/authorizer.ts';
import { prepareConnection } from '../authz/authorization.ts';
import type { PreparedConnection } from '../authz/authorization.ts';
import type { Decision, MtlsModeValue, RequestInfo, WorkloadInfo } from '../authz/types.ts';
import {
  collectAuthorization,
  collectNetworkPolicies,
  emptyPredicates,
  mergePredicates,
} from './predicates.ts';
import type { PredicateValues } from './predicates.ts';
import { compileCidrs, ipVector, partitionStrings } from './witness.ts';
import type { AttributePart } from './witness.ts';

/** A class of sources no policy tells apart. */
export interface AnalysisSource {
  /** `ns/workload`, or `ns/workload@<address>` when its instances are told apart by address. */
  readonly id: string;
  readonly workload: string;
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The SPIFFE ID it presents. */
  readonly principal: string;
  /** The address the destination sees (the source node proxy's address). */
  readonly ip: string;
  readonly instances: readonly string[];
}

export interface DestinationPort {
  /** The workload port (the Service's targetPort): what `ports` and `destination.port` see. */
  readonly port: number;
  readonly protocol: string;
  /** `ns/service:port` of every Service port that leads here. */
  readonly services: readonly string[];
}

export interface AnalysisDestination {
  readonly id: string;
  readonly workload: string;
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly principal: string;
  readonly ip: string;
  readonly instances: readonly string[];
  readonly ports: readonly DestinationPort[];
}

/** A concrete request (the witness of a class). */
export interface WitnessRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** One class of requests: the constraints every member satisfies, and a witness. */
export interface RequestClass {
  /** undefined on TCP ports: the class is the connection. */
  readonly request: WitnessRequest | undefined;
  /** Human-readable constraints, e.g. `path matches "/api*", not "/api/admin*"`. */
  readonly constraints: readonly string[];
  /** Per attribute, the matcher texts the class matches (for invariant operations). */
  readonly parts: ReadonlyMap<string, AttributePart>;
}

export interface RequestClasses {
  readonly classes: readonly RequestClass[];
  /** Why the classes are not proved to cover the space ('' when exact). */
  readonly inexact: string;
}

export interface Verdict {
  readonly allowed: boolean;
  readonly reason: string;
  /** The policies that decided (`Kind ns/name` for non-authorization ones). */
  readonly policies: readonly string[];
  readonly mtls: MtlsModeValue;
}

export interface AnalyserOptions {
  /** Predicate values to refine every partition by (e.g. the other side of a diff). */
  readonly extra?: PredicateValues;
  /** Upper bound of classes per (destination, port); beyond it the result is marked inexact. */
  readonly maxClasses?: number;
}

export interface Analyser {
  readonly model: MeshModel;
  readonly sources: readonly AnalysisSource[];
  readonly destinations: readonly AnalysisDestination[];
  readonly authorizer: Authorizer;
  /** Explicit statements about what the analysis does not decide exactly. */
  readonly notes: readonly string[];
  /** The predicate values of the policies applying to a destination workload. */
  predicatesFor(dst: AnalysisDestination): PredicateValues;
  /** The request classes at a destination port (cached when `extra` is undefined). */
  classes(dst: AnalysisDestination, port: DestinationPort, extra?: PredicateValues): RequestClasses;
  /** The engine's decision for one class from one source. */
  decide(src: AnalysisSource, dst: AnalysisDestination, port: DestinationPort, cls: RequestClass): Verdict;
  /** The engine's decision for any concrete request (for differential tests). */
  decideRequest(
    src: AnalysisSource,
    dst: AnalysisDestination,
    port: DestinationPort,
    req: WitnessRequest | undefined,
  ): Verdict;
}

const DEFAULT_MAX_CLASSES = 50_000;

function sortKey<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Builds the analyser for a mesh model. Throws the engine's WEFT_AUTHZ_INVALID_POLICY on bad policies. */
export function createAnalyser(model: MeshModel, options: AnalyserOptions = {}): Analyser {
  const maxClasses = options.maxClasses ?? DEFAULT_MAX_CLASSES;
  const workloads = new Map<string, WorkloadInfo>();
  for (const i of model.instances) {
    const k = `${i.namespace}/${i.workload}`;
    if (!workloads.has(k))
      workloads.set(k, {
        namespace: i.namespace,
        name: i.workload,
        labels: i.labels,
        serviceAccount: i.serviceAccount,
        spiffeId: i.spiffeId,
      });
  }
  const authorizer = compileAuthorization({
    security: model.security,
    mesh: model.mesh,
    workloads: [...workloads.values()],
    servicesOf: servicesOfFromSnapshot(model.services),
  });
  const policyByKey = new Map<string, PolicyObject>();
  for (const p of model.security.authorizationPolicies)
    policyByKey.set(`${p.metadata.namespace}/${p.metadata.name}`, p);

  // Every CIDR anywhere: addresses in the same cells are indistinguishable to every policy.
  const global = emptyPredicates();
  collectAuthorization(model.security.authorizationPolicies, global);
  collectNetworkPolicies(model.security.networkPolicies, global);
  const cidrs = compileCidrs([...global.cidrs, ...(options.extra?.cidrs ?? [])]);
  const notes: string[] = [];
  for (const k of [...global.fixed].sort()) {
    notes.push(
      k === 'connection.sni'
        ? 'connection.sni: the tunnel carries no SNI to the authorizer, so conditions on it never hold; decided exactly on that basis'
        : `${k}: Weft has no request authentication, so the attribute is always absent; decided exactly on that basis`,
    );
  }

  const srcGroups = new Map<
    string,
    { s: Omit<AnalysisSource, 'id' | 'instances'>; instances: string[]; v: string }
  >();
  const dstGroups = new Map<
    string,
    { d: Omit<AnalysisDestination, 'id' | 'instances' | 'ports'>; instances: string[]; v: string }
  >();
  for (const i of model.instances) {
    const wk = `${i.namespace}/${i.workload}`;
    // The destination proxy gives policies the calling instance's own address as source.ip.
    const srcIp = i.address;
    const sv = ipVector(cidrs, srcIp);
    const sk = `${wk}|${sv}`;
    const sg = srcGroups.get(sk);
    if (sg) sg.instances.push(i.name);
    else
      srcGroups.set(sk, {
        s: {
          workload: wk,
          namespace: i.namespace,
          name: i.workload,
          serviceAccount: i.serviceAccount,
          labels: i.labels,
          principal: i.spiffeId,
          ip: srcIp,
        },
        instances: [i.name],
        v: sv,
      });
    const dv = ipVector(cidrs, i.address);
    const dk = `${wk}|${dv}`;
    const dg = dstGroups.get(dk);
    if (dg) dg.instances.push(i.name);
    else
      dstGroups.set(dk, {
        d: {
          workload: wk,
          namespace: i.namespace,
          name: i.workload,
          serviceAccount: i.serviceAccount,
          labels: i.labels,
          principal: i.spiffeId,
          ip: i.address,
        },
        instances: [i.name],
        v: dv,
      });
  }
  const multi = (groups: Iterable<{ s?: { workload: string }; d?: { workload: string } }>): Set<string> => {
    const count = new Map<string, number>();
    for (const g of groups) {
      const w = (g.s ?? g.d)!.workload;
      count.set(w, (count.get(w) ?? 0) + 1);
    }
    return new Set([...count].filter(([, n]) => n > 1).map(([w]) => w));
  };
  const splitSrc = multi(srcGroups.values());
  const sources: AnalysisSource[] = [...srcGroups.values()]
    .map((g) => ({
      ...g.s,
      id: splitSrc.has(g.s.workload) ? `${g.s.workload}@${g.s.ip}` : g.s.workload,
      instances: g.instances,
    }))
    .sort(sortKey);

  const portsOf = new Map<string, Map<number, { protocol: string; services: string[] }>>();
  for (const s of model.services) {
    const seen = new Set<string>();
    for (const e of s.endpoints) {
      const wk = `${e.namespace}/${e.workload}`;
      if (seen.has(wk)) continue;
      seen.add(wk);
      let m = portsOf.get(wk);
      if (!m) portsOf.set(wk, (m = new Map()));
      for (const p of s.ports) {
        const e2 = m.get(p.targetPort);
        const svc = `${s.namespace}/${s.name}:${p.port}`;
        if (e2) {
          e2.services.push(svc);
          if (e2.protocol !== p.protocol && p.protocol !== 'tcp') e2.protocol = p.protocol;
        } else m.set(p.targetPort, { protocol: p.protocol, services: [svc] });
      }
    }
  }
  const splitDst = multi(dstGroups.values());
  const destinations: AnalysisDestination[] = [...dstGroups.values()]
    .map((g) => ({
      ...g.d,
      id: splitDst.has(g.d.workload) ? `${g.d.workload}@${g.d.ip}` : g.d.workload,
      instances: g.instances,
      ports: [...(portsOf.get(g.d.workload) ?? new Map()).entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([port, v]) => ({ port, protocol: v.protocol, services: v.services })),
    }))
    .sort(sortKey);

  const routeNotes = new Set<string>();
  for (const r of model.routes) {
    r.rules.forEach((rule, ri) => {
      for (const m of rule.matches) {
        const regex =
          m.path?.type === 'RegularExpression' ||
          (m.headers ?? []).some((h) => h.type === 'RegularExpression') ||
          (m.queryParams ?? []).some((h) => h.type === 'RegularExpression') ||
          m.grpcMethod?.type === 'RegularExpression';
        if (regex)
          routeNotes.add(
            `${r.kind} ${r.namespace}/${r.name} rules[${ri}] matches with a regular expression: which backend such requests reach is not computed; every backend of the route is treated as reachable`,
          );
      }
    });
  }
  notes.push(...[...routeNotes].sort());

  const predCache = new Map<string, PredicateValues>();
  const predicatesFor = (dst: AnalysisDestination): PredicateValues => {
    let p = predCache.get(dst.workload);
    if (!p) {
      p = emptyPredicates();
      const wa = authorizer.forWorkload(dst.namespace, dst.name);
      collectAuthorization(
        wa.policies.map((k) => policyByKey.get(k)).filter((x): x is PolicyObject => x !== undefined),
        p,
      );
      predCache.set(dst.workload, p);
    }
    return p;
  };

  const classCache = new Map<string, RequestClasses>();
  const classes = (
    dst: AnalysisDestination,
    port: DestinationPort,
    extra?: PredicateValues,
  ): RequestClasses => {
    const key = `${dst.workload}|${port.port}`;
    if (!extra) {
      const c = classCache.get(key);
      if (c) return c;
    }
    let preds = predicatesFor(dst);
    if (options.extra) preds = mergePredicates(preds, options.extra);
    if (extra) preds = mergePredicates(preds, extra);
    const host = (port.services[0] ?? dst.name).replace(/:\d+$/, '').split('/').reverse().join('.');
    const result = buildClasses(preds, port.protocol === 'tcp', host, maxClasses);
    if (!extra) classCache.set(key, result);
    return result;
  };

  const connCache = new Map<string, PreparedConnection>();
  const connFor = (
    src: AnalysisSource,
    dst: AnalysisDestination,
    port: DestinationPort,
  ): PreparedConnection => {
    const k = `${src.id}>${dst.id}:${port.port}`;
    let c = connCache.get(k);
    if (!c) {
      c = prepareConnection({
        source: { principal: src.principal, ip: src.ip },
        destination: { ip: dst.ip, port: port.port },
      });
      if (connCache.size > 100_000) connCache.clear();
      connCache.set(k, c);
    }
    return c;
  };

  const decideRequest = (
    src: AnalysisSource,
    dst: AnalysisDestination,
    port: DestinationPort,
    req: WitnessRequest | undefined,
  ): Verdict => {
    const mtls = authorizer.mtlsMode(dst.namespace, dst.name, port.port);
    const ingress = authorizer.checkIngress(
      { namespace: dst.namespace, name: dst.name },
      { ip: src.ip, namespace: src.namespace, labels: src.labels, name: src.name },
      port.port,
      'TCP',
    );
    if (!ingress.allowed) return netVerdict(ingress, 'ingress', mtls);
    const egress = authorizer.checkEgress(
      { namespace: src.namespace, name: src.name },
      { ip: dst.ip, namespace: dst.namespace, labels: dst.labels, name: dst.name },
      port.port,
      'TCP',
    );
    if (!egress.allowed) return netVerdict(egress, 'egress', mtls);
    const wa = authorizer.forWorkload(dst.namespace, dst.name);
    const conn = connFor(src, dst, port);
    let d: Decision;
    if (req === undefined || port.protocol === 'tcp') d = wa.checkConnection(conn);
    else {
      const headers = req.headers;
      const info: RequestInfo = {
        method: req.method,
        path: req.path,
        host: req.host,
        header: (n) => headers[n],
      };
      d = wa.checkRequest(conn, info);
    }
    const policies: string[] = [];
    if (d.policy)
      policies.push(`AuthorizationPolicy ${d.policy}${d.rule !== undefined ? ` rules[${d.rule}]` : ''}`);
    for (const n of [ingress, egress]) if (n.policy) policies.push(`NetworkPolicy ${n.policy}`);
    return { allowed: d.allowed, reason: d.reason, policies, mtls };
  };

  return {
    model,
    sources,
    destinations,
    authorizer,
    notes,
    predicatesFor,
    classes,
    decide: (src, dst, port, cls) => decideRequest(src, dst, port, cls.request),
    decideRequest,
  };
}

function netVerdict(d: Decision, dir: string, mtls: MtlsModeValue): Verdict {
  return {
    allowed: false,
    reason: `NetworkPolicy ${dir}: ${d.reason}`,
    policies: d.policy ? [`NetworkPolicy ${d.policy}`] : [],
    mtls,
  };
}

function describePart(attr: string, p: AttributePart): string {
  const v = p.value === undefined ? 'absent' : JSON.stringify(p.value);
  if (p.matches.length === 0 && p.misses.length === 0) return `${attr} = ${v}`;
  const m = p.matches.length > 0 ? `matches ${p.matches.map((x) => JSON.stringify(x)).join(', ')}` : '';
  const n = p.misses.length > 0 ? `not ${p.misses.map((x) => JSON.stringify(x)).join(', ')}` : '';
  return `${attr} ${[m, n].filter(Boolean).join('; ')}`;
}

/** The product of the attribute partitions (see the module comment, step 2). */
export function buildClasses(
  preds: PredicateValues,
  tcp: boolean,
  defaultHost: string,
  maxClasses = DEFAULT_MAX_CLASSES,
): RequestClasses {
  if (tcp)
    return {
      classes: [{ request: undefined, constraints: ['TCP connection'], parts: new Map() }],
      inexact: '',
    };
  const dims: { attr: string; parts: readonly AttributePart[] }[] = [];
  let inexact = '';
  const add = (attr: string, domain: 'method' | 'path' | 'host' | 'header', values: string[]): void => {
    if (values.length === 0) return;
    const p = partitionStrings(domain, values);
    if (p.inexact) inexact ||= p.inexact;
    dims.push({ attr, parts: p.parts });
  };
  add('method', 'method', preds.methods);
  add('path', 'path', preds.paths);
  add('host', 'host', preds.hosts);
  for (const [h, v] of [...preds.headers.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    add(`header ${h}`, 'header', v);
  let total = 1;
  for (const d of dims) total *= d.parts.length;
  if (total > maxClasses) {
    inexact ||= `${total} request classes exceed the limit of ${maxClasses}; only the first ${maxClasses} are decided`;
  }
  const out: RequestClass[] = [];
  const idx = dims.map(() => 0);
  const n = Math.min(total, maxClasses);
  for (let k = 0; k < n; k++) {
    let method = 'GET';
    let path = '/';
    let host = defaultHost;
    const headers: Record<string, string> = {};
    const constraints: string[] = [];
    const parts = new Map<string, AttributePart>();
    dims.forEach((d, i) => {
      const p = d.parts[idx[i] ?? 0]!;
      parts.set(d.attr, p);
      constraints.push(describePart(d.attr, p));
      if (d.attr === 'method') method = p.value ?? method;
      else if (d.attr === 'path') path = p.value ?? path;
      else if (d.attr === 'host') host = p.value ?? host;
      else if (p.value !== undefined) headers[d.attr.slice(7)] = p.value;
    });
    if (constraints.length === 0) constraints.push('any request');
    out.push({ request: { method, path, host, headers }, constraints, parts });
    for (let i = dims.length - 1; i >= 0; i--) {
      const d = dims[i]!;
      idx[i] = (idx[i] ?? 0) + 1;
      if ((idx[i] ?? 0) < d.parts.length) break;
      idx[i] = 0;
    }
  }
  return { classes: out, inexact };
}
