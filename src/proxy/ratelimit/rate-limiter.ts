/**
 * A compiled RateLimitPolicy (weft.dev/v1alpha1): which rules apply to a request, the counter key
 * of each (from the caller's SPIFFE ID, a header, the path or the route — Envoy's descriptors), and
 * the decision: local token buckets, or GCRA counters shared through a global store (Redis). Every
 * applicable rule is counted; the request is refused (429) when any rule refuses, with that rule's
 * headers; otherwise the headers of the rule closest to its limit are returned.
 *
 * When the global store fails, `failureMode` decides (open: allow; closed: 429) and the event is
 * counted — the forwarder exports `stats` as weft_proxy_ratelimit_* metrics.
 */
import type { RateLimitPolicySpec, RateLimitDescriptor } from '../../api/index.ts';
import { RATE_LIMIT_UNIT_MS } from '../../api/wire/index.ts';
import type { Clock } from '../../lib/index.ts';
import { rateLimitHeaders, RATE_LIMITED_STATUS, type LimitDecision } from './decision.ts';
import { TokenBucketLimiter } from './token-bucket.ts';
import type { GlobalRateLimitStore } from './redis-store.ts';

/** What the limiter needs to know about a request. */
export interface RateLimitRequest {
  /** Verified caller SPIFFE ID ('' when unknown). */
  sourceIdentity: string;
  /** Request path without the query. */
  path: string;
  /** Name of the matched route rule ('' when none). */
  route: string;
  /** Header value by lower-case name. */
  header(name: string): string | undefined;
}

export interface RateLimitResult {
  allowed: boolean;
  /** 429 when refused. */
  status: number;
  /** The rule that decided ('' when no rule applied). */
  rule: string;
  headers: [string, string][];
  /** The store failed and failureMode decided. */
  storeFailure: boolean;
}

export interface RateLimitStats {
  allowed: number;
  limited: number;
  storeErrors: number;
  failedOpen: number;
  failedClosed: number;
}

interface CompiledRule {
  name: string;
  descriptors: readonly (RateLimitDescriptor & { header?: string })[];
  limit: number;
  periodMs: number;
}

const ALLOW_NO_RULE: RateLimitResult = Object.freeze({
  allowed: true,
  status: 200,
  rule: '',
  headers: [],
  storeFailure: false,
}) as RateLimitResult;

/** Gateway API PathPrefix semantics: `/api` matches `/api` and `/api/x`, not `/apix`. */
function pathPrefixMatches(prefix: string, path: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p === '/') return true;
  return path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47);
}

export class RateLimiter {
  readonly mode: 'local' | 'global';
  readonly failureMode: 'open' | 'closed';
  readonly #prefix: string;
  readonly #rules: CompiledRule[];
  readonly #local: TokenBucketLimiter;
  readonly #store: GlobalRateLimitStore | undefined;
  readonly stats: RateLimitStats = { allowed: 0, limited: 0, storeErrors: 0, failedOpen: 0, failedClosed: 0 };

