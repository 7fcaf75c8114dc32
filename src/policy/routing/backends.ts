/**
 * Weighted choice among a rule's backendRefs (Gateway API HTTPBackendRef.weight / GRPCBackendRef).
 *
 * "Weight specifies the proportion of requests forwarded to the referenced backend. This is computed
 * as weight/(sum of all weights in this BackendRefs list). [...] Weight is not a percentage and the sum
 * of weights does not need to equal 100. If only one backend is specified and it has a weight greater
 * than 0, 100% of the traffic is forwarded to that backend. If weight is set to 0, no traffic should be
 * forwarded for this entry." (BackendRef.weight, default 1.)
 *
 * When every weight is 0 (or the list is empty) there is no backend: the rule has nowhere to send the
 * request and the spec's answer is HTTP 500 (gRPC UNAVAILABLE) — "If *all* entries in BackendRefs are
 * invalid, and there are also no filters specified in this route rule, *all* traffic which matches this
 * rule MUST receive a 500 status code". `pickBackend` returns undefined and the proxy answers that.
 *
 * Cumulative weights are precomputed once per rule; a pick is one random number and a binary search.
 */
import type { BackendRef, RouteRule } from '../../api/index.ts';

/** A rule's backends with precomputed cumulative weights (only weights > 0 are kept). */
export interface WeightedBackends {
  /** The backends that can be chosen (weight > 0), in rule order. */
  readonly refs: readonly BackendRef[];
  /** cumulative[i] = sum of weights of refs[0..i]. */
  readonly cumulative: Float64Array;
  /** Sum of all weights (0: nothing can be chosen). */
  readonly total: number;
}

const EMPTY: WeightedBackends = Object.freeze({
  refs: Object.freeze([]),
  cumulative: new Float64Array(0),
  total: 0,
});

/** Precompute a weighted choice over `refs`. Non-finite or non-positive weights count as 0. */
export function compileBackends(refs: readonly BackendRef[]): WeightedBackends {
  const kept: BackendRef[] = [];
  for (const r of refs) if (Number.isFinite(r.weight) && r.weight > 0) kept.push(r);
  if (kept.length === 0) return EMPTY;
  const cumulative = new Float64Array(kept.length);
  let total = 0;
  for (let i = 0; i < kept.length; i++) {
    total += kept[i]!.weight;
    cumulative[i] = total;
  }
  return Object.freeze({ refs: Object.freeze(kept), cumulative, total });
}

/** Choose one backend by weight with `random()` in [0, 1). Undefined when no backend has weight > 0. */
export function pickWeighted(b: WeightedBackends, random: () => number): BackendRef | undefined {
  const n = b.refs.length;
  if (n === 0) return undefined;
  if (n === 1) return b.refs[0];
  const x = random() * b.total;
  const c = b.cumulative;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return b.refs[lo];
}

const cache = new WeakMap<RouteRule, WeightedBackends>();

/**
 * Choose a backend of `rule` by weight. The cumulative table is computed on first use per rule object
 * and cached (rules from a snapshot are immutable). A RouteMatchResult already carries `backends`;
 * use `pickWeighted(result.backends, random)` on the hot path.
 */
export function pickBackend(rule: RouteRule, random: () => number): BackendRef | undefined {
  let b = cache.get(rule);
  if (b === undefined) {
    b = compileBackends(rule.backendRefs);
    cache.set(rule, b);
  }
  return pickWeighted(b, random);
}
