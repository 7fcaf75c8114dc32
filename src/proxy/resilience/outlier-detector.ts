/**
 * Passive health: outlier detection with Envoy's semantics as Istio configures them
 * (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier,
 * https://istio.io/latest/docs/reference/config/networking/destination-rule/#OutlierDetection).
 *
 * - consecutive5xxErrors (Istio default 5): an endpoint whose last N outcomes were 5xx or local
 *   connection errors (connect failure, reset, timeout — Envoy maps them to 503/504 when
 *   splitExternalLocalOriginErrors is off) is ejected at once. consecutiveGatewayErrors (default 0 =
 *   off) does the same for 502/503/504 and local connection errors only.
 * - An ejected endpoint stays out for baseEjectionTime (default 30s) × the number of times it has
 *   been ejected, capped at 300s (Envoy's max_ejection_time); it returns at the first interval
 *   (default 10s) check after that. At each interval a healthy endpoint's multiplier decays by one.
 * - maxEjectionPercent (default 10): no ejection that would put more than that share of endpoints
 *   out, except that one endpoint may always be ejected (Envoy).
 * - minHealthPercent (default 0): when fewer than this share of endpoints are healthy, detection is
 *   suspended and the view returns every endpoint (Istio's panic behaviour).
 *
 * Overflow and caller cancellation say nothing about an endpoint and are ignored.
 */
import type { OutlierDetection } from '../../api/index.ts';
import { goDurationMs } from '../../api/wire/index.ts';
import type { Clock, Timer } from '../../lib/index.ts';
import { concernsEndpoint, is5xx, isGatewayError } from './classifier.ts';

export interface OutlierConfig {
  readonly consecutive5xxErrors: number;
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly minHealthPercent: number;
}

export function outlierConfig(od: OutlierDetection): OutlierConfig {
  const d = (s: string | undefined, dflt: number) => (s === undefined ? dflt : (goDurationMs(s) ?? dflt));
  const base = d(od.baseEjectionTime, 30_000);
  return Object.freeze({
    consecutive5xxErrors: od.consecutive5xxErrors ?? 5,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? 0,
    intervalMs: Math.max(1, d(od.interval, 10_000)),
    baseEjectionTimeMs: base,
    maxEjectionTimeMs: Math.max(base, 300_000),
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
    minHealthPercent: od.minHealthPercent ?? 0,
  });
}

interface EndpointState {
  c5xx: number;
  cgw: number;
  /** Times ejected, decays by one per interval while healthy. */
  multiplier: number;
  /** Monotonic ms at which the ejection ends; 0 when not ejected. */
  ejectedUntil: number;
}

export interface OutlierEvent {
  type: 'eject' | 'return' | 'eject-refused';
  key: string;
  reason?: 'consecutive5xx' | 'consecutiveGateway';
  /** Ejection length (eject). */
  durationMs?: number;
}

export class OutlierDetector {
  readonly #cfg: OutlierConfig;
  readonly #clock: Clock;
  readonly #states = new Map<string, EndpointState>();
  readonly #onEvent: ((e: OutlierEvent) => void) | undefined;
  #keys: ReadonlySet<string> = new Set();
  #ejected = 0;
  #generation = 0;
  #timer: Timer | undefined;
  #cacheIn: readonly unknown[] | undefined;
  #cacheGen = -1;
  #cacheOut: readonly unknown[] = [];
  /** Ejections made (metrics). */
  ejections = 0;

