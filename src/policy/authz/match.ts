/**
 * Precompiled value matchers shared by the authorization engines.
 *
 * - Istio string match (AuthorizationPolicy reference, "Rule": "Any string field in the rule supports
 *   Exact, Prefix, Suffix and Presence match": `abc`, `abc*`, `*abc`, `*`). As in Istio's generator,
 *   `*` alone is checked first, then a leading `*` (suffix), then a trailing `*` (prefix).
 * - Kubernetes label selectors (meta/v1 LabelSelector: `matchLabels` and `matchExpressions` with
 *   In, NotIn, Exists, DoesNotExist, all ANDed; an empty selector selects everything).
 */

export const EXACT = 0;
export const PREFIX = 1;
export const SUFFIX = 2;
export const PRESENCE = 3;
export const GLOB = 4;

export interface StringMatcher {
  readonly kind: number;
  readonly value: string;
  /** Only for GLOB. */
  readonly re: RegExp | undefined;
  /** As written, for explanations. */
  readonly text: string;
}

/** Compiles one Istio string value. `lower` folds case (hosts are matched case-insensitively). */
export function compileString(text: string, lower = false): StringMatcher {
  const t = lower ? text.toLowerCase() : text;
  if (t === '*') return { kind: PRESENCE, value: '', re: undefined, text };
  if (t.startsWith('*')) return { kind: SUFFIX, value: t.slice(1), re: undefined, text };
  if (t.endsWith('*')) return { kind: PREFIX, value: t.slice(0, -1), re: undefined, text };
  return { kind: EXACT, value: t, re: undefined, text };
}

/**
 * Compiles a namespace value. Istio turns `namespaces` into the principal regex `.*\/ns/<v>/.*` with
 * every `*` replaced by `.*`, so `*` may appear anywhere; without one it is an exact match.
 */
export function compileGlob(text: string): StringMatcher {
  if (!text.includes('*')) return { kind: EXACT, value: text, re: undefined, text };
  const body = text
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('[^/]*');
  return { kind: GLOB, value: text, re: new RegExp(`^${body}$`), text };
}

/** Presence (`*`) needs a non-empty value; no value never matches. */
export function matchString(m: StringMatcher, v: string | undefined): boolean {
  if (v === undefined) return false;
  switch (m.kind) {
    case EXACT:
      return v === m.value;
    case PREFIX:
      return v.startsWith(m.value);
    case SUFFIX:
      return v.endsWith(m.value);
    case PRESENCE:
      return v.length > 0;
    default:
      return m.re !== undefined && m.re.test(v);
  }
}

export function matchAny(ms: readonly StringMatcher[], v: string | undefined): boolean {
  for (let i = 0; i < ms.length; i++) if (matchString(ms[i] as StringMatcher, v)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Label selectors

export interface LabelRequirement {
  readonly key: string;
  readonly op: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

export interface LabelSelector {
  /** matchLabels as requirements of one value each, then matchExpressions. */
  readonly reqs: readonly LabelRequirement[];
  /** True when the selector is empty (selects everything). */
  readonly all: boolean;
}

export const SELECT_ALL: LabelSelector = Object.freeze({ reqs: Object.freeze([]), all: true });

/**
 * Compiles `{matchLabels?, matchExpressions?}`. Returns a string (the problem) when malformed:
 * In/NotIn need values, Exists/DoesNotExist take none (meta/v1 LabelSelectorRequirement).
 */
export function compileSelector(raw: unknown, path: string): LabelSelector | string {
  if (raw === undefined || raw === null) return SELECT_ALL;
  if (typeof raw !== 'object') return `${path}: must be a label selector`;
  const sel = raw as { matchLabels?: unknown; matchExpressions?: unknown };
  const reqs: LabelRequirement[] = [];
  if (sel.matchLabels !== undefined && sel.matchLabels !== null) {
    if (typeof sel.matchLabels !== 'object') return `${path}.matchLabels: must be a map of strings`;
    for (const [k, v] of Object.entries(sel.matchLabels as Record<string, unknown>)) {
      if (typeof v !== 'string') return `${path}.matchLabels.${k}: must be a string`;
      reqs.push({ key: k, op: 'In', values: [v] });
    }
  }
  if (sel.matchExpressions !== undefined && sel.matchExpressions !== null) {
    if (!Array.isArray(sel.matchExpressions)) return `${path}.matchExpressions: must be a list`;
    for (const [i, e] of (sel.matchExpressions as unknown[]).entries()) {
      const p = `${path}.matchExpressions[${i}]`;
      const ex = (e ?? {}) as { key?: unknown; operator?: unknown; values?: unknown };
      if (typeof ex.key !== 'string') return `${p}.key: required`;
      const values = Array.isArray(ex.values) ? ex.values.map(String) : [];
      switch (ex.operator) {
        case 'In':
        case 'NotIn':
          if (values.length === 0) return `${p}.values: required for operator ${ex.operator}`;
          reqs.push({ key: ex.key, op: ex.operator, values });
          break;
        case 'Exists':
        case 'DoesNotExist':
          if (values.length !== 0) return `${p}.values: must be empty for operator ${ex.operator}`;
          reqs.push({ key: ex.key, op: ex.operator, values });
          break;
        default:
          return `${p}.operator: ${JSON.stringify(ex.operator)} is not one of In, NotIn, Exists, DoesNotExist`;
      }
    }
  }
  return reqs.length === 0 ? SELECT_ALL : { reqs, all: false };
}

/** Labels `undefined` (unknown) never match a non-empty selector: fail closed. */
export function matchSelector(
  sel: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (sel.all) return true;
  if (labels === undefined) return false;
  for (const r of sel.reqs) {
    const has = Object.hasOwn(labels, r.key);
    const v = has ? labels[r.key] : undefined;
    switch (r.op) {
      case 'In':
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(v as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** `a=b` for one-value In requirements, used to index policies by a label they require. */
export function indexKey(sel: LabelSelector): string | undefined {
  for (const r of sel.reqs) if (r.op === 'In' && r.values.length === 1) return `${r.key}=${r.values[0]}`;
  return undefined;
}
