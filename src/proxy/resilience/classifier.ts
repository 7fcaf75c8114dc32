/**
 * One classification of an attempt's outcome, shared by retries, circuit breakers, outlier detection
 * and metrics so they can never disagree about what "failed" means (Linkerd's response classifier;
 * Envoy's retry_on / outlier "5xx" and "gateway error" definitions).
 *
 * An outcome is a plain number so the hot path allocates nothing: an HTTP status (100-599) for a
 * response, or one of the negative OUTCOME_* constants for a local error. gRPC status comes alongside
 * as a number (grpc-status trailer or trailers-only header), or -1 when the call is not gRPC or the
 * status is unknown.
 */

/** The connection to the endpoint could not be established; no request byte was sent. */
export const OUTCOME_CONNECT_FAILURE = -1;
/** The upstream reset or closed the stream before the response headers. */
export const OUTCOME_RESET = -2;
/** The per-try timeout fired before the response headers. */
export const OUTCOME_TIMEOUT = -3;
/** Refused locally by a circuit breaker; the endpoint was not involved. */
export const OUTCOME_OVERFLOW = -4;
/** The downstream caller went away; says nothing about the endpoint. */
export const OUTCOME_CANCELLED = -5;

/** No gRPC status (not a gRPC call, or none received). */
export const GRPC_NONE = -1;
export const GRPC_OK = 0;
export const GRPC_CANCELLED = 1;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_RESOURCE_EXHAUSTED = 8;
export const GRPC_INTERNAL = 13;
export const GRPC_UNAVAILABLE = 14;

export type Classification = 'success' | 'failure' | 'retryable';

/** True for statuses Envoy calls gateway errors (502, 503, 504), and for local connection errors. */
export function isGatewayError(outcome: number): boolean {
  return (
    outcome === 502 ||
    outcome === 503 ||
    outcome === 504 ||
    outcome === OUTCOME_CONNECT_FAILURE ||
    outcome === OUTCOME_RESET ||
    outcome === OUTCOME_TIMEOUT
  );
}

/** True for any 5xx and local connection errors (Envoy maps those to 503/504 for outlier detection). */
export function is5xx(outcome: number): boolean {
  return (outcome >= 500 && outcome <= 599) || isGatewayError(outcome);
}

/** False for outcomes that say nothing about the endpoint (local overflow, caller cancelled). */
export function concernsEndpoint(outcome: number): boolean {
  return outcome !== OUTCOME_OVERFLOW && outcome !== OUTCOME_CANCELLED;
}

/** What a classifier treats as retryable, beyond connect failures and resets. */
export interface ClassifierOptions {
  /** HTTP statuses that are retryable. Default 502, 503, 504. */
  retryableStatuses?: Iterable<number>;
  /** gRPC status codes that are retryable. Default UNAVAILABLE (Istio's `unavailable`). */
  retryableGrpc?: Iterable<number>;
}

export const DEFAULT_RETRYABLE_STATUSES: readonly number[] = Object.freeze([502, 503, 504]);
export const DEFAULT_RETRYABLE_GRPC: readonly number[] = Object.freeze([GRPC_UNAVAILABLE]);

/**
 * Outcome → success | failure | retryable.
 * - local connect failure, reset, per-try timeout: retryable;
 * - overflow and cancellation: failure (never retried, and concernsEndpoint() is false);
 * - gRPC (grpcStatus ≥ 0): OK success, a retryable code retryable, any other code failure;
 * - HTTP: a retryable status retryable, other 5xx failure, everything else success.
 */
export class Classifier {
  readonly #statuses: Uint8Array = new Uint8Array(600);
  readonly #grpc: Uint8Array = new Uint8Array(17);

  constructor(options: ClassifierOptions = {}) {
    for (const s of options.retryableStatuses ?? DEFAULT_RETRYABLE_STATUSES)
      if (Number.isInteger(s) && s >= 0 && s < 600) this.#statuses[s] = 1;
    for (const g of options.retryableGrpc ?? DEFAULT_RETRYABLE_GRPC)
      if (Number.isInteger(g) && g >= 0 && g < 17) this.#grpc[g] = 1;
  }

  classify(outcome: number, grpcStatus: number = GRPC_NONE): Classification {
    if (outcome < 0) {
      return outcome === OUTCOME_CONNECT_FAILURE || outcome === OUTCOME_RESET || outcome === OUTCOME_TIMEOUT
        ? 'retryable'
        : 'failure';
    }
    if (grpcStatus >= 0) {
      if (grpcStatus === GRPC_OK) return 'success';
      return grpcStatus < 17 && this.#grpc[grpcStatus] === 1 ? 'retryable' : 'failure';
    }
    if (outcome < 600 && this.#statuses[outcome] === 1) return 'retryable';
    return outcome >= 500 ? 'failure' : 'success';
  }

  /** True when the HTTP status is in the retryable set. */
  retryableStatus(status: number): boolean {
    return status >= 0 && status < 600 && this.#statuses[status] === 1;
  }

  /** True when the gRPC code is in the retryable set. */
  retryableGrpc(code: number): boolean {
    return code >= 0 && code < 17 && this.#grpc[code] === 1;
  }
}
