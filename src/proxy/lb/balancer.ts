/**
 * Balancers: pick one endpoint of a service for a request, per the DestinationRule's
 * `trafficPolicy.loadBalancer` (networking.istio.io/v1 LoadBalancerSettings).
 *
 * - `simple: ROUND_ROBIN` (Weft's default, also for UNSPECIFIED; Istio's own default is LEAST_REQUEST):
 *   plain rotation when weights are equal, smooth weighted round robin (nginx) when they differ;
 * - `simple: RANDOM`: weighted random;
 * - `simple: LEAST_REQUEST` (and the deprecated alias LEAST_CONN): power of two choices on the
 *   in-flight counts the proxy keeps (see InflightCounter), weighted as Envoy's (active + 1) / weight;
 * - `consistentHash` with `ringHash` (or neither algorithm given: Istio's default) or `maglev`.
 *   A request without a hash key gets a random endpoint (as Envoy).
 *
 * Endpoints with weight ≤ 0 are never picked. `update(endpoints)` rebuilds the balancer's own state
 * in place (rotation position and smooth-weight credit carry over by endpoint key; hash tables are
 * rebuilt). In-flight counts live outside the balancer, keyed by endpoint key, so an update never
 * disturbs them.
 */
import { WeftError } from '../../lib/index.ts';
import {
  buildMaglevTable,
  DEFAULT_MAGLEV_TABLE_SIZE,
  isPrime,
  MAX_MAGLEV_TABLE_SIZE,
  maglevLookup,
} from './maglev.ts';
import { buildRing, DEFAULT_MINIMUM_RING_SIZE, MAXIMUM_RING_SIZE, ringLookup } from './ring-hash.ts';
import type { Ring } from './ring-hash.ts';

/** What a balancer needs of an endpoint: a stable identity and a relative weight. */
export interface LbEndpoint {
  key: string;
  weight: number;
}

export interface PickContext {
  /** Consistent-hash key (see hashKeyFor); ignored by the other algorithms. */
  hashKey?: string | undefined;
}

export interface Balancer<E extends LbEndpoint> {
  /** `ROUND_ROBIN`, `RANDOM`, `LEAST_REQUEST`, `RING_HASH` or `MAGLEV`. */
  readonly algorithm: LbAlgorithm;
  /** The endpoints that can be picked (weight > 0). */
  readonly endpoints: readonly E[];
  /** One endpoint, or undefined when there is none. */
  pick(ctx: PickContext): E | undefined;
  /** Replace the endpoint set; see the module comment for what carries over. */
  update(endpoints: readonly E[]): void;
}

export type LbAlgorithm = 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'RING_HASH' | 'MAGLEV';

/** The part of Istio's LoadBalancerSettings the balancer reads (hash-key fields: see hashKeyFor). */
export interface LoadBalancerSettings {
  simple?: string;
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    ringHash?: { minimumRingSize?: number };
    maglev?: { tableSize?: number };
    /** Deprecated in Istio: ringHash.minimumRingSize. */
    minimumRingSize?: number;
  };
  [key: string]: unknown;
}

export interface BalancerDeps<E> {
  /** Uniform in [0, 1). */
  random: () => number;
  /** In-flight requests to an endpoint (LEAST_REQUEST). Without it every count is 0. */
  inflight?(e: E): number;
}

/** The algorithm and its parameters, validated. Throws WEFT_LB_INVALID_POLICY. */
export function resolveLbAlgorithm(policy: LoadBalancerSettings | undefined): {
  algorithm: LbAlgorithm;
  ringSize: number;
  tableSize: number;
} {
  const out = {
    algorithm: 'ROUND_ROBIN' as LbAlgorithm,
    ringSize: DEFAULT_MINIMUM_RING_SIZE,
    tableSize: DEFAULT_MAGLEV_TABLE_SIZE,
  };
  if (policy === undefined) return out;
  const ch = policy.consistentHash;
  if (policy.simple !== undefined && ch !== undefined) {
    throw invalid('loadBalancer sets both `simple` and `consistentHash`; choose one');
  }
  if (ch !== undefined) {
    if (ch.ringHash !== undefined && ch.maglev !== undefined) {
      throw invalid('consistentHash sets both `ringHash` and `maglev`; choose one');
    }
    if (ch.maglev !== undefined) {
      const m = ch.maglev.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
      if (!isPrime(m) || m > MAX_MAGLEV_TABLE_SIZE) {
        throw invalid(
          `consistentHash.maglev.tableSize ${m} must be a prime number at most ${MAX_MAGLEV_TABLE_SIZE} (e.g. 65537)`,
        );
      }
      return { ...out, algorithm: 'MAGLEV', tableSize: m };
    }
    const r = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE;
    if (!Number.isInteger(r) || r < 1 || r > MAXIMUM_RING_SIZE) {
      throw invalid(
        `consistentHash.ringHash.minimumRingSize ${r} must be an integer from 1 to ${MAXIMUM_RING_SIZE}`,
      );
    }
    return { ...out, algorithm: 'RING_HASH', ringSize: r };
  }
  switch (policy.simple) {
    case undefined:
    case 'UNSPECIFIED':
    case 'ROUND_ROBIN':
      return out;
    case 'RANDOM':
      return { ...out, algorithm: 'RANDOM' };
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return { ...out, algorithm: 'LEAST_REQUEST' };
    default:
      throw invalid(
        `loadBalancer.simple ${JSON.stringify(policy.simple)} is not supported; use ROUND_ROBIN, RANDOM or LEAST_REQUEST` +
          (policy.simple === 'PASSTHROUGH'
            ? ' (PASSTHROUGH has no meaning in Weft: endpoints come from the Service)'
            : ''),
      );
  }
}

