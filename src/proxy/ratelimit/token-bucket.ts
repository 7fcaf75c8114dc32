/**
 * Local rate limiting: one token bucket per key, in this proxy only (Envoy's local_ratelimit filter:
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter).
 * A bucket holds up to `limit` tokens and refills continuously at limit/period; a request takes one.
 * Time comes from an injected Clock. The number of keys is bounded: past `maxKeys` the least
 * recently created bucket is dropped (a dropped bucket restarts full, which errs towards allowing).
 */
import type { Clock } from '../../lib/index.ts';
import type { LimitDecision } from './decision.ts';

interface Bucket {
  tokens: number;
  last: number;
}

export class TokenBucketLimiter {
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;

  constructor(clock: Clock, maxKeys = 100_000) {
    this.#clock = clock;
    this.#maxKeys = Math.max(1, maxKeys);
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Take one token from `key`'s bucket of `limit` per `periodMs`. */
  take(key: string, limit: number, periodMs: number): LimitDecision {
    const now = this.#clock.monotonic();
    const rate = limit / periodMs;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next();
        if (!oldest.done) this.#buckets.delete(oldest.value);
      }
      b = { tokens: limit, last: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(limit, b.tokens + (now - b.last) * rate);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return {
        allowed: true,
        limit,
        remaining: Math.floor(b.tokens),
        resetMs: (limit - b.tokens) / rate,
        retryAfterMs: 0,
      };
    }
    return {
      allowed: false,
      limit,
      remaining: 0,
      resetMs: (limit - b.tokens) / rate,
      retryAfterMs: (1 - b.tokens) / rate,
    };
  }
}
