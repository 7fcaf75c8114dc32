/**
 * Timeouts: Gateway API HTTPRoute `timeouts.request` / `timeouts.backendRequest` (GEP-1742; a zero
 * duration disables), Istio DestinationRule connectionPool connect and idle timeouts, and one helper
 * that races work against a Clock timer and aborts it, so a timed-out request frees its upstream.
 *
 * Defaults follow Istio: no request timeout, connectTimeout 10s, HTTP idleTimeout 1h.
 */
import type { ConnectionPoolSettings, HTTPRouteTimeouts } from '../../api/index.ts';
import { gatewayDurationMs, goDurationMs } from '../../api/wire/index.ts';
import { WeftError } from '../../lib/index.ts';
import type { Clock } from '../../lib/index.ts';

/** Gateway API duration → ms; undefined input or "0s" → 0 (no timeout). Invalid → WEFT_TIMEOUT_INVALID. */
export function parseGatewayDuration(s: string | undefined): number {
  if (s === undefined) return 0;
  const ms = gatewayDurationMs(s);
  if (ms === undefined)
    throw new WeftError(
      'WEFT_TIMEOUT_INVALID',
      `${JSON.stringify(s)} is not a Gateway API duration (e.g. "10s", "500ms")`,
    );
  return ms;
}

export interface RouteTimeouts {
  /** Whole request including retries, ms; 0 = none. */
  readonly requestMs: number;
  /** Each attempt, ms; 0 = none (bounded by what remains of requestMs). */
  readonly perTryMs: number;
}

export const NO_TIMEOUTS: RouteTimeouts = Object.freeze({ requestMs: 0, perTryMs: 0 });

/** The timeouts of an HTTPRoute rule. */
export function routeTimeouts(t: HTTPRouteTimeouts | undefined): RouteTimeouts {
  if (t === undefined) return NO_TIMEOUTS;
  return Object.freeze({
    requestMs: parseGatewayDuration(t.request),
    perTryMs: parseGatewayDuration(t.backendRequest),
  });
}

/**
 * The timeout of the next try: the per-try timeout, bounded by what is left of the request deadline
 * (`deadline` is a Clock.monotonic() reading, or 0 for none). 0 = none; never negative — an expired
 * deadline gives 1 ms so the try fails at once with a timeout.
 */
export function tryTimeoutMs(timeouts: RouteTimeouts, deadline: number, now: number): number {
  if (deadline === 0) return timeouts.perTryMs;
  const left = Math.max(1, deadline - now);
  return timeouts.perTryMs === 0 ? left : Math.min(timeouts.perTryMs, left);
}

export interface PoolTimeouts {
  /** TCP connect timeout, ms. Istio default 10s. */
  readonly connectMs: number;
  /** Close an upstream connection idle this long, ms; 0 = never. Istio default 1h. */
  readonly idleMs: number;
  /** Close an upstream connection this old, ms; 0 = never (Istio default). */
  readonly maxConnectionDurationMs: number;
}

export const POOL_TIMEOUT_DEFAULTS: PoolTimeouts = Object.freeze({
  connectMs: 10_000,
  idleMs: 3_600_000,
  maxConnectionDurationMs: 0,
});

/** Timeouts of a DestinationRule connectionPool (http.idleTimeout wins over tcp.idleTimeout). */
export function poolTimeouts(cp: ConnectionPoolSettings | undefined): PoolTimeouts {
  const d = (s: string | undefined, dflt: number) => (s === undefined ? dflt : (goDurationMs(s) ?? dflt));
  return Object.freeze({
    connectMs: d(cp?.tcp?.connectTimeout, POOL_TIMEOUT_DEFAULTS.connectMs),
    idleMs: d(cp?.http?.idleTimeout ?? cp?.tcp?.idleTimeout, POOL_TIMEOUT_DEFAULTS.idleMs),
    maxConnectionDurationMs: d(cp?.tcp?.maxConnectionDuration, POOL_TIMEOUT_DEFAULTS.maxConnectionDurationMs),
  });
}

/** The error a timed-out piece of work rejects with (and the reason its AbortSignal carries). */
export class TimeoutError extends WeftError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super('WEFT_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { detail: { timeoutMs } });
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

const NEVER = new AbortController().signal;

/**
 * Run `work` with an AbortSignal that aborts after `ms` on `clock` (or when `parent` aborts, e.g. the
 * whole-request deadline while a per-try timer runs). On expiry the promise rejects with TimeoutError
 * at once, even if `work` ignores the signal; `work` should abort its upstream stream on the signal
 * so resources are freed. `ms` = 0 and no parent: runs `work` directly with no timer (zero cost).
 */
export function withTimeout<T>(
  work: (signal: AbortSignal) => Promise<T>,
  ms: number,
  clock: Clock,
  what = 'request',
  parent?: AbortSignal,
): Promise<T> {
  if (ms <= 0 && parent === undefined) return work(NEVER);
  if (parent?.aborted) return Promise.reject(parent.reason as Error);
  const ac = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      timer?.cancel();
      parent?.removeEventListener('abort', onParent);
    };
    const onParent = () => {
      if (done) return;
      finish();
      ac.abort(parent!.reason);
      reject(parent!.reason as Error);
    };
    const timer =
      ms > 0
        ? clock.setTimeout(() => {
            if (done) return;
            finish();
            const err = new TimeoutError(what, ms);
            ac.abort(err);
            reject(err);
          }, ms)
        : undefined;
    parent?.addEventListener('abort', onParent, { once: true });
    let p: Promise<T>;
    try {
      p = work(ac.signal);
    } catch (err) {
      finish();
      reject(err as Error);
      return;
    }
    p.then(
      (v) => {
        if (done) return;
        finish();
        resolve(v);
      },
      (err: unknown) => {
        if (done) return;
        finish();
        reject(err as Error);
      },
    );
  });
}
