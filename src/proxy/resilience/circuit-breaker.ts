/**
 * Circuit breaking per destination cluster, Envoy style
 * (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking):
 * not a tripping state machine but counters with thresholds, from Istio's DestinationRule
 * connectionPool — tcp.maxConnections, http.http1MaxPendingRequests, http.http2MaxRequests (active
 * requests, any protocol, as Envoy's max_requests), http.maxRetries (concurrent retries). A request
 * over a threshold is refused at once; the forwarder answers 503 with `x-weft-overloaded: <resource>`
 * (Envoy sets `x-envoy-overloaded`). maxRequestsPerConnection is a per-connection limit the pool
 * applies; it is carried here so the whole connectionPool converts in one place.
 *
 * Defaults are Istio's: every threshold 2^32-1 (effectively unlimited), maxRequestsPerConnection 0
 * (unlimited).
 */
import type { ConnectionPoolSettings } from '../../api/index.ts';
import { WeftError } from '../../lib/index.ts';

export type BreakerResource = 'connections' | 'pendingRequests' | 'requests' | 'retries';

/** The response header naming the exhausted resource on a 503 from a breaker. */
export const OVERLOADED_HEADER = 'x-weft-overloaded';

export const UNLIMITED = 4_294_967_295;

export interface BreakerThresholds {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  /** 0 = unlimited. Applied by the connection pool, not counted here. */
  readonly maxRequestsPerConnection: number;
}

export function breakerThresholds(cp: ConnectionPoolSettings | undefined): BreakerThresholds {
  return Object.freeze({
    maxConnections: cp?.tcp?.maxConnections ?? UNLIMITED,
    maxPendingRequests: cp?.http?.http1MaxPendingRequests ?? UNLIMITED,
    maxRequests: cp?.http?.http2MaxRequests ?? UNLIMITED,
    maxRetries: cp?.http?.maxRetries ?? UNLIMITED,
    maxRequestsPerConnection: cp?.http?.maxRequestsPerConnection ?? 0,
  });
}

/** Thrown (or returned) when a breaker refuses; the forwarder maps it to 503 + OVERLOADED_HEADER. */
export class OverloadedError extends WeftError {
  readonly resource: BreakerResource;
  readonly cluster: string;
  constructor(cluster: string, resource: BreakerResource, limit: number) {
    super(
      'WEFT_OVERLOADED',
      `${cluster}: ${resource} limit ${limit} reached (DestinationRule connectionPool); request refused`,
      { detail: { cluster, resource, limit } },
    );
    this.name = 'OverloadedError';
    this.resource = resource;
    this.cluster = cluster;
  }
}

/**
 * Counters for one cluster. `tryAcquire` never allocates; every successful acquire must be paired
 * with exactly one `release` of the same resource (use try/finally). Thresholds may be replaced on
 * a config change without losing the counts in flight.
 */
export class CircuitBreaker {
  readonly cluster: string;
  #t: BreakerThresholds;
  #connections = 0;
  #pending = 0;
  #requests = 0;
  #retries = 0;
  /** Refusals per resource (metrics: weft_proxy_breaker_overflow_total). */
  readonly overflows: Record<BreakerResource, number> = {
    connections: 0,
    pendingRequests: 0,
    requests: 0,
    retries: 0,
  };

  constructor(cluster: string, thresholds: BreakerThresholds) {
    this.cluster = cluster;
    this.#t = thresholds;
  }

  get thresholds(): BreakerThresholds {
    return this.#t;
  }

  /** Requests active now (no allocation, unlike inUse()). */
  get activeRequests(): number {
    return this.#requests;
  }

  update(thresholds: BreakerThresholds): void {
    this.#t = thresholds;
  }

  tryAcquire(resource: BreakerResource): boolean {
    switch (resource) {
      case 'requests':
        if (this.#requests >= this.#t.maxRequests) break;
        this.#requests++;
        return true;
      case 'pendingRequests':
        if (this.#pending >= this.#t.maxPendingRequests) break;
        this.#pending++;
        return true;
      case 'connections':
        if (this.#connections >= this.#t.maxConnections) break;
        this.#connections++;
        return true;
      case 'retries':
        if (this.#retries >= this.#t.maxRetries) break;
        this.#retries++;
        return true;
    }
    this.overflows[resource]++;
    return false;
  }

  /** Like tryAcquire, but throws OverloadedError on refusal. */
  acquire(resource: BreakerResource): void {
    if (!this.tryAcquire(resource)) throw new OverloadedError(this.cluster, resource, this.limit(resource));
  }

  release(resource: BreakerResource): void {
    switch (resource) {
      case 'requests':
        if (this.#requests > 0) this.#requests--;
        return;
      case 'pendingRequests':
        if (this.#pending > 0) this.#pending--;
        return;
      case 'connections':
        if (this.#connections > 0) this.#connections--;
        return;
      case 'retries':
        if (this.#retries > 0) this.#retries--;
        return;
    }
  }

  limit(resource: BreakerResource): number {
    switch (resource) {
      case 'requests':
        return this.#t.maxRequests;
      case 'pendingRequests':
        return this.#t.maxPendingRequests;
      case 'connections':
        return this.#t.maxConnections;
      case 'retries':
        return this.#t.maxRetries;
    }
  }

  /** Current counts (gauges). */
  inUse(): Record<BreakerResource, number> {
    return {
      connections: this.#connections,
      pendingRequests: this.#pending,
      requests: this.#requests,
      retries: this.#retries,
    };
  }
}
