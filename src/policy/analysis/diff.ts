/**
 * What-if: the flows a change opens and closes. Both policy sets are analysed over the common
 * refinement of their request classes (each destination's partition is built from the predicate
 * values of both sides), so every class is uniform on both sides and "opened" / "closed" is exact.
 * Destinations whose applicable AuthorizationPolicies are unchanged are skipped when nothing else
 * that decides (NetworkPolicy, PeerAuthentication, instances, services, mesh settings) changed.
 */
import { canonicalJson } from '../../api/index.ts';
import type { Analyser, AnalysisDestination, DestinationPort, WitnessRequest } from './analyser.ts';
import { emptyPredicates, mergePredicates } from './predicates.ts';
import { requestLine } from './matrix.ts';

export interface FlowChange {
  readonly change: 'opened' | 'closed';
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: string;
  /** Request classes that changed on this (source, destination, port). */
  readonly classes: number;
  /** Out of how many classes. */
  readonly of: number;
  readonly example: { readonly request: WitnessRequest | undefined; readonly constraints: readonly string[] };
  /** The policies deciding the example after (opened) or before (closed) the change. */
  readonly policies: readonly string[];
}

export interface PolicyDiff {
  readonly opened: readonly FlowChange[];
  readonly closed: readonly FlowChange[];
  /** `fromNamespace → toNamespace` → counts of changed flows. */
  readonly groups: readonly { from: string; to: string; opened: number; closed: number }[];
  readonly notes: readonly string[];
}

function ruleSet(a: Analyser, dst: AnalysisDestination): string {
  const wa = a.authorizer.forWorkload(dst.namespace, dst.name);
  const byKey = new Map(
    a.model.security.authorizationPolicies.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]),
  );
  return canonicalJson(wa.policies.map((k) => byKey.get(k)));
}

function contextKey(a: Analyser): string {
  const m = a.model;
  return canonicalJson({
    mesh: m.mesh,
    instances: m.instances,
    services: m.services,
    np: m.security.networkPolicies,
    pa: m.security.peerAuthentications,
    ns: m.security.namespaces,
  });
}

export function diffPolicies(base: Analyser, next: Analyser): PolicyDiff {
  const opened: FlowChange[] = [];
  const closed: FlowChange[] = [];
  const notes = new Set<string>([...base.notes, ...next.notes]);
  const sameContext = contextKey(base) === contextKey(next);
  const baseDst = new Map(base.destinations.map((d) => [d.id, d]));
  const nextDst = new Map(next.destinations.map((d) => [d.id, d]));
  const baseSrc = new Map(base.sources.map((s) => [s.id, s]));
  const nextSrc = new Map(next.sources.map((s) => [s.id, s]));
  const srcIds = [...new Set([...baseSrc.keys(), ...nextSrc.keys()])].sort();
  const dstIds = [...new Set([...baseDst.keys(), ...nextDst.keys()])].sort();
  for (const id of dstIds) {
    const bd = baseDst.get(id);
    const nd = nextDst.get(id);
    if (sameContext && bd && nd && ruleSet(base, bd) === ruleSet(next, nd)) continue;
    const preds = mergePredicates(
      bd ? base.predicatesFor(bd) : emptyPredicates(),
      nd ? next.predicatesFor(nd) : emptyPredicates(),
    );
    const ports = new Map<number, DestinationPort>();
    for (const p of [...(bd?.ports ?? []), ...(nd?.ports ?? [])])
      if (!ports.has(p.port)) ports.set(p.port, p);
    for (const port of [...ports.values()].sort((x, y) => x.port - y.port)) {
      const bport = bd?.ports.find((p) => p.port === port.port);
      const nport = nd?.ports.find((p) => p.port === port.port);
      const bset = bd && bport ? base.classes(bd, bport, preds) : undefined;
      const nset = nd && nport ? next.classes(nd, nport, preds) : undefined;
      for (const set of [bset, nset]) if (set?.inexact) notes.add(`${id}:${port.port}: ${set.inexact}`);
      const n = Math.max(bset?.classes.length ?? 0, nset?.classes.length ?? 0);
      for (const sid of srcIds) {
        const bs = baseSrc.get(sid);
        const ns = nextSrc.get(sid);
        let o = 0;
        let c = 0;
        let oEx: FlowChange['example'] | undefined;
        let cEx: FlowChange['example'] | undefined;
        let oPol: readonly string[] = [];
        let cPol: readonly string[] = [];
        for (let i = 0; i < n; i++) {
          const bc = bset?.classes[i];
          const nc = nset?.classes[i];
          const before = bs && bd && bport && bc ? base.decide(bs, bd, bport, bc) : undefined;
          const after = ns && nd && nport && nc ? next.decide(ns, nd, nport, nc) : undefined;
          const wasAllowed = before?.allowed === true;
          const isAllowed = after?.allowed === true;
          if (!wasAllowed && isAllowed) {
            o++;
            if (!oEx) {
              oEx = { request: nc!.request, constraints: nc!.constraints };
              oPol = after!.policies;
            }
          } else if (wasAllowed && !isAllowed) {
            c++;
            if (!cEx) {
              cEx = { request: bc!.request, constraints: bc!.constraints };
              cPol = before!.policies;
            }
          }
        }
        const base0 = { from: sid, to: id, port: port.port, protocol: port.protocol, of: n };
        if (o > 0) opened.push({ change: 'opened', ...base0, classes: o, example: oEx!, policies: oPol });
        if (c > 0) closed.push({ change: 'closed', ...base0, classes: c, example: cEx!, policies: cPol });
      }
    }
  }
  const groups = new Map<string, { from: string; to: string; opened: number; closed: number }>();
  for (const f of [...opened, ...closed]) {
    const from = f.from.split('/')[0] ?? '';
    const to = f.to.split('/')[0] ?? '';
    const k = `${from}>${to}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { from, to, opened: 0, closed: 0 }));
    if (f.change === 'opened') g.opened++;
    else g.closed++;
  }
  return {
    opened,
    closed,
    groups: [...groups.values()].sort((x, y) => (`${x.from}>${x.to}` < `${y.from}>${y.to}` ? -1 : 1)),
    notes: [...notes],
  };
}

export function formatDiff(d: PolicyDiff): string {
  const lines: string[] = [];
  const section = (title: string, list: readonly FlowChange[]): void => {
    lines.push(`${title} (${list.length} flows)`);
    for (const f of list) {
      const share = f.classes === f.of ? 'all requests' : `${f.classes} of ${f.of} request classes`;
      lines.push(
        `  ${f.change === 'opened' ? '+' : '-'} ${f.from} → ${f.to}:${f.port}/${f.protocol}  ${share}`,
      );
      lines.push(
        `      e.g. ${requestLine(f.example.request)}${f.example.request ? `  [${f.example.constraints.join(' & ')}]` : ''}`,
      );
      if (f.policies.length > 0)
        lines.push(
          `      ${f.change === 'opened' ? 'allowed by' : 'was allowed by'} ${f.policies.join(', ')}`,
        );
    }
  };
  section('opened', d.opened);
  section('closed', d.closed);
  if (d.groups.length > 0) {
    lines.push('by namespace');
    for (const g of d.groups) lines.push(`  ${g.from} → ${g.to}: +${g.opened} -${g.closed}`);
  }
  if (d.opened.length === 0 && d.closed.length === 0) lines.push('no flow changes');
  for (const n of d.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