function invalid(message: string): WeftError {
  return new WeftError('WEFT_LB_INVALID_POLICY', `DestinationRule trafficPolicy.${message}`);
}

/** Create the balancer the policy asks for over `endpoints`. Throws WEFT_LB_INVALID_POLICY. */
export function createBalancer<E extends LbEndpoint>(
  policy: LoadBalancerSettings | undefined,
  endpoints: readonly E[],
  deps: BalancerDeps<E>,
): Balancer<E> {
  const { algorithm, ringSize, tableSize } = resolveLbAlgorithm(policy);
  switch (algorithm) {
    case 'ROUND_ROBIN':
      return new RoundRobinBalancer(endpoints, deps);
    case 'RANDOM':
      return new RandomBalancer(endpoints, deps);
    case 'LEAST_REQUEST':
      return new LeastRequestBalancer(endpoints, deps);
    case 'RING_HASH':
      return new RingHashBalancer(endpoints, deps, ringSize);
    case 'MAGLEV':
      return new MaglevBalancer(endpoints, deps, tableSize);
  }
}

function usable<E extends LbEndpoint>(endpoints: readonly E[]): E[] {
  const out: E[] = [];
  for (const e of endpoints) if (Number.isFinite(e.weight) && e.weight > 0) out.push(e);
  return out;
}

function allEqualWeights(es: readonly LbEndpoint[]): boolean {
  for (const e of es) if (e.weight !== es[0]!.weight) return false;
  return true;
}

