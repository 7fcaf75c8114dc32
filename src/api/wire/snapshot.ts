/**
 * The snapshot: everything one node proxy needs, computed by the control plane's translator (a pure
 * function of the stored resources) and pushed over the config stream. It is plain JSON, canonical
 * (stable key and list order) so that `version` is a content hash.
 *
 * The proxy converts it into runtime structures in one place (src/proxy/config). Field names follow
 * the upstream resource specifications where a field comes from one.
 */

export type AppProtocol = 'http' | 'http2' | 'grpc' | 'tcp';
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface Snapshot {
  /** Content hash of everything below (sha256 hex, first 16 chars). */
  version: string;
  /** The node this snapshot is for. */
  node: string;
  /** Store revision the snapshot was computed from. */
  revision: number;
  mesh: MeshSettings;
  /** Every node of the mesh (peers to tunnel to), sorted by name. */
  nodes: NodeEntry[];
  /** Every workload instance of the mesh (labels and identity of callers), sorted by ns/name. */
  instances: InstanceEntry[];
  /** Names of the instances placed on this node (the proxy serves them), sorted. */
  localInstances: string[];
  /** Every service of the mesh with its endpoints, sorted by namespace/name. */
  services: ServiceEntry[];
  /** Routes (HTTPRoute and GRPCRoute in mesh mode), sorted by namespace/name. */
  routes: RouteEntry[];
  /** Traffic policy per service host (from DestinationRule), sorted by namespace/name. */
  trafficPolicies: TrafficPolicyEntry[];
  /** Outbound capture listeners on this node (see docs/architecture.md, "Capture"). */
  listeners: ListenerEntry[];
  /** What the authorization engine needs, for the workloads on this node. */
  security: SecurityEntry;
  /**
   * weft.dev/v1alpha1 FaultInjection objects that route rules refer to with an ExtensionRef filter,
   * sorted by namespace/name (absent: none).
   */
  faultInjections?: FaultInjectionEntry[];
  /** weft.dev/v1alpha1 RateLimitPolicy objects by target service, sorted by namespace/name (absent: none). */
  rateLimitPolicies?: RateLimitPolicyEntry[];
}

/** A FaultInjection as validated (Istio HTTPFaultInjection shape; see docs/resilience.md). */
export interface FaultInjectionEntry {
  namespace: string;
  name: string;
  spec: {
    delay?: { fixedDelay: string; percentage: number };
    abort?: { httpStatus?: number; grpcStatus?: string; percentage: number };
  };
}

/** A RateLimitPolicy as validated, with its target service resolved to namespace/name. */
export interface RateLimitPolicyEntry {
  namespace: string;
  name: string;
  service: { namespace: string; name: string };
  /** The validated spec (weft.dev/v1alpha1 RateLimitPolicySpec). */
  spec: Record<string, unknown>;
}

export interface MeshSettings {
  trustDomain: string;
  /** `deny` (Weft's default): a workload with no matching ALLOW policy accepts nothing. */
  defaultPolicy: 'deny' | 'allow';
  /** SVID lifetime in seconds (default 3600). */
  certTtlSeconds: number;
  /** Namespace whose policies apply mesh-wide (Istio's root namespace; default `weft-system`). */
  rootNamespace: string;
  /**
   * Percentage (0–100) of allowed decisions written to the decision log; denials are always
   * written. MeshConfig `telemetry.accessLog` turns it on at `telemetry.sampling` percent.
   */
  allowLogPercent: number;
}

export interface NodeEntry {
  name: string;
  /** Address the node's tunnel listener (HBONE, HTTP/2 CONNECT over mTLS) binds. */
  address: string;
  tunnelPort: number;
  labels: Record<string, string>;
}

export interface InstanceEntry {
  /** Pod-like instance name: `<workload>-<index>`. */
  name: string;
  namespace: string;
  workload: string;
  serviceAccount: string;
  /** spiffe://<trust-domain>/ns/<ns>/sa/<sa> (or .../agent/<name> for agents). */
  spiffeId: string;
  labels: Record<string, string>;
  /** Loopback address the instance listens on. */
  address: string;
  /**
   * Where clients outside the mesh reach the instance, through its node proxy, on the same ports
   * (plaintext; PeerAuthentication STRICT refuses it, PERMISSIVE accepts it unauthenticated).
   */
  plaintextAddress: string;
  node: string;
}

