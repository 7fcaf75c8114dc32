/** Resilience mechanisms for the forwarder: classification, retries, timeouts, breakers, outliers, health, faults, locality. */
export {
  Classifier,
  isGatewayError,
  is5xx,
  concernsEndpoint,
  OUTCOME_CONNECT_FAILURE,
  OUTCOME_RESET,
  OUTCOME_TIMEOUT,
  OUTCOME_OVERFLOW,
  OUTCOME_CANCELLED,
  GRPC_NONE,
  GRPC_OK,
  GRPC_CANCELLED,
  GRPC_DEADLINE_EXCEEDED,
  GRPC_RESOURCE_EXHAUSTED,
  GRPC_INTERNAL,
  GRPC_UNAVAILABLE,
  DEFAULT_RETRYABLE_STATUSES,
  DEFAULT_RETRYABLE_GRPC,
} from './classifier.ts';
export type { Classification, ClassifierOptions } from './classifier.ts';
export {
  httpRetryPolicy,
  grpcRetryPolicy,
  shouldRetry,
  isIdempotent,
  RetryBudget,
  Retrier,
  NO_RETRY,
  RETRY_DEFAULTS,
} from './retry.ts';
export type { RetryPolicy, RetryDefaults, RetryBudgetOptions, RetryRefusal } from './retry.ts';
export {
  parseGatewayDuration,
  routeTimeouts,
  tryTimeoutMs,
  poolTimeouts,
  withTimeout,
  TimeoutError,
  NO_TIMEOUTS,
  POOL_TIMEOUT_DEFAULTS,
} from './timeout.ts';
export type { RouteTimeouts, PoolTimeouts } from './timeout.ts';
export {
  CircuitBreaker,
  OverloadedError,
  breakerThresholds,
  OVERLOADED_HEADER,
  UNLIMITED,
} from './circuit-breaker.ts';
export type { BreakerResource, BreakerThresholds } from './circuit-breaker.ts';
export { OutlierDetector, outlierConfig } from './outlier-detector.ts';
export type { OutlierConfig, OutlierEvent } from './outlier-detector.ts';
export {
  HealthChecker,
  parseHealthCheckAnnotation,
  httpProbe,
  tcpProbe,
  HEALTH_CHECK_ANNOTATION,
} from './health-checker.ts';
export type { HealthCheckConfig, Probe, HealthEvent } from './health-checker.ts';
export {
  compileFault,
  decideFault,
  NO_FAULT,
  DELAY_INJECTED_FLAG,
  ABORT_INJECTED_FLAG,
  FAULT_HEADER,
} from './fault.ts';
export type { CompiledFault, FaultDecision } from './fault.ts';
export {
  localityPriorities,
  priorityLoad,
  pickPriority,
  planLocality,
  parseLocality,
  OVERPROVISIONING_FACTOR,
} from './locality.ts';
export type { Locality, LocalityEndpoint, PriorityLevel, LocalityPlan } from './locality.ts';
export { ReplayBody } from './replay-body.ts';
