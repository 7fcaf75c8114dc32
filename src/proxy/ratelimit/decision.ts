/**
 * The result of one rate-limit check and the response headers it implies: `x-ratelimit-limit`,
 * `x-ratelimit-remaining`, `x-ratelimit-reset` (seconds until the counter is full again, as Envoy's
 * ratelimit filter sends them, after draft-ietf-httpapi-ratelimit-headers) and, on 429,
 * `retry-after` in seconds (RFC 9110 §10.2.3).
 */

export interface LimitDecision {
  allowed: boolean;
  /** The limit (requests per unit). */
  limit: number;
  /** Requests left right now. */
  remaining: number;
  /** ms until the counter is back to full. */
  resetMs: number;
  /** ms until one request would be allowed (0 when allowed). */
  retryAfterMs: number;
}

export const RATE_LIMITED_STATUS = 429;

/** Seconds, rounded up, at least 1 for a positive wait (a header of 0 would invite a busy loop). */
function seconds(ms: number): number {
  return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
}

/** Header name/value pairs for a decision. */
export function rateLimitHeaders(d: LimitDecision): [string, string][] {
  const h: [string, string][] = [
    ['x-ratelimit-limit', String(d.limit)],
    ['x-ratelimit-remaining', String(Math.max(0, d.remaining))],
    ['x-ratelimit-reset', String(seconds(d.resetMs))],
  ];
  if (!d.allowed) h.push(['retry-after', String(Math.max(1, seconds(d.retryAfterMs)))]);
  return h;
}
