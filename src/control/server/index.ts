/** The control plane's HTTP API server and its bearer-token helpers. */
export {
  createControlHandler,
  startControlServer,
  statusOf,
  DEFAULT_MAX_BODY_BYTES,
} from './control-server.ts';
export type {
  ResourceValidator,
  RouteRequest,
  RouteResult,
  ExtraRoute,
  ControlServerOptions,
  ListenOptions,
  RunningControlServer,
} from './control-server.ts';
export { loadOrCreateToken, tokensEqual, bearerToken } from './token.ts';
export { apiResourceValidator } from './validator.ts';