export interface ServiceEntry {
  namespace: string;
  name: string;
  /** Names this service answers to: name, name.ns, name.ns.svc, name.ns.svc.<domain>. */
  hosts: string[];
  ports: ServicePortEntry[];
  endpoints: EndpointEntry[];
  /** The `weft.dev/health-check` annotation (JSON), verbatim: active health checking is opted in. */
  healthCheck?: string;
}

export interface ServicePortEntry {
  name: string;
  port: number;
  /** Numeric port on the instance (targetPort resolved). */
  targetPort: number;
  protocol: AppProtocol;
}

export interface EndpointEntry {
  instance: string;
  namespace: string;
  workload: string;
  address: string;
  node: string;
  spiffeId: string;
  labels: Record<string, string>;
  /** Relative weight for weighted balancers (default 1). */
  weight: number;
  /** region/zone/subzone from the node's topology labels ('' when unknown). */
  locality: string;
}

/** A route in mesh mode, attached to a Service port (GAMMA). */
export interface RouteEntry {
  kind: 'HTTPRoute' | 'GRPCRoute';
  namespace: string;
  name: string;
  /** When the route was created (metadata.creationTimestamp), for Gateway API tie-breaking. */
  creationTimestamp: string;
  /** Parent services (namespace/name and optional port) this route attaches to. */
  parents: { namespace: string; name: string; port?: number }[];
  /** Hostnames (empty: all). */
  hostnames: string[];
  /** The rules as in the Gateway API spec, validated; backendRefs resolved to namespace/name. */
  rules: RouteRule[];
}

export interface RouteRule {
  name?: string;
  matches: RouteMatch[];
  filters: RouteFilter[];
  backendRefs: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  retry?: { codes?: number[]; attempts?: number; backoff?: string };
}

/** HTTPRouteMatch, or GRPCRouteMatch normalised (method → path `/service/method`). */
export interface RouteMatch {
  path?: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  headers?: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  queryParams?: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  method?: string;
  /** GRPCRoute only: the original method match. */
  grpcMethod?: { type: 'Exact' | 'RegularExpression'; service?: string; method?: string };
}

export type RouteFilter =
  | { type: 'RequestHeaderModifier'; requestHeaderModifier: HeaderModifier }
  | { type: 'ResponseHeaderModifier'; responseHeaderModifier: HeaderModifier }
  | {
      type: 'RequestRedirect';
      requestRedirect: {
        scheme?: string;
        hostname?: string;
        path?: PathModifier;
        port?: number;
        statusCode?: number;
      };
    }
  | { type: 'URLRewrite'; urlRewrite: { hostname?: string; path?: PathModifier } }
  | { type: 'RequestMirror'; requestMirror: { backendRef: BackendRef; percent?: number } }
  | { type: 'ExtensionRef'; extensionRef: { group: string; kind: string; name: string } };

export interface HeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export type PathModifier =
  | { type: 'ReplaceFullPath'; replaceFullPath: string }
  | { type: 'ReplacePrefixMatch'; replacePrefixMatch: string };

export interface BackendRef {
  namespace: string;
  name: string;
  port?: number;
  /** Default 1 (Gateway API). */
  weight: number;
  filters?: RouteFilter[];
}

/** DestinationRule trafficPolicy for one host (Istio semantics), subsets flattened away for now. */
export interface TrafficPolicyEntry {
  namespace: string;
  name: string;
  /** The service it applies to. */
  service: { namespace: string; name: string };
  /** trafficPolicy as validated from networking.istio.io/v1 DestinationRule. */
  trafficPolicy: Record<string, unknown>;
  /** Named subsets with their label selectors and optional traffic policy. */
  subsets: { name: string; labels: Record<string, string>; trafficPolicy?: Record<string, unknown> }[];
}

/** An outbound capture listener: connections to it come from `source` and go to `service:port`. */
export interface ListenerEntry {
  address: string;
  port: number;
  /** The local instance that owns this address (the caller identity). */
  source: string;
  service: { namespace: string; name: string };
  protocol: AppProtocol;
}

export interface SecurityEntry {
  /** security.istio.io/v1 AuthorizationPolicy objects that may select a local workload (validated). */
  authorizationPolicies: PolicyObject[];
  /** security.istio.io/v1 PeerAuthentication objects (validated). */
  peerAuthentications: PolicyObject[];
  /** networking.k8s.io/v1 NetworkPolicy objects (validated). */
  networkPolicies: PolicyObject[];
  /** v1 Namespace labels, for namespaceSelector. */
  namespaces: { name: string; labels: Record<string, string> }[];
}

/** A validated resource as stored: the upstream shape, without status. */
export interface PolicyObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}
