/**
 * The proxy's authorizer for one snapshot: policy's engine (AuthorizationPolicy, PeerAuthentication,
 * NetworkPolicy) compiled over every workload of the mesh — destinations for inbound checks, sources
 * for egress NetworkPolicy, peers for ingress NetworkPolicy. Compiling throws on a policy the engine
 * cannot use, which makes the proxy NACK the snapshot and keep its last good config.
 */
import type { Snapshot } from '../../api/index.ts';
import { compileAuthorization, servicesOfFromSnapshot } from '../../policy/authz/index.ts';
import type { Authorizer, WorkloadInfo } from '../../policy/authz/index.ts';

export function compileProxyAuthorizer(snapshot: Snapshot): Authorizer {
  const workloads = new Map<string, WorkloadInfo>();
  for (const i of snapshot.instances) {
    const key = `${i.namespace}/${i.workload}`;
    if (!workloads.has(key)) {
      workloads.set(key, {
        namespace: i.namespace,
        name: i.workload,
        labels: i.labels,
        serviceAccount: i.serviceAccount,
        spiffeId: i.spiffeId,
      });
    }
  }
  return compileAuthorization({
    security: snapshot.security,
    mesh: snapshot.mesh,
    workloads: [...workloads.values()],
    servicesOf: servicesOfFromSnapshot(snapshot.services),
  });
}
