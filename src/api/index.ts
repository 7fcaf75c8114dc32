/**
 * The public surface of the api layer: resource envelope and diagnostics, the resource kinds with
 * their parsers and cross-resource checks, mesh placement/addressing, and the pushed snapshot types.
 * Flat list of named exports (no `export *`): adding a name here makes it API.
 */
export { resourceKey, formatDiagnostic } from './resource.ts';
export type { Resource, ResourceMeta, SourceRef, Severity, Diagnostic } from './resource.ts';
export { placeInstances } from './mesh/placement.ts';
export type { Placement, PlacementInput } from './mesh/placement.ts';
export {
  allocateAddresses,
  INSTANCE_BLOCK,
  CAPTURE_BLOCK,
  instanceKey,
  captureKey,
  serviceEnvName,
  formatIp4,
  meshAddresses,
} from './mesh/addressing.ts';
export type {
  AppProtocol,
  MtlsMode,
  Snapshot,
  MeshSettings,
  NodeEntry,
  InstanceEntry,
  ServiceEntry,
  ServicePortEntry,
  EndpointEntry,
  RouteEntry,
  RouteRule,
  RouteMatch,
  RouteFilter,
  HeaderModifier,
  PathModifier,
  BackendRef,
  TrafficPolicyEntry,
  ListenerEntry,
  SecurityEntry,
  PolicyObject,
} from './wire/snapshot.ts';
export { PUSH_PROTO_PATH, PUSH_PROTO_LOADER_OPTIONS, PUSH_SERVICE } from './wire/push-messages.ts';
export type {
  HelloMessage,
  AckMessage,
  NackMessage,
  ProxyMessage,
  SnapshotUpdateMessage,
  TrustBundleMessage,
  ControlMessage,
  SignRequest,
  SignResponse,
} from './wire/push-messages.ts';