  constructor(config: OutlierConfig, clock: Clock, onEvent?: (e: OutlierEvent) => void) {
    this.#cfg = config;
    this.#clock = clock;
    this.#onEvent = onEvent;
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.tick();
      this.#schedule();
    }, this.#cfg.intervalMs);
  }

  /** Stop the interval timer. */
  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** The endpoints of the cluster (keys); state of removed endpoints is dropped. */
  setEndpoints(keys: Iterable<string>): void {
    this.#keys = new Set(keys);
    for (const [k, s] of this.#states) {
      if (!this.#keys.has(k)) {
        if (s.ejectedUntil !== 0) this.#ejected--;
        this.#states.delete(k);
      }
    }
    this.#generation++;
  }

  /** Record the outcome of one attempt to `key` (HTTP status or OUTCOME_* constant). */
  record(key: string, outcome: number): void {
    const s = this.#states.get(key);
    if (!is5xx(outcome)) {
      // The fast path: a success touches at most one map entry and allocates nothing.
      if (s !== undefined && concernsEndpoint(outcome)) {
        s.c5xx = 0;
        s.cgw = 0;
      }
      return;
    }
    if (!this.#keys.has(key)) return;
    const st = s ?? { c5xx: 0, cgw: 0, multiplier: 0, ejectedUntil: 0 };
    if (s === undefined) this.#states.set(key, st);
    if (st.ejectedUntil !== 0) return;
    st.c5xx++;
    if (isGatewayError(outcome)) st.cgw++;
    else st.cgw = 0;
    const c = this.#cfg;
    if (c.consecutiveGatewayErrors > 0 && st.cgw >= c.consecutiveGatewayErrors)
      this.#eject(key, st, 'consecutiveGateway');
    else if (c.consecutive5xxErrors > 0 && st.c5xx >= c.consecutive5xxErrors)
      this.#eject(key, st, 'consecutive5xx');
  }

  #eject(key: string, st: EndpointState, reason: 'consecutive5xx' | 'consecutiveGateway'): void {
    st.c5xx = 0;
    st.cgw = 0;
    const total = this.#keys.size;
    if (this.#ejected > 0 && ((this.#ejected + 1) * 100) / total > this.#cfg.maxEjectionPercent) {
      this.#onEvent?.({ type: 'eject-refused', key, reason });
      return;
    }
    st.multiplier++;
    const durationMs = Math.min(this.#cfg.baseEjectionTimeMs * st.multiplier, this.#cfg.maxEjectionTimeMs);
    st.ejectedUntil = this.#clock.monotonic() + durationMs;
    this.#ejected++;
    this.ejections++;
    this.#generation++;
    this.#onEvent?.({ type: 'eject', key, reason, durationMs });
  }

  /** The interval check: return endpoints whose ejection is over; decay healthy multipliers. */
  tick(): void {
    const now = this.#clock.monotonic();
    for (const [key, s] of this.#states) {
      if (s.ejectedUntil !== 0) {
        if (now >= s.ejectedUntil) {
          s.ejectedUntil = 0;
          this.#ejected--;
          this.#generation++;
          this.#onEvent?.({ type: 'return', key });
        }
      } else if (s.multiplier > 0) s.multiplier--;
      else if (s.c5xx === 0 && s.cgw === 0) this.#states.delete(key);
    }
  }

  isEjected(key: string): boolean {
    const s = this.#states.get(key);
    return s !== undefined && s.ejectedUntil !== 0;
  }

  get ejectedCount(): number {
    return this.#ejected;
  }

  /**
   * The endpoints to balance over: without ejected ones, unless fewer than minHealthPercent would
   * remain. Returns `endpoints` itself when nothing is ejected, and a cached array until the
   * input or the ejection set changes, so the per-request cost is a comparison.
   */
  filter<E extends { key: string }>(endpoints: readonly E[]): readonly E[] {
    if (this.#ejected === 0) return endpoints;
    if (this.#cacheIn === endpoints && this.#cacheGen === this.#generation)
      return this.#cacheOut as readonly E[];
    const kept = endpoints.filter((e) => !this.isEjected(e.key));
    const out =
      endpoints.length > 0 && (kept.length * 100) / endpoints.length < this.#cfg.minHealthPercent
        ? endpoints
        : kept;
    this.#cacheIn = endpoints;
    this.#cacheGen = this.#generation;
    this.#cacheOut = out;
    return out;
  }
}
