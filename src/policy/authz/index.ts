/** policy/authz: the authorization engine (AuthorizationPolicy, PeerAuthentication, NetworkPolicy). */
export { compileAuthorization, servicesOfFromSnapshot } from './authorizer.ts';
export type { Authorizer, CompileAuthorizationInput } from './authorizer.ts';
export { compileAuthorizationPolicies, prepareConnection } from './authorization.ts';
export type {
  AuthorizationEngine,
  AuthorizationInput,
  PreparedConnection,
  WorkloadAuthorizer,
} from './authorization.ts';
export { compilePeerAuthentications, DEFAULT_MTLS_MODE } from './peer-authentication.ts';
export type {
  MtlsResolution,
  PeerAuthenticationEngine,
  PeerAuthenticationInput,
} from './peer-authentication.ts';
export { compileNetworkPolicies } from './network-policy.ts';
export type { NetworkPolicyEngine, NetworkPolicyInput } from './network-policy.ts';
export { normalizePath } from './path.ts';
export type { NormalizedPath } from './path.ts';
export type {
  CheckOptions,
  ConnectionInfo,
  Decision,
  MtlsModeValue,
  NamedPortResolver,
  PeerInfo,
  PolicyAction,
  RequestInfo,
  ServiceRef,
  TraceEntry,
  WorkloadInfo,
} from './types.ts';
