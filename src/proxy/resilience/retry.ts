/**
 * Retries: the policy (Gateway API HTTPRoute rule `retry`, GEP-1731: codes, attempts, backoff; plus
 * mesh defaults), the decision whether one failed attempt may be retried, the backoff between tries
 * (exponential with full jitter, as Envoy's retry back-off), and a retry budget so retries cannot
 * amplify an outage (Linkerd's retry budget: retries ≤ ratio × requests over a sliding window, plus a
 * minimum number of retries per second; https://linkerd.io/2/reference/retries/).
 *
 * Only idempotent methods are retried after a response or reset (RFC 9110 §9.2.2), since the
 * upstream may have acted on the request; a connect failure is retried for any method because no
 * byte reached the upstream (Envoy `connect-failure`). gRPC calls follow gRPC's retry design (A6):
 * the method does not matter, the status code does; a reset or timeout before headers counts as
 * UNAVAILABLE.
 */
import type { HTTPRouteRetry } from '../../api/index.ts';
import { gatewayDurationMs } from '../../api/wire/index.ts';
import { Backoff } from '../../lib/index.ts';
import type { Clock } from '../../lib/index.ts';
import {
  Classifier,
  DEFAULT_RETRYABLE_GRPC,
  DEFAULT_RETRYABLE_STATUSES,
  GRPC_NONE,
  GRPC_UNAVAILABLE,
  OUTCOME_CONNECT_FAILURE,
  OUTCOME_RESET,
  OUTCOME_TIMEOUT,
} from './classifier.ts';

/** RFC 9110 §9.2.2 idempotent methods. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export interface RetryPolicy {
  /** Retries after the first attempt (Gateway API `attempts`). 0 disables retries. */
  readonly attempts: number;
  /** Backoff ceiling of the first retry, ms (Gateway API `backoff`). */
  readonly backoffBaseMs: number;
  /** Largest backoff ceiling, ms (Envoy: 10 × base). */
  readonly backoffMaxMs: number;
  /** `http`: method and status decide; `grpc`: the gRPC status decides (GRPCRoute). */
  readonly protocol: 'http' | 'grpc';
  /** Retry non-idempotent methods after a response or reset too. Default false. */
  readonly retryNonIdempotent: boolean;
  /** Requests with a larger body are not retried (the forwarder must buffer what it may replay). */
  readonly maxBufferedBodyBytes: number;
  /** The classifier built from the retryable codes. */
  readonly classifier: Classifier;
}

export interface RetryDefaults {
  /** Default 2 (Istio's default attempts). */
  attempts?: number;
  /** Default 25 ms (Envoy's base interval). */
  backoffBaseMs?: number;
  /** Default 10 × base (Envoy). */
  backoffMaxMs?: number;
  retryNonIdempotent?: boolean;
  /** Default 64 KiB (Linkerd's retry buffer limit). */
  maxBufferedBodyBytes?: number;
  /** gRPC codes retried for GRPCRoute. Default [UNAVAILABLE]. */
  grpcCodes?: readonly number[];
}

export const RETRY_DEFAULTS = Object.freeze({
  attempts: 2,
  backoffBaseMs: 25,
  retryNonIdempotent: false,
  maxBufferedBodyBytes: 64 * 1024,
});

/** No retries at all (the fast path when a route has none). */
export const NO_RETRY: RetryPolicy = Object.freeze({
  attempts: 0,
  backoffBaseMs: RETRY_DEFAULTS.backoffBaseMs,
  backoffMaxMs: RETRY_DEFAULTS.backoffBaseMs * 10,
  protocol: 'http',
  retryNonIdempotent: false,
  maxBufferedBodyBytes: 0,
  classifier: new Classifier(),
}) as RetryPolicy;

/**
 * The policy of an HTTPRoute rule. `retry` absent → the defaults (Istio also retries by default);
 * pass `defaults.attempts: 0` for a mesh without default retries. Configured `codes` are retryable
 * in addition to 502/503/504.
 */
