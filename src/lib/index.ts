/** lib: knows nothing of the mesh. Node built-ins only. */
export { WeftError, isWeftError, errorMessage } from './errors/weft-error.ts';
export { systemClock, FakeClock } from './time/clock.ts';
export type { Clock, Timer } from './time/clock.ts';
export { createLogger, silentLogger } from './log/log.ts';
export type { Logger, LogLevel, LogSink } from './log/log.ts';
export { Watch } from './watch/watch.ts';
export type { Unsubscribe } from './watch/watch.ts';
export { Backoff } from './backoff/backoff.ts';
export type { BackoffOptions } from './backoff/backoff.ts';
export { grpcFrame, GrpcFrameReader } from './grpc/framing.ts';
export { TurnBudget } from './turn/turn-budget.ts';
