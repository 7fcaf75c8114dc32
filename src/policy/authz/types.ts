/**
 * The shapes the authorization engine takes and returns. Inputs are plain data (snapshot entries and
 * descriptions of connections and requests); results are `Decision`s, the one answer shape for
 * AuthorizationPolicy and NetworkPolicy alike, so the proxy, the analyser and `weft policy explain`
 * read the same thing.
 */

/** A workload the engine decides for (the destination of inbound traffic). */
export interface WorkloadInfo {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  serviceAccount: string;
  /** `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`. */
  spiffeId: string;
}

export interface ServiceRef {
  namespace: string;
  name: string;
}

/** One inbound connection as the destination proxy sees it. */
export interface ConnectionInfo {
  source: {
    /** The peer's verified SPIFFE ID (`spiffe://…`); undefined for plaintext. */
    principal?: string | undefined;
    /** The peer address (Istio `source.ip`, `ipBlocks`). */
    ip: string;
    /** The original client address (Istio `remote.ip`, `remoteIpBlocks`); defaults to `ip`. */
    remoteIp?: string | undefined;
  };
  destination: { ip: string; port: number };
  /** TLS server name (Istio `connection.sni`). */
  sni?: string | undefined;
}

/** One HTTP request on a connection. `header` returns the (comma-merged) value or undefined. */
export interface RequestInfo {
  method: string;
  /** The request-target as received (normalised by the engine, see path.ts). */
  path: string;
  /** `:authority` / Host. */
  host: string;
  header(name: string): string | undefined;
  /** The authenticated JWT principal `<iss>/<sub>`; Weft has no request authentication yet, so usually undefined. */
  requestPrincipal?: string | undefined;
}

export interface CheckOptions {
  /** Record a trace entry for every applicable policy (slower; for `weft policy explain` and denials). */
  explain?: boolean;
}

export type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT';

/** Why one policy did or did not match. */
export interface TraceEntry {
  /** `namespace/name`, with the kind for NetworkPolicy and PeerAuthentication traces. */
  readonly policy: string;
  readonly action: PolicyAction;
  readonly matched: boolean;
  /** The first matching rule, when matched. */
  readonly rule?: number;
  /** When not matched: one line per rule, the first field that failed (`rules[0].from[0].source.principals: …`). */
  readonly failures?: readonly string[];
}

export interface Decision {
  readonly allowed: boolean;
  /** True when an AUDIT policy matched (Istio AUDIT: marks the request for audit, never changes the outcome). */
  readonly audit?: boolean;
  /** `namespace/name` of the deciding policy, when one decided. */
  readonly policy?: string;
  /** Index of the deciding rule in that policy. */
  readonly rule?: number;
  readonly reason: string;
  readonly trace?: readonly TraceEntry[];
}

export type MtlsModeValue = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** A NetworkPolicy peer: the other end of the connection. Unknown labels/namespace: selectors do not match. */
export interface PeerInfo {
  ip: string;
  namespace?: string | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
  /** The peer workload's name, when it is one (for named ports on egress). */
  name?: string | undefined;
}

/** Resolves a named container port of a workload (Kubernetes NetworkPolicyPort `port` as a name). */
export type NamedPortResolver = (
  workload: { namespace: string; name: string },
  portName: string,
  protocol: string,
) => number | undefined;
