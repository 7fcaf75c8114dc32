/**
 * v1 Node (Kubernetes core/v1): a host that runs a Weft node proxy. Topology labels
 * (`topology.kubernetes.io/region`, `.../zone`) give endpoints their locality; `status.addresses`
 * with type InternalIP is where the proxy's tunnel listener binds (the only kind whose status is
 * user-supplied); the annotation `weft.dev/tunnel-port` overrides the HBONE port (default 15008).
 */
import type { Resource } from '../resource.ts';
import { dnsSubdomain, ipAddress } from '../manifest/formats.ts';
import { type Schema, obj, list, oneOf, str, req, bool, CODES } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';

export interface NodeSpec {
  /** Accepted; Weft places no new instances on an unschedulable node (placement honours it later). */
  unschedulable?: boolean;
}

export interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP' | 'Hostname' | 'InternalDNS' | 'ExternalDNS';
  address: string;
}

export interface NodeStatus {
  addresses?: NodeAddress[];
}

/** Default port of the tunnel listener (Istio ambient's HBONE port). */
export const DEFAULT_TUNNEL_PORT = 15008;
export const TUNNEL_PORT_ANNOTATION = 'weft.dev/tunnel-port';

export const nodeSpec: Schema<NodeSpec> = obj<NodeSpec>({ unschedulable: bool() });

const nodeAddress = obj<NodeAddress>(
  {
    type: req(oneOf(['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'] as const)),
    address: req(str({ min: 1 })),
  },
  {
    check: (a, path, cx) => {
      if (a.type === 'InternalIP' || a.type === 'ExternalIP')
        ipAddress().parse(a.address, [...path, 'address'], cx);
    },
  },
);

export const nodeStatus: Schema<NodeStatus> = obj<NodeStatus>(
  { addresses: list(nodeAddress) },
  {
    check: (s, path, cx) => {
      const internal = (s.addresses ?? []).filter((a) => a.type === 'InternalIP');
      if (s.addresses && internal.length === 0)
        cx.warn(
          [...path, 'addresses'],
          'no InternalIP address: the tunnel listener will bind 127.0.0.1',
          CODES.value,
        );
    },
  },
);

export const nodeKind: KindDef<NodeSpec> = {
  kind: 'Node',
  apiVersion: 'v1',
  apiVersions: ['v1'],
  namespaced: false,
  name: dnsSubdomain(),
  spec: nodeSpec,
  specRequired: false,
  status: nodeStatus,
  finish: (spec, meta, cx) => {
    const tp = meta.annotations[TUNNEL_PORT_ANNOTATION];
    if (tp !== undefined && !(/^\d{1,5}$/.test(tp) && Number(tp) >= 1 && Number(tp) <= 65535))
      cx.error(
        ['metadata', 'annotations', TUNNEL_PORT_ANNOTATION],
        `${JSON.stringify(tp)} is not a port number (1-65535)`,
      );
    return spec;
  },
};

/** The node's tunnel address: its first InternalIP, else 127.0.0.1. */
export function nodeAddressOf(node: Resource<NodeSpec>): string {
  const st = node.status as NodeStatus | undefined;
  return st?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '127.0.0.1';
}

/** The node's tunnel port: the `weft.dev/tunnel-port` annotation, else 15008. */
export function nodeTunnelPort(node: Resource<NodeSpec>): number {
  const v = node.metadata.annotations[TUNNEL_PORT_ANNOTATION];
  return v !== undefined ? Number(v) : DEFAULT_TUNNEL_PORT;
}
