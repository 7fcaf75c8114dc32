/**
 * Invariants (weft.dev/v1alpha1 Invariant): properties of the whole policy set, checked over every
 * request class (docs/policy-analysis.md, "Invariants"):
 * - `deny {from, to, operation}`: no request from `from` to `to` matching `operation` is allowed;
 * - `onlyFrom` + `to` (+ `operation`): no source outside `onlyFrom` is allowed to `to`;
 * - `requireMtls: STRICT` + `to`: every port of `to` is in STRICT mTLS mode.
 * Selector fields are ANDed, values ORed, an absent selector selects everything. The operation's
 * values are added to the partition of each destination, so each class matches the operation
 * wholly or not at all; a TCP connection matches every operation (its bytes can be any request).
 * A violation carries the witness of its class: a concrete request that breaks the property.
 */
import { compileString, matchString } from '../authz/match.ts';
import type {
  Analyser,
  AnalysisDestination,
  AnalysisSource,
  DestinationPort,
  RequestClass,
  WitnessRequest,
} from './analyser.ts';
import { emptyPredicates } from './predicates.ts';
import type { PredicateValues } from './predicates.ts';

export interface PeerSelector {
  /** Namespaces (exact, or Istio `*` forms). */
  namespaces?: string[];
  /** SPIFFE IDs with or without `spiffe://` (Istio string forms). */
  principals?: string[];
  /** `name` (in the invariant's namespace) or `ns/name`. */
  workloads?: string[];
  labels?: Record<string, string>;
}

export interface DestinationSelector extends PeerSelector {
  /** `name` (in the invariant's namespace) or `ns/name`. */
  services?: string[];
  /** Service ports or workload (target) ports. */
  ports?: number[];
}

export interface OperationSelector {
  methods?: string[];
  paths?: string[];
  /** Header name → value (Istio string forms). */
  headers?: Record<string, string>;
}

export interface InvariantSpec {
  description?: string;
  deny?: { from?: PeerSelector; to?: DestinationSelector; operation?: OperationSelector };
  onlyFrom?: PeerSelector;
  requireMtls?: 'STRICT';
  to?: DestinationSelector;
  operation?: OperationSelector;
}

export interface InvariantInput {
  name: string;
  namespace: string;
  spec: InvariantSpec;
  /** Where it was written (`file:line`), when known. */
  location?: string;
}

export interface Counterexample {
  readonly source: { readonly principal: string; readonly workload: string };
  readonly destination: {
    readonly workload: string;
    readonly port: number;
    readonly services: readonly string[];
  };
  readonly request: WitnessRequest | undefined;
  readonly constraints: readonly string[];
  /** The policies that let it through (or, for requireMtls, set the mode). */
  readonly allowedBy: readonly string[];
  readonly reason: string;
}

export interface InvariantResult {
  readonly invariant: string;
  readonly location?: string;
  readonly description: string;
  readonly holds: boolean;
  /** Violating (source, destination, port, class) combinations. */
  readonly violations: number;
  readonly examples: readonly Counterexample[];
  /** Classes checked. */
  readonly checked: number;
  readonly notes: readonly string[];
}

function anyString(texts: readonly string[], v: string | undefined): boolean {
  return texts.some((t) => matchString(compileString(t), v));
}

function qualify(ns: string, ref: string): string {
  return ref.includes('/') ? ref : `${ns}/${ref}`;
}

function labelsMatch(
  sel: Record<string, string> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!sel) return true;
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