/** Weighted random over `es` given cumulative weights (binary search). */
function weightedRandom<E>(es: readonly E[], cumulative: Float64Array, random: () => number): E | undefined {
  const n = es.length;
  if (n <= 1) return es[0];
  const x = random() * cumulative[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return es[lo];
}

function cumulativeOf(es: readonly LbEndpoint[]): Float64Array {
  const c = new Float64Array(es.length);
  let t = 0;
  for (let i = 0; i < es.length; i++) c[i] = t += es[i]!.weight;
  return c;
}

/**
 * Round robin. Equal weights: rotate, starting at a random position so that many proxies do not send
 * in lockstep. Different weights: smooth weighted round robin (nginx): every pick adds each endpoint's
 * weight to its credit, takes the endpoint with the most credit and charges it the total weight —
 * weights {5,1,1} give a,a,b,a,c,a,a rather than a burst of five.
 */
export class RoundRobinBalancer<E extends LbEndpoint> implements Balancer<E> {
  readonly algorithm = 'ROUND_ROBIN';
  endpoints: readonly E[] = [];
  #next = 0;
  #weighted = false;
  #credit = new Float64Array(0);
  #total = 0;
  readonly #random: () => number;

  constructor(endpoints: readonly E[], deps: BalancerDeps<E>) {
    this.#random = deps.random;
    this.update(endpoints);
    this.#next = Math.floor(this.#random() * this.endpoints.length) || 0;
  }

  update(endpoints: readonly E[]): void {
    const prev = this.endpoints;
    const prevCredit = this.#credit;
    const es = usable(endpoints);
    this.endpoints = es;
    this.#weighted = !allEqualWeights(es);
    this.#credit = new Float64Array(es.length);
    this.#total = 0;
    for (const e of es) this.#total += e.weight;
    if (this.#weighted && prev.length > 0) {
      const byKey = new Map<string, number>();
      for (let i = 0; i < prev.length; i++) byKey.set(prev[i]!.key, prevCredit[i] ?? 0);
      for (let i = 0; i < es.length; i++) this.#credit[i] = byKey.get(es[i]!.key) ?? 0;
    }
    if (es.length > 0) this.#next %= es.length;
  }

  pick(_ctx: PickContext): E | undefined {
    const es = this.endpoints;
    const n = es.length;
    if (n === 0) return undefined;
    if (!this.#weighted) {
      const e = es[this.#next]!;
      this.#next = this.#next + 1 === n ? 0 : this.#next + 1;
      return e;
    }
    const credit = this.#credit;
    let best = 0;
    for (let i = 0; i < n; i++) {
      credit[i]! += es[i]!.weight;
      if (credit[i]! > credit[best]!) best = i;
    }
    credit[best]! -= this.#total;
    return es[best];
  }
}

/** Weighted random. */
export class RandomBalancer<E extends LbEndpoint> implements Balancer<E> {
  readonly algorithm = 'RANDOM';
  endpoints: readonly E[] = [];
  #cumulative: Float64Array = new Float64Array(0);
  readonly #random: () => number;

  constructor(endpoints: readonly E[], deps: BalancerDeps<E>) {
    this.#random = deps.random;
    this.update(endpoints);
  }

  update(endpoints: readonly E[]): void {
    this.endpoints = usable(endpoints);
    this.#cumulative = cumulativeOf(this.endpoints);
  }

  pick(_ctx: PickContext): E | undefined {
    return weightedRandom(this.endpoints, this.#cumulative, this.#random);
  }
}

/**
 * Least request by the power of two choices (Mitzenmacher): two distinct endpoints at random, the
 * one with fewer in-flight requests wins (ties: the first drawn). With different weights the load
 * compared is (inflight + 1) / weight, Envoy's weighted least request with active_request_bias 1.
 */
export class LeastRequestBalancer<E extends LbEndpoint> implements Balancer<E> {
  readonly algorithm = 'LEAST_REQUEST';
  endpoints: readonly E[] = [];
  readonly #random: () => number;
  readonly #inflight: ((e: E) => number) | undefined;

  constructor(endpoints: readonly E[], deps: BalancerDeps<E>) {
    this.#random = deps.random;
    this.#inflight = deps.inflight;
    this.update(endpoints);
  }

  update(endpoints: readonly E[]): void {
    this.endpoints = usable(endpoints);
  }

  pick(_ctx: PickContext): E | undefined {
    const es = this.endpoints;
    const n = es.length;
    if (n <= 1) return es[0];
    const i = Math.floor(this.#random() * n) % n;
    let j = Math.floor(this.#random() * (n - 1)) % (n - 1);
    if (j >= i) j++;
    const a = es[i]!;
    const b = es[j]!;
    const inflight = this.#inflight;
    if (inflight === undefined) return a;
    const la = (inflight(a) + 1) / a.weight;
    const lb = (inflight(b) + 1) / b.weight;
    return lb < la ? b : a;
  }
}

/** Ring hash (./ring-hash.ts); no key → weighted random. */
export class RingHashBalancer<E extends LbEndpoint> implements Balancer<E> {
  readonly algorithm = 'RING_HASH';
  endpoints: readonly E[] = [];
  ring: Ring = { hashes: new Uint32Array(0), owner: new Uint32Array(0) };
  #cumulative: Float64Array = new Float64Array(0);
  readonly #random: () => number;
  readonly #minimumRingSize: number;

  constructor(endpoints: readonly E[], deps: BalancerDeps<E>, minimumRingSize: number) {
    this.#random = deps.random;
    this.#minimumRingSize = minimumRingSize;
    this.update(endpoints);
  }

  update(endpoints: readonly E[]): void {
    this.endpoints = usable(endpoints);
    this.#cumulative = cumulativeOf(this.endpoints);
    this.ring = buildRing(
      this.endpoints.map((e) => e.key),
      this.endpoints.map((e) => e.weight),
      this.#minimumRingSize,
    );
  }

  pick(ctx: PickContext): E | undefined {
    if (ctx.hashKey === undefined) return weightedRandom(this.endpoints, this.#cumulative, this.#random);
    const i = ringLookup(this.ring, ctx.hashKey);
    return i < 0 ? undefined : this.endpoints[i];
  }
}

/** Maglev (./maglev.ts); no key → weighted random. */
export class MaglevBalancer<E extends LbEndpoint> implements Balancer<E> {
  readonly algorithm = 'MAGLEV';
  endpoints: readonly E[] = [];
  table: Uint32Array = new Uint32Array(0);
  #cumulative: Float64Array = new Float64Array(0);
  readonly #random: () => number;
  readonly #tableSize: number;

  constructor(endpoints: readonly E[], deps: BalancerDeps<E>, tableSize: number) {
    this.#random = deps.random;
    this.#tableSize = tableSize;
    this.update(endpoints);
  }

  update(endpoints: readonly E[]): void {
    const es = usable(endpoints);
    if (es.length >= this.#tableSize) {
      throw new WeftError(
        'WEFT_LB_INVALID_POLICY',
        `Maglev table size ${this.#tableSize} must be larger than the number of endpoints (${es.length}); raise consistentHash.maglev.tableSize`,
      );
    }
    this.endpoints = es;
    this.#cumulative = cumulativeOf(es);
    this.table = buildMaglevTable(
      es.map((e) => e.key),
      allEqualWeights(es) ? undefined : es.map((e) => e.weight),
      this.#tableSize,
    );
  }

  pick(ctx: PickContext): E | undefined {
    const es = this.endpoints;
    if (es.length === 0) return undefined;
    if (ctx.hashKey === undefined) return weightedRandom(es, this.#cumulative, this.#random);
    return es[maglevLookup(this.table, ctx.hashKey)];
  }
}