export function httpRetryPolicy(
  retry: HTTPRouteRetry | undefined,
  defaults: RetryDefaults = {},
): RetryPolicy {
  const base = retry?.backoff !== undefined ? (gatewayDurationMs(retry.backoff) ?? 0) : undefined;
  const backoffBaseMs = Math.max(1, base ?? defaults.backoffBaseMs ?? RETRY_DEFAULTS.backoffBaseMs);
  return Object.freeze({
    attempts: Math.max(0, retry?.attempts ?? defaults.attempts ?? RETRY_DEFAULTS.attempts),
    backoffBaseMs,
    backoffMaxMs: Math.max(backoffBaseMs, defaults.backoffMaxMs ?? backoffBaseMs * 10),
    protocol: 'http',
    retryNonIdempotent: defaults.retryNonIdempotent ?? RETRY_DEFAULTS.retryNonIdempotent,
    maxBufferedBodyBytes: defaults.maxBufferedBodyBytes ?? RETRY_DEFAULTS.maxBufferedBodyBytes,
    classifier: new Classifier({
      retryableStatuses: [...DEFAULT_RETRYABLE_STATUSES, ...(retry?.codes ?? [])],
      retryableGrpc: defaults.grpcCodes ?? DEFAULT_RETRYABLE_GRPC,
    }),
  });
}

/** The policy of a GRPCRoute rule (Gateway API GRPCRoute has no retry field: mesh defaults). */
export function grpcRetryPolicy(defaults: RetryDefaults = {}): RetryPolicy {
  const p = httpRetryPolicy(undefined, defaults);
  return Object.freeze({ ...p, protocol: 'grpc' as const });
}

/** True for RFC 9110 idempotent methods (upper-case method names). */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/**
 * May this failed attempt be retried? `outcome` is an HTTP status or an OUTCOME_* constant,
 * `grpcStatus` the gRPC status (GRPC_NONE when absent). Attempts, budget and body size are checked
 * separately (see Retrier).
 */
export function shouldRetry(
  policy: RetryPolicy,
  method: string,
  outcome: number,
  grpcStatus: number = GRPC_NONE,
): boolean {
  if (policy.attempts === 0) return false;
  if (outcome === OUTCOME_CONNECT_FAILURE) return true;
  if (policy.protocol === 'grpc') {
    if (outcome === OUTCOME_RESET || outcome === OUTCOME_TIMEOUT)
      return policy.classifier.retryableGrpc(GRPC_UNAVAILABLE);
    if (grpcStatus >= 0) return policy.classifier.retryableGrpc(grpcStatus);
    // A gRPC call answered without grpc-status: judge by HTTP status (gRPC maps 502/503/504 to UNAVAILABLE).
    return (
      (outcome === 502 || outcome === 503 || outcome === 504) &&
      policy.classifier.retryableGrpc(GRPC_UNAVAILABLE)
    );
  }
  if (!policy.retryNonIdempotent && !IDEMPOTENT.has(method)) return false;
  return policy.classifier.classify(outcome, GRPC_NONE) === 'retryable';
}

export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of requests in the window. Default 0.2 (Linkerd). */
  retryRatio?: number;
  /** Retries per second always allowed, whatever the request count. Default 10 (Linkerd). */
  minRetriesPerSecond?: number;
  /** Sliding window, ms. Default 10000 (Linkerd's ttl). */
  windowMs?: number;
  clock: Clock;
}

const BUCKETS = 10;

/**
 * Linkerd's retry budget over a sliding window of 10 buckets: a retry is allowed while
 * retries < minRetriesPerSecond × window + retryRatio × requests. One budget per destination
 * service (shared by all its routes, as Linkerd's is per service profile).
 */
export class RetryBudget {
  readonly retryRatio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #bucketMs: number;
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #index = 0;
  #bucketStart: number;
  #requestSum = 0;
  #retrySum = 0;
  /** Retries refused because the budget was spent (a counter for metrics). */
  exhausted = 0;