function peerMatches(
  sel: PeerSelector | undefined,
  ns: string,
  p: { namespace: string; workload: string; principal: string; labels: Readonly<Record<string, string>> },
): boolean {
  if (!sel) return true;
  if (sel.namespaces && sel.namespaces.length > 0 && !anyString(sel.namespaces, p.namespace)) return false;
  if (sel.principals && sel.principals.length > 0) {
    const bare = p.principal.replace(/^spiffe:\/\//, '');
    const texts = sel.principals.map((x) => x.replace(/^spiffe:\/\//, ''));
    if (!anyString(texts, bare)) return false;
  }
  if (sel.workloads && sel.workloads.length > 0 && !sel.workloads.some((w) => qualify(ns, w) === p.workload))
    return false;
  return labelsMatch(sel.labels, p.labels);
}

function destPorts(
  sel: DestinationSelector | undefined,
  ns: string,
  d: AnalysisDestination,
): DestinationPort[] {
  if (!peerMatches(sel, ns, d)) return [];
  return d.ports.filter((p) => {
    const svcPorts = p.services.map((s) => {
      const [key, port] = s.split(':');
      return { key: key ?? '', port: Number(port) };
    });
    if (sel?.services && sel.services.length > 0) {
      const wanted = sel.services.map((s) => qualify(ns, s));
      if (!svcPorts.some((sp) => wanted.includes(sp.key))) return false;
    }
    if (sel?.ports && sel.ports.length > 0) {
      if (!sel.ports.includes(p.port) && !svcPorts.some((sp) => sel.ports!.includes(sp.port))) return false;
    }
    return true;
  });
}

function operationPredicates(op: OperationSelector | undefined): PredicateValues {
  const p = emptyPredicates();
  if (!op) return p;
  p.methods.push(...(op.methods ?? []));
  p.paths.push(...(op.paths ?? []));
  for (const [k, v] of Object.entries(op.headers ?? {})) p.headers.set(k.toLowerCase(), [v]);
  return p;
}

function classMatches(op: OperationSelector | undefined, cls: RequestClass): boolean {
  if (!op || cls.request === undefined) return true;
  const hit = (attr: string, texts: readonly string[] | undefined): boolean => {
    if (!texts || texts.length === 0) return true;
    const part = cls.parts.get(attr);
    return part !== undefined && texts.some((t) => part.matches.includes(t));
  };
  if (!hit('method', op.methods) || !hit('path', op.paths)) return false;
  for (const [k, v] of Object.entries(op.headers ?? {}))
    if (!hit(`header ${k.toLowerCase()}`, [v])) return false;
  return true;
}

export interface VerifyOptions {
  /** Counterexamples kept per invariant (default 3). */
  readonly maxExamples?: number;
}

/** Checks every invariant over every request class. */
export function verifyInvariants(
  a: Analyser,
  invariants: readonly InvariantInput[],
  opts: VerifyOptions = {},
): InvariantResult[] {
  const max = opts.maxExamples ?? 3;
  return invariants.map((inv) => verifyOne(a, inv, max));
}

function verifyOne(a: Analyser, inv: InvariantInput, max: number): InvariantResult {
  const s = inv.spec;
  const ns = inv.namespace;
  const key = `${ns}/${inv.name}`;
  const examples: Counterexample[] = [];
  const notes = new Set<string>(a.notes);
  let violations = 0;
  let checked = 0;
  const example = (
    src: AnalysisSource | undefined,
    dst: AnalysisDestination,
    port: DestinationPort,
    cls: RequestClass | undefined,
    allowedBy: readonly string[],
    reason: string,
  ): void => {
    violations++;
    // One example per (source workload, destination workload, port) at most.
    if (examples.length >= max) return;
    if (
      examples.some(
        (e) =>
          e.source.workload === (src?.workload ?? '') &&
          e.destination.workload === dst.workload &&
          e.destination.port === port.port,
      )
    )
      return;
    examples.push({
      source: { principal: src?.principal ?? '(plaintext client)', workload: src?.workload ?? '' },
      destination: { workload: dst.workload, port: port.port, services: port.services },
      request: cls?.request,
      constraints: cls?.constraints ?? [],
      allowedBy,
      reason,
    });
  };

  if (s.requireMtls !== undefined) {
    for (const dst of a.destinations) {
      for (const port of destPorts(s.to, ns, dst)) {
        checked++;
        const r = a.authorizer.resolveMtls(dst.namespace, dst.name, port.port);
        if (r.mode !== s.requireMtls) {
          example(
            undefined,
            dst,
            port,
            undefined,
            r.policy ? [`PeerAuthentication ${r.policy}`] : [],
            `mTLS mode is ${r.mode}: ${r.reason}`,
          );
        }
      }
    }
  } else {
    const deny = s.deny;
    const from = deny ? deny.from : undefined;
    const to = deny ? deny.to : s.to;
    const op = deny ? deny.operation : s.operation;
    const extra = operationPredicates(op);
    const srcs = a.sources.filter((src) => {
      const inFrom = peerMatches(s.deny ? from : s.onlyFrom, ns, src);
      return s.deny ? inFrom : !inFrom;
    });
    for (const dst of a.destinations) {
      const ports = destPorts(to, ns, dst);
      for (const port of ports) {
        const set = a.classes(dst, port, extra);
        if (set.inexact) notes.add(`${dst.id}:${port.port}: ${set.inexact}`);
        const cls = set.classes.filter((c) => classMatches(op, c));
        for (const src of srcs) {
          for (const c of cls) {
            checked++;
            const v = a.decide(src, dst, port, c);
            if (v.allowed) example(src, dst, port, c, v.policies, v.reason);
          }
        }
      }
    }
  }
  return {
    invariant: key,
    ...(inv.location ? { location: inv.location } : {}),
    description: s.description ?? '',
    holds: violations === 0,
    violations,
    examples,
    checked,
    notes: [...notes],
  };
}

export function formatVerify(results: readonly InvariantResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const where = r.location ? ` (${r.location})` : '';
    if (r.holds) {
      lines.push(
        `✓ ${r.invariant}${where}: holds over ${r.checked} request classes${r.description ? ` — ${r.description}` : ''}`,
      );
      continue;
    }
    lines.push(
      `✗ ${r.invariant}${where}: VIOLATED by ${r.violations} request classes${r.description ? ` — ${r.description}` : ''}`,
    );
    for (const e of r.examples) {
      lines.push(
        `    source       ${e.source.principal}${e.source.workload ? ` (${e.source.workload})` : ''}`,
      );
      lines.push(
        `    destination  ${e.destination.workload} port ${e.destination.port} (${e.destination.services.join(', ')})`,
      );
      if (e.request) {
        lines.push(`    request      ${e.request.method} ${e.request.path}  host ${e.request.host}`);
        for (const [k, v] of Object.entries(e.request.headers)) lines.push(`                 ${k}: ${v}`);
        lines.push(`    class        ${e.constraints.join(' & ')}`);
      } else if (e.source.workload) lines.push('    request      TCP connection');
      lines.push(
        `    let through  ${e.allowedBy.length > 0 ? e.allowedBy.join(', ') : '(no policy: default)'}: ${e.reason}`,
      );
      lines.push('');
    }
  }
  const bad = results.filter((r) => !r.holds).length;
  lines.push(`${results.length - bad} of ${results.length} invariants hold`);
  const notes = [...new Set(results.flatMap((r) => r.notes))];
  for (const n of notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
