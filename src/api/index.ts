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
  PLAINTEXT_BLOCK,
  addressBlocks,
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
export { parseManifests, parseResourceObject } from './manifest/parse.ts';
export type { ParseResult } from './manifest/parse.ts';
export { checkResources, serviceHostMatches } from './manifest/check.ts';
export { KINDS, kindInfo } from './manifest/envelope.ts';
export type { KindInfo } from './manifest/envelope.ts';
export { gatewayDurationMs, goDurationMs, parseCidr, cidrContains, isPrime } from './manifest/formats.ts';
export type { Cidr } from './manifest/formats.ts';
export { selectorMatches, matchLabelsMatch } from './resources/common.ts';
export type { LabelSelector, LabelSelectorRequirement } from './resources/common.ts';
export { protocolFromPortName } from './resources/service.ts';
export type { ServiceSpec, ServicePort } from './resources/service.ts';
export type { NamespaceSpec } from './resources/namespace.ts';
export {
  nodeAddressOf,
  nodeTunnelPort,
  DEFAULT_TUNNEL_PORT,
  TUNNEL_PORT_ANNOTATION,
} from './resources/node.ts';
export type { NodeSpec, NodeStatus, NodeAddress } from './resources/node.ts';
export { workloadIdentityPath } from './resources/workload.ts';
export type { WorkloadSpec, WorkloadRun, WorkloadReadiness } from './resources/workload.ts';
export { MESH_DEFAULTS, meshSettingsOf, certTtlSeconds } from './resources/mesh-config.ts';
export type { MeshConfigSpec } from './resources/mesh-config.ts';
export type {
  ParentReference,
  BackendObjectReference,
  HTTPHeader,
  HTTPHeaderFilter,
  HTTPRequestMirrorFilter,
  LocalObjectReference,
} from './resources/route-common.ts';
export { pathValueProblem, HTTP_METHODS } from './resources/http-route.ts';
export type {
  HTTPRouteSpec,
  HTTPRouteRule,
  HTTPRouteMatch,
  HTTPPathMatch,
  HTTPHeaderMatch,
  HTTPMethod,
  HTTPRouteFilter,
  HTTPRouteFilterType,
  HTTPBackendRef,
  HTTPRouteTimeouts,
  HTTPRouteRetry,
  HTTPPathModifier,
  HTTPRequestRedirectFilter,
  HTTPURLRewriteFilter,
  PathMatchType,
} from './resources/http-route.ts';
export type {
  GRPCRouteSpec,
  GRPCRouteRule,
  GRPCRouteMatch,
  GRPCMethodMatch,
  GRPCHeaderMatch,
  GRPCRouteFilter,
  GRPCBackendRef,
} from './resources/grpc-route.ts';
export type {
  DestinationRuleSpec,
  TrafficPolicy,
  PortTrafficPolicy,
  LoadBalancerSettings,
  ConsistentHashLB,
  LocalityLbSetting,
  ConnectionPoolSettings,
  OutlierDetection,
  ClientTLSSettings,
  Subset,
} from './resources/destination-rule.ts';
export { wildcardProblem } from './resources/authorization-policy.ts';
export type {
  AuthorizationPolicySpec,
  AuthorizationRule,
  Source,
  Operation,
  Condition,
  PolicyTargetReference,
} from './resources/authorization-policy.ts';
export type { PeerAuthenticationSpec, PeerMtlsMode } from './resources/peer-authentication.ts';
export type {
  NetworkPolicySpec,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  IPBlock,
} from './resources/network-policy.ts';
export { GRPC_STATUS_NAMES } from './resources/fault-injection.ts';
export type {
  FaultInjectionSpec,
  FaultDelay,
  FaultAbort,
  GrpcStatusName,
} from './resources/fault-injection.ts';
export { RATE_LIMIT_UNIT_MS } from './wire/durations.ts';
export type {
  RateLimitPolicySpec,
  RateLimitRule,
  RateLimitDescriptor,
  RateLimitKeyType,
  RateLimitUnit,
} from './resources/rate-limit-policy.ts';
export { ControlClient, errorDiagnostics } from './client/index.ts';
export type {
  ControlClientOptions,
  ChangeOptions,
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
  HistoryResponse,
} from './client/index.ts';
export {
  buildMeshModel,
  snapshotFor,
  snapshotJson,
  translate,
  identitiesOnNode,
  canonicalJson,
  contentHash,
  spiffeIdFor,
  appProtocolOf,
} from './mesh/translate.ts';
export type { MeshModel } from './mesh/translate.ts';