  constructor(options: RetryBudgetOptions) {
    this.retryRatio = Math.max(0, options.retryRatio ?? 0.2);
    this.minRetriesPerSecond = Math.max(0, options.minRetriesPerSecond ?? 10);
    this.windowMs = Math.max(BUCKETS, options.windowMs ?? 10_000);
    this.#clock = options.clock;
    this.#bucketMs = this.windowMs / BUCKETS;
    this.#bucketStart = this.#clock.monotonic();
  }

  #advance(): void {
    const now = this.#clock.monotonic();
    const elapsed = now - this.#bucketStart;
    if (elapsed < this.#bucketMs) return;
    const steps = Math.min(BUCKETS, Math.floor(elapsed / this.#bucketMs));
    for (let i = 0; i < steps; i++) {
      this.#index = (this.#index + 1) % BUCKETS;
      this.#requestSum -= this.#requests[this.#index]!;
      this.#retrySum -= this.#retries[this.#index]!;
      this.#requests[this.#index] = 0;
      this.#retries[this.#index] = 0;
    }
    this.#bucketStart += Math.floor(elapsed / this.#bucketMs) * this.#bucketMs;
  }

  /** Count one original request (not a retry). Call at request start. */
  recordRequest(): void {
    this.#advance();
    this.#requests[this.#index]!++;
    this.#requestSum++;
  }

  /** Take one retry from the budget; false (and counted in `exhausted`) when it is spent. */
  tryWithdraw(): boolean {
    this.#advance();
    const allowed = (this.minRetriesPerSecond * this.windowMs) / 1000 + this.retryRatio * this.#requestSum;
    if (this.#retrySum + 1 > allowed) {
      this.exhausted++;
      return false;
    }
    this.#retries[this.#index]!++;
    this.#retrySum++;
    return true;
  }

  /** Requests and retries in the current window. */
  stats(): { requests: number; retries: number } {
    this.#advance();
    return { requests: this.#requestSum, retries: this.#retrySum };
  }
}

export type RetryRefusal = 'policy' | 'attempts' | 'budget' | 'body';

/**
 * Per-request retry state, created only after a first attempt failed (the success path allocates
 * nothing). `decide()` returns the backoff in ms before the next try, or why not to retry.
 */
export class Retrier {
  readonly #policy: RetryPolicy;
  readonly #budget: RetryBudget | undefined;
  readonly #backoff: Backoff;
  #retries = 0;

  constructor(policy: RetryPolicy, budget: RetryBudget | undefined, random: () => number, clock: Clock) {
    this.#policy = policy;
    this.#budget = budget;
    this.#backoff = new Backoff({ baseMs: policy.backoffBaseMs, maxMs: policy.backoffMaxMs, random, clock });
  }

  /** Retries made so far (attempts = retries + 1, for `x-weft-attempts`). */
  get retries(): number {
    return this.#retries;
  }

  /**
   * After a failed attempt: `{retry: true, delayMs}` or `{retry: false, reason}`. `bodyBytes` is the
   * request body size (-1 when unknown/streaming: not replayable).
   */
  decide(
    method: string,
    outcome: number,
    grpcStatus: number,
    bodyBytes: number,
  ): { retry: true; delayMs: number } | { retry: false; reason: RetryRefusal } {
    if (!shouldRetry(this.#policy, method, outcome, grpcStatus)) return { retry: false, reason: 'policy' };
    if (this.#retries >= this.#policy.attempts) return { retry: false, reason: 'attempts' };
    if (bodyBytes < 0 || bodyBytes > this.#policy.maxBufferedBodyBytes)
      return { retry: false, reason: 'body' };
    if (this.#budget !== undefined && !this.#budget.tryWithdraw()) return { retry: false, reason: 'budget' };
    this.#retries++;
    return { retry: true, delayMs: this.#backoff.next() };
  }
}
