/** policy: the pure evaluation engine (route matching, authorization) shared by the proxy and the analyser. */
// routing (Gateway API HTTPRoute/GRPCRoute in mesh mode)
export { compileRouter, firstQueryValue } from './routing/index.ts';
export type { Router, RouteRequest, RouteTarget, RouteMatchResult } from './routing/index.ts';
export { compileBackends, pickBackend, pickWeighted } from './routing/index.ts';
export type { WeightedBackends } from './routing/index.ts';
export {
  applyHeaderModifier,
  applyRequestHeaderModifier,
  applyResponseHeaderModifier,
  computeRedirect,
  rewriteHost,
  rewritePath,
} from './routing/index.ts';
export type { HeaderRecord, RedirectRequest, RequestRedirectFilter } from './routing/index.ts';
export {
  hostnameMatches,
  hostnameScore,
  hostnamesIntersect,
  normalizeHost,
  compileRe2,
} from './routing/index.ts';
// authorization (AuthorizationPolicy, PeerAuthentication, NetworkPolicy)
export {
  compileAuthorization,
  servicesOfFromSnapshot,
  compileAuthorizationPolicies,
  prepareConnection,
  compilePeerAuthentications,
  DEFAULT_MTLS_MODE,
  compileNetworkPolicies,
  normalizePath,
} from './authz/index.ts';
export type {
  Authorizer,
  CompileAuthorizationInput,
  AuthorizationEngine,
  AuthorizationInput,
  PreparedConnection,
  WorkloadAuthorizer,
  MtlsResolution,
  PeerAuthenticationEngine,
  PeerAuthenticationInput,
  NetworkPolicyEngine,
  NetworkPolicyInput,
  NormalizedPath,
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
} from './authz/index.ts';
// analysis (reachability matrix, invariants, what-if diff, lint; docs/policy-analysis.md)
export {
  createAnalyser,
  buildClasses,
  analysisModel,
  ANALYSIS_NODE_ADDRESS,
  classOf,
  partitionStrings,
  partitionIpv4,
  computeMatrix,
  matrixGraph,
  formatMatrix,
  requestLine,
  verifyInvariants,
  formatVerify,
  diffPolicies,
  formatDiff,
  lintPolicies,
  formatLint,
} from './analysis/index.ts';
export type {
  Analyser,
  AnalyserOptions,
  AnalysisDestination,
  AnalysisSource,
  DestinationPort,
  RequestClass,
  RequestClasses,
  Verdict,
  WitnessRequest,
  AttributePart,
  AttributePartition,
  AttributeDomain,
  Matrix,
  MatrixCell,
  MatrixGraph,
  MatrixOptions,
  AllowedClass,
  Counterexample,
  DestinationSelector,
  InvariantInput,
  InvariantResult,
  InvariantSpec,
  OperationSelector,
  PeerSelector,
  VerifyOptions,
  FlowChange,
  PolicyDiff,
  LintFinding,
  LintOptions,
} from './analysis/index.ts';
