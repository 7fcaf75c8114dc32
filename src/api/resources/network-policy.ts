/**
 * networking.k8s.io/v1 NetworkPolicy (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/):
 * L3/L4 segmentation by pod labels, namespace labels, CIDRs and ports. policyTypes defaults per
 * Kubernetes: always Ingress, plus Egress when the policy has egress rules.
 */
import { dnsSubdomain, cidr, parseCidr, cidrContains, portNumberOrName } from '../manifest/formats.ts';
import { type Schema, obj, list, oneOf, req, dflt, int, CODES } from '../manifest/schema.ts';
import { labelSelector, type LabelSelector, type KindDef } from './common.ts';

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyPort {
  /** Default TCP. */
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicySpec {
  /** Pods (workloads) in the policy's namespace it applies to; {} selects all. */
  podSelector: LabelSelector;
  policyTypes: ('Ingress' | 'Egress')[];
  ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
  egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
}

const ipBlock = obj<IPBlock>(
  { cidr: req(cidr()), except: list(cidr()) },
  {
    check: (b, path, cx) => {
      const outer = parseCidr(b.cidr)!;
      (b.except ?? []).forEach((e, i) => {
        const inner = parseCidr(e)!;
        if (!cidrContains(outer, inner) || (inner.prefix === outer.prefix && inner.base === outer.base))
          cx.error([...path, 'except', i], `${JSON.stringify(e)} must be a strict subset of cidr ${b.cidr}`);
      });
    },
  },
);

const peer = obj<NetworkPolicyPeer>(
  { podSelector: labelSelector(), namespaceSelector: labelSelector(), ipBlock },
  {
    check: (p, path, cx, raw) => {
      if (p.ipBlock && (p.podSelector || p.namespaceSelector))
        cx.error(
          [...path, 'ipBlock'],
          'ipBlock may not be combined with podSelector or namespaceSelector',
          CODES.value,
          'key',
        );
      if (Object.keys(raw).length === 0)
        cx.error(path, 'must set at least one of podSelector, namespaceSelector, ipBlock', CODES.required);
    },
  },
);

const port = obj<NetworkPolicyPort>(
  {
    protocol: dflt(oneOf(['TCP', 'UDP', 'SCTP'] as const), 'TCP'),
    port: portNumberOrName(),
    endPort: int({ min: 1, max: 65535 }),
  },
  {
    check: (p, path, cx) => {
      if (p.endPort === undefined) return;
      if (typeof p.port !== 'number')
        cx.error([...path, 'endPort'], 'may only be set when port is a number', CODES.value, 'key');
      else if (p.endPort < p.port)
        cx.error([...path, 'endPort'], `must be greater than or equal to port (${p.port})`);
    },
  },
);

export const networkPolicySpec: Schema<NetworkPolicySpec> = obj<NetworkPolicySpec>(
  {
    podSelector: dflt(labelSelector(), () => ({})),
    policyTypes: list(oneOf(['Ingress', 'Egress'] as const), {
      min: 1,
      max: 2,
      uniqueBy: (t) => String(t),
      uniqueWhat: 'policy type',
    }),
    ingress: list(obj({ from: list(peer), ports: list(port) })),
    egress: list(obj({ to: list(peer), ports: list(port) })),
  },
  {
    check: (s) => {
      s.policyTypes ??= s.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
    },
  },
);

export const networkPolicyKind: KindDef<NetworkPolicySpec> = {
  kind: 'NetworkPolicy',
  apiVersion: 'networking.k8s.io/v1',
  apiVersions: ['networking.k8s.io/v1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: networkPolicySpec,
  specRequired: true,
};
