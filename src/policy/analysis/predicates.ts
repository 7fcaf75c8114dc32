/**
 * The predicate values that appear in a policy set, per attribute: what the analyser partitions the
 * request space by. Read from the policies as written (the snapshot's PolicyObjects), with the same
 * field names the engine compiles (policy/authz/authorization.ts: Source, Operation, Condition keys;
 * network-policy.ts: ipBlock), so a value the engine can test is never missed here.
 */
import type { PolicyObject } from '../../api/wire/snapshot.ts';

/** Values per request attribute, as written. */
export interface PredicateValues {
  methods: string[];
  paths: string[];
  hosts: string[];
  /** Lower-case header name → values (`when: request.headers[name]`). */
  headers: Map<string, string[]>;
  /** Every CIDR (ipBlocks, remoteIpBlocks, source.ip/remote.ip/destination.ip, NetworkPolicy ipBlock). */
  cidrs: string[];
  /** Condition keys the analyser treats as fixed by the mesh, with why (for the notes). */
  fixed: Set<string>;
}

export function emptyPredicates(): PredicateValues {
  return { methods: [], paths: [], hosts: [], headers: new Map(), cidrs: [], fixed: new Set() };
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => String(x)) : [];
}

/** Adds the values of AuthorizationPolicies (`spec.rules`) to `into`. */
export function collectAuthorization(policies: readonly PolicyObject[], into: PredicateValues): void {
  for (const p of policies) {
    const rules = (p.spec as { rules?: unknown }).rules;
    if (!Array.isArray(rules)) continue;
    for (const r of rules as { from?: unknown; to?: unknown; when?: unknown }[]) {
      for (const f of Array.isArray(r?.from) ? (r.from as { source?: Record<string, unknown> }[]) : []) {
        const s = f?.source ?? {};
        for (const k of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'])
          into.cidrs.push(...strs(s[k]));
      }
      for (const t of Array.isArray(r?.to) ? (r.to as { operation?: Record<string, unknown> }[]) : []) {
        const o = t?.operation ?? {};
        into.methods.push(...strs(o['methods']), ...strs(o['notMethods']));
        into.paths.push(...strs(o['paths']), ...strs(o['notPaths']));
        into.hosts.push(...strs(o['hosts']), ...strs(o['notHosts']));
      }
      for (const c of Array.isArray(r?.when)
        ? (r.when as { key?: unknown; values?: unknown; notValues?: unknown }[])
        : []) {
        if (typeof c?.key !== 'string') continue;
        const vals = [...strs(c.values), ...strs(c.notValues)];
        const h = /^request\.headers\[(.+)\]$/.exec(c.key);
        if (h) {
          const name = (h[1] ?? '').toLowerCase();
          const list = into.headers.get(name) ?? [];
          list.push(...vals);
          into.headers.set(name, list);
        } else if (c.key === 'source.ip' || c.key === 'remote.ip' || c.key === 'destination.ip') {
          into.cidrs.push(...vals);
        } else if (c.key === 'connection.sni' || c.key.startsWith('request.auth.')) {
          into.fixed.add(c.key);
        }
      }
    }
  }
}

/** Adds the ipBlock CIDRs of NetworkPolicies. */
export function collectNetworkPolicies(policies: readonly PolicyObject[], into: PredicateValues): void {
  for (const p of policies) {
    const spec = p.spec as { ingress?: unknown; egress?: unknown };
    for (const [dir, peerKey] of [
      ['ingress', 'from'],
      ['egress', 'to'],
    ] as const) {
      const rules = spec[dir];
      if (!Array.isArray(rules)) continue;
      for (const r of rules as Record<string, unknown>[]) {
        const peers = r?.[peerKey];
        if (!Array.isArray(peers)) continue;
        for (const peer of peers as { ipBlock?: { cidr?: unknown; except?: unknown } }[]) {
          const b = peer?.ipBlock;
          if (!b) continue;
          if (typeof b.cidr === 'string') into.cidrs.push(b.cidr);
          into.cidrs.push(...strs(b.except));
        }
      }
    }
  }
}

/** Merges `b` into a copy of `a` (the common refinement of two policy sets for `diff`). */
export function mergePredicates(a: PredicateValues, b: PredicateValues): PredicateValues {
  const headers = new Map<string, string[]>();
  for (const m of [a.headers, b.headers])
    for (const [k, v] of m) headers.set(k, [...(headers.get(k) ?? []), ...v]);
  return {
    methods: [...a.methods, ...b.methods],
    paths: [...a.paths, ...b.paths],
    hosts: [...a.hosts, ...b.hosts],
    headers,
    cidrs: [...a.cidrs, ...b.cidrs],
    fixed: new Set([...a.fixed, ...b.fixed]),
  };
}
