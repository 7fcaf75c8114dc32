/**
 * The api layer as the node proxy needs it at run time: the pushed snapshot's types and the few pure
 * helpers that read its fields. Importing this loads no resource schema, manifest parser or
 * translator (api/index.ts loads them all, ~2.6 MB resident that a proxy never uses;
 * docs/architecture.md, "Proxy memory"). Everything here is also exported by api/index.ts.
 */
export { gatewayDurationMs, goDurationMs, RATE_LIMIT_UNIT_MS } from './durations.ts';
export type { RateLimitUnit } from './durations.ts';
export { GRPC_STATUS_NAMES } from './grpc-status.ts';
export type { GrpcStatusName } from './grpc-status.ts';
