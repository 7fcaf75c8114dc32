/** The typed client of the control-plane HTTP API and the API's JSON shapes (docs/api.md). */
export { ControlClient, errorDiagnostics } from './control-client.ts';
export type { ControlClientOptions, ChangeOptions } from './control-client.ts';
export type {
  StoredResource,
  RevisionDiff,
  RevisionInfo,
  ApplyOutcome,
  ApplyResponse,
  ApiDiagnostic,
  ListResponse,
  RevisionStateResponse,
  ProxyStatus,
  StatusResponse,
  ErrorBody,
  HistoryResponse,
} from './types.ts';