  /**
   * `id` names the policy in counter keys (e.g. `shop/reviews-limits`). A global policy needs a
   * store; without one it is enforced locally per proxy (and `mode` reports 'local').
   */
  constructor(id: string, spec: RateLimitPolicySpec, clock: Clock, store?: GlobalRateLimitStore) {
    this.mode = spec.mode === 'global' && store !== undefined ? 'global' : 'local';
    this.failureMode = spec.failureMode;
    this.#prefix = `${id}/`;
    this.#store = store;
    this.#local = new TokenBucketLimiter(clock);
    this.#rules = spec.rules.map((r) => ({
      name: r.name,
      descriptors: r.descriptors.map((d) => (d.header ? { ...d, header: d.header.toLowerCase() } : d)),
      limit: r.limit.requests,
      periodMs: RATE_LIMIT_UNIT_MS[r.limit.unit],
    }));
  }

  /** The counter key of `rule` for `req`, or undefined when the rule does not apply. */
  #keyOf(rule: CompiledRule, req: RateLimitRequest): string | undefined {
    let key = this.#prefix + rule.name;
    for (const d of rule.descriptors) {
      let v: string | undefined;
      switch (d.key) {
        case 'SourceIdentity':
          v = req.sourceIdentity || undefined;
          break;
        case 'Header':
          v = req.header(d.header!);
          break;
        case 'Path':
          v = req.path;
          break;
        case 'Route':
          v = req.route || undefined;
          break;
      }
      if (v === undefined) return undefined;
      if (d.value !== undefined) {
        if (d.key === 'Path' ? !pathPrefixMatches(d.value, v) : v !== d.value) return undefined;
        v = d.value;
      }
      key += '/' + encodeURIComponent(v);
    }
    return key;
  }

  /** Decide for one request. Local policies answer synchronously; global ones return a promise. */
  check(req: RateLimitRequest): RateLimitResult | Promise<RateLimitResult> {
    if (this.mode === 'local') {
      let worst: { rule: CompiledRule; d: LimitDecision } | undefined;
      for (const rule of this.#rules) {
        const key = this.#keyOf(rule, req);
        if (key === undefined) continue;
        const d = this.#local.take(key, rule.limit, rule.periodMs);
        worst = pickWorse(worst, rule, d);
      }
      return this.#result(worst);
    }
    return this.#checkGlobal(req);
  }

  async #checkGlobal(req: RateLimitRequest): Promise<RateLimitResult> {
    const pending: Promise<LimitDecision>[] = [];
    const rules: CompiledRule[] = [];
    for (const rule of this.#rules) {
      const key = this.#keyOf(rule, req);
      if (key === undefined) continue;
      rules.push(rule);
      pending.push(this.#store!.check(key, rule.limit, rule.periodMs));
    }
    if (rules.length === 0) return this.#result(undefined);
    let decisions: LimitDecision[];
    try {
      decisions = await Promise.all(pending);
    } catch {
      this.stats.storeErrors++;
      if (this.failureMode === 'open') {
        this.stats.failedOpen++;
        this.stats.allowed++;
        return { allowed: true, status: 200, rule: rules[0]!.name, headers: [], storeFailure: true };
      }
      this.stats.failedClosed++;
      this.stats.limited++;
      return {
        allowed: false,
        status: RATE_LIMITED_STATUS,
        rule: rules[0]!.name,
        headers: [['retry-after', '1']],
        storeFailure: true,
      };
    }
    let worst: { rule: CompiledRule; d: LimitDecision } | undefined;
    decisions.forEach((d, i) => (worst = pickWorse(worst, rules[i]!, d)));
    return this.#result(worst);
  }

  #result(worst: { rule: CompiledRule; d: LimitDecision } | undefined): RateLimitResult {
    if (worst === undefined) {
      this.stats.allowed++;
      return ALLOW_NO_RULE;
    }
    if (worst.d.allowed) this.stats.allowed++;
    else this.stats.limited++;
    return {
      allowed: worst.d.allowed,
      status: worst.d.allowed ? 200 : RATE_LIMITED_STATUS,
      rule: worst.rule.name,
      headers: rateLimitHeaders(worst.d),
      storeFailure: false,
    };
  }
}

/** A refusal beats an allowance (the longest wait wins); among allowances the fewest remaining. */
function pickWorse(
  cur: { rule: CompiledRule; d: LimitDecision } | undefined,
  rule: CompiledRule,
  d: LimitDecision,
): { rule: CompiledRule; d: LimitDecision } {
  if (cur === undefined) return { rule, d };
  if (cur.d.allowed !== d.allowed) return d.allowed ? cur : { rule, d };
  if (!d.allowed) return d.retryAfterMs > cur.d.retryAfterMs ? { rule, d } : cur;
  return d.remaining < cur.d.remaining ? { rule, d } : cur;
}
