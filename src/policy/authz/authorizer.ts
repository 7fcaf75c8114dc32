/**
 * One entry point for everything the proxy enforces about who may talk to a workload:
 * AuthorizationPolicy (L4/L7), PeerAuthentication (mTLS mode) and NetworkPolicy (L3/L4), compiled
 * together from a snapshot's `security` and `mesh` sections. The parts are also exported on their own
 * (authorization.ts, peer-authentication.ts, network-policy.ts) for the analyser and for tests.
 */
import type { MeshSettings, SecurityEntry, ServiceEntry } from '../../api/wire/snapshot.ts';
import { compileAuthorizationPolicies } from './authorization.ts';
import type { WorkloadAuthorizer } from './authorization.ts';
import { compileNetworkPolicies } from './network-policy.ts';
import type { NetworkPolicyEngine } from './network-policy.ts';
import { compilePeerAuthentications } from './peer-authentication.ts';
import type { MtlsResolution } from './peer-authentication.ts';
import type { MtlsModeValue, NamedPortResolver, ServiceRef, WorkloadInfo } from './types.ts';

export interface CompileAuthorizationInput {
  security: SecurityEntry;
  mesh: Pick<MeshSettings, 'defaultPolicy' | 'rootNamespace'>;
  workloads: readonly WorkloadInfo[];
  /** Services selecting a workload, for AuthorizationPolicy `targetRef(s)` to a Service. */
  servicesOf?: (workload: WorkloadInfo) => readonly ServiceRef[];
  /** Named container ports, for NetworkPolicy ports given by name. */
  namedPort?: NamedPortResolver;
}

export interface Authorizer extends NetworkPolicyEngine {
  forWorkload(namespace: string, name: string): WorkloadAuthorizer;
  mtlsMode(namespace: string, name: string, port: number): MtlsModeValue;
  resolveMtls(namespace: string, name: string, port: number): MtlsResolution;
}

/** Compiles a snapshot's security section. Throws `WEFT_AUTHZ_INVALID_POLICY` when any policy is malformed. */
export function compileAuthorization(input: CompileAuthorizationInput): Authorizer {
  const authz = compileAuthorizationPolicies({
    security: input.security,
    mesh: input.mesh,
    workloads: input.workloads,
    ...(input.servicesOf ? { servicesOf: input.servicesOf } : {}),
  });
  const peer = compilePeerAuthentications({
    security: input.security,
    mesh: input.mesh,
    workloads: input.workloads,
  });
  const net = compileNetworkPolicies({
    security: input.security,
    workloads: input.workloads,
    ...(input.namedPort ? { namedPort: input.namedPort } : {}),
  });
  return {
    forWorkload: (ns, name) => authz.forWorkload(ns, name),
    mtlsMode: (ns, name, port) => peer.mtlsMode(ns, name, port),
    resolveMtls: (ns, name, port) => peer.resolveMtls(ns, name, port),
    checkIngress: (dst, src, port, protocol, opts) => net.checkIngress(dst, src, port, protocol, opts),
    checkEgress: (src, dst, port, protocol, opts) => net.checkEgress(src, dst, port, protocol, opts),
  };
}

/**
 * `servicesOf` from the snapshot's services: a Service selects a workload when one of its endpoints
 * belongs to it (the translator resolved the Service's selector into endpoints).
 */
export function servicesOfFromSnapshot(
  services: readonly Pick<ServiceEntry, 'namespace' | 'name' | 'endpoints'>[],
): (workload: WorkloadInfo) => readonly ServiceRef[] {
  const map = new Map<string, ServiceRef[]>();
  for (const s of services) {
    const seen = new Set<string>();
    for (const e of s.endpoints) {
      const k = `${e.namespace}/${e.workload}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const list = map.get(k);
      const ref = { namespace: s.namespace, name: s.name };
      if (list) list.push(ref);
      else map.set(k, [ref]);
    }
  }
  return (w) => map.get(`${w.namespace}/${w.name}`) ?? [];
}
