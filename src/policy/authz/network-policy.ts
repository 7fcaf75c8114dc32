/**
 * NetworkPolicy (networking.k8s.io/v1), Kubernetes semantics, enforced by the node proxy at L3/L4.
 *
 * Kubernetes "Network Policies" concept page and the NetworkPolicySpec API reference:
 * - "The two sorts of pod isolation": a pod is isolated for ingress (egress) once any NetworkPolicy
 *   that selects it (`podSelector` in the policy's namespace; `{}` selects every pod there) has
 *   Ingress (Egress) in its `policyTypes`. A pod not isolated for a direction allows everything there.
 * - `policyTypes` defaults (NetworkPolicySpec): Ingress always, plus Egress when the policy has a
 *   non-empty `egress` list (SetDefaults_NetworkPolicy checks `len(spec.egress) != 0`).
 * - Policies are additive: traffic is allowed when at least one rule of one selecting policy allows it.
 *   A rule's `from`/`to` empty or missing matches all peers; its `ports` empty or missing matches all
 *   ports; `ingress: []` (or absent) with Ingress in policyTypes allows nothing.
 * - NetworkPolicyPeer ("Behavior of to and from selectors"): `podSelector` alone selects pods in the
 *   policy's namespace; `namespaceSelector` alone selects all pods of matching namespaces; both
 *   together select matching pods in matching namespaces; `ipBlock` selects a CIDR minus `except`.
 *   Namespaces carry the automatic label `kubernetes.io/metadata.name` ("Targeting a Namespace by its
 *   name").
 * - NetworkPolicyPort: `protocol` defaults to TCP; `port` missing matches every port; a named port is
 *   resolved on the destination pod; `endPort` makes a range `port..endPort` ("Targeting a range of
 *   ports").
 * Weft-specific: a peer whose namespace or labels are unknown (outside the mesh) matches no pod or
 * namespace selector (fail closed); `ipBlock` matches any peer address, pod or not (Kubernetes leaves
 * this implementation-defined for pod IPs).
 */
import { WeftError } from '../../lib/index.ts';
import type { PolicyObject, SecurityEntry } from '../../api/wire/snapshot.ts';
import { cidrContains, parseCidr, parseIp } from './cidr.ts';
import type { Cidr } from './cidr.ts';
import { compileSelector, matchSelector } from './match.ts';
import type { LabelSelector } from './match.ts';
import type {
  CheckOptions,
  Decision,
  NamedPortResolver,
  PeerInfo,
  TraceEntry,
  WorkloadInfo,
} from './types.ts';

type NpPeer =
  | { readonly kind: 'pods'; readonly pods: LabelSelector | null; readonly namespaces: LabelSelector | null }
  | { readonly kind: 'ip'; readonly cidr: Cidr; readonly except: readonly Cidr[] };

interface NpPort {
  readonly protocol: string;
  /** Undefined: every port of the protocol. */
  readonly port: number | string | undefined;
  readonly endPort: number | undefined;
}

interface NpRule {
  readonly index: number;
  /** null: every peer. */
  readonly peers: readonly NpPeer[] | null;
  /** null: every port. */
  readonly ports: readonly NpPort[] | null;
}

interface CompiledNetworkPolicy {
  readonly key: string;
  readonly namespace: string;
  readonly podSelector: LabelSelector;
  readonly ingress: boolean;
  readonly egress: boolean;
  readonly ingressRules: readonly NpRule[];
  readonly egressRules: readonly NpRule[];
}

function compilePeer(raw: unknown, path: string, problems: string[]): NpPeer | undefined {
  const p = (raw ?? {}) as { podSelector?: unknown; namespaceSelector?: unknown; ipBlock?: unknown };
  if (p.ipBlock !== undefined && p.ipBlock !== null) {
    if (p.podSelector !== undefined || p.namespaceSelector !== undefined) {
      problems.push(`${path}: ipBlock cannot be combined with podSelector or namespaceSelector`);
      return undefined;
    }
    const b = p.ipBlock as { cidr?: unknown; except?: unknown };
    const cidr = typeof b.cidr === 'string' ? parseCidr(b.cidr) : undefined;
    if (!cidr) {
      problems.push(`${path}.ipBlock.cidr: ${JSON.stringify(b.cidr)} is not a CIDR`);
      return undefined;
    }
    const except: Cidr[] = [];
    for (const [i, e] of (Array.isArray(b.except) ? b.except : []).entries()) {
      const c = typeof e === 'string' ? parseCidr(e) : undefined;
      if (!c) problems.push(`${path}.ipBlock.except[${i}]: ${JSON.stringify(e)} is not a CIDR`);
      else except.push(c);
    }
    return { kind: 'ip', cidr, except };
  }
  if (p.podSelector === undefined && p.namespaceSelector === undefined) {
    problems.push(`${path}: one of podSelector, namespaceSelector or ipBlock is required`);
    return undefined;
  }
  const pods =
    p.podSelector === undefined ? null : compileSelector(p.podSelector ?? {}, `${path}.podSelector`);
  const namespaces =
    p.namespaceSelector === undefined
      ? null
      : compileSelector(p.namespaceSelector ?? {}, `${path}.namespaceSelector`);
  if (typeof pods === 'string') problems.push(pods);
  if (typeof namespaces === 'string') problems.push(namespaces);
  if (typeof pods === 'string' || typeof namespaces === 'string') return undefined;
  return { kind: 'pods', pods, namespaces };
}

function compilePort(raw: unknown, path: string, problems: string[]): NpPort | undefined {
  const p = (raw ?? {}) as { protocol?: unknown; port?: unknown; endPort?: unknown };
  const protocol = p.protocol === undefined || p.protocol === null ? 'TCP' : String(p.protocol);
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
    problems.push(`${path}.protocol: ${JSON.stringify(p.protocol)} is not one of TCP, UDP, SCTP`);
    return undefined;
  }
  let port: number | string | undefined;
  if (typeof p.port === 'number') {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      problems.push(`${path}.port: ${p.port} is not a port (1-65535)`);
      return undefined;
    }
    port = p.port;
  } else if (typeof p.port === 'string') {
    port = /^\d+$/.test(p.port) ? Number(p.port) : p.port;
  } else if (p.port !== undefined && p.port !== null) {
    problems.push(`${path}.port: must be a number or a port name`);
    return undefined;
  }
  let endPort: number | undefined;
  if (p.endPort !== undefined && p.endPort !== null) {
    if (typeof port !== 'number' || typeof p.endPort !== 'number' || p.endPort < port || p.endPort > 65535) {
      problems.push(`${path}.endPort: needs a numeric port and must be >= port and <= 65535`);
      return undefined;
    }
    endPort = p.endPort;
  }
  return { protocol, port, endPort };
}

function compileRules(raw: unknown, dir: 'ingress' | 'egress', problems: string[]): NpRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.push(`spec.${dir}: must be a list`);
    return [];
  }
  const peerField = dir === 'ingress' ? 'from' : 'to';
  return raw.map((r: unknown, index: number) => {
    const rule = (r ?? {}) as Record<string, unknown>;
    const rawPeers = rule[peerField];
    const rawPorts = rule['ports'];
    let peers: NpPeer[] | null = null;
    if (Array.isArray(rawPeers) && rawPeers.length > 0) {
      peers = [];
      for (const [i, pr] of rawPeers.entries()) {
        const c = compilePeer(pr, `spec.${dir}[${index}].${peerField}[${i}]`, problems);
        if (c) peers.push(c);
      }
    }
    let ports: NpPort[] | null = null;
    if (Array.isArray(rawPorts) && rawPorts.length > 0) {
      ports = [];
      for (const [i, pt] of rawPorts.entries()) {
        const c = compilePort(pt, `spec.${dir}[${index}].ports[${i}]`, problems);
        if (c) ports.push(c);
      }
    }
    return { index, peers, ports };
  });
}

function compileOne(p: PolicyObject, problems: string[]): CompiledNetworkPolicy {
  const key = `${p.metadata.namespace}/${p.metadata.name}`;
  const spec = p.spec as {
    podSelector?: unknown;
    policyTypes?: unknown;
    ingress?: unknown;
    egress?: unknown;
  };
  const local: string[] = [];
  const sel = compileSelector(spec.podSelector ?? {}, 'spec.podSelector');
  if (typeof sel === 'string') local.push(sel);
  let ingress = true;
  let egress = Array.isArray(spec.egress) && spec.egress.length > 0;
  if (Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0) {
    ingress = spec.policyTypes.includes('Ingress');
    egress = spec.policyTypes.includes('Egress');
    for (const t of spec.policyTypes) {
      if (t !== 'Ingress' && t !== 'Egress')
        local.push(`spec.policyTypes: ${JSON.stringify(t)} is not Ingress or Egress`);
    }
  }
  const ingressRules = compileRules(spec.ingress, 'ingress', local);
  const egressRules = compileRules(spec.egress, 'egress', local);
  for (const pr of local) problems.push(`NetworkPolicy ${key}: ${pr}`);
  return {
    key,
    namespace: p.metadata.namespace,
    podSelector: typeof sel === 'string' ? { reqs: [], all: false } : sel,
    ingress,
    egress,
    ingressRules,
    egressRules,
  };
}

export interface NetworkPolicyInput {
  security: Pick<SecurityEntry, 'networkPolicies' | 'namespaces'>;
  workloads: readonly WorkloadInfo[];
  /** Resolves named ports; without it a named port matches nothing. */
  namedPort?: NamedPortResolver;
}

export interface NetworkPolicyEngine {
  /** May `src` open a connection to `port`/`protocol` of workload `dst`? */
  checkIngress(
    dst: { namespace: string; name: string },
    src: PeerInfo,
    port: number,
    protocol?: string,
    opts?: CheckOptions,
  ): Decision;
  /** May workload `src` open a connection to `dst` on `port`/`protocol`? */
  checkEgress(
    src: { namespace: string; name: string },
    dst: PeerInfo,
    port: number,
    protocol?: string,
    opts?: CheckOptions,
  ): Decision;
}

const METADATA_NAME = 'kubernetes.io/metadata.name';

/** Compiles the NetworkPolicies; throws `WEFT_AUTHZ_INVALID_POLICY` listing every malformed field. */
export function compileNetworkPolicies(input: NetworkPolicyInput): NetworkPolicyEngine {
  const problems: string[] = [];
  const all = [...input.security.networkPolicies]
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1,
    )
    .map((p) => compileOne(p, problems));
  if (problems.length > 0) {
    throw new WeftError(
      'WEFT_AUTHZ_INVALID_POLICY',
      `cannot compile network policies:\n  ${problems.join('\n  ')}`,
      {
        detail: { problems },
      },
    );
  }
  const byNs = new Map<string, CompiledNetworkPolicy[]>();
  for (const p of all) {
    const l = byNs.get(p.namespace);
    if (l) l.push(p);
    else byNs.set(p.namespace, [p]);
  }
  const nsLabels = new Map<string, Record<string, string>>();
  for (const n of input.security.namespaces) nsLabels.set(n.name, { ...n.labels, [METADATA_NAME]: n.name });
  const labelsOfNs = (ns: string): Record<string, string> => {
    let l = nsLabels.get(ns);
    if (!l) {
      l = { [METADATA_NAME]: ns };
      nsLabels.set(ns, l);
    }
    return l;
  };
  const workloads = new Map(input.workloads.map((w) => [`${w.namespace}/${w.name}`, w]));
  const selecting = new Map<
    string,
    { ingress: CompiledNetworkPolicy[]; egress: CompiledNetworkPolicy[] } | null
  >();
  const selectingOf = (namespace: string, name: string) => {
    const key = `${namespace}/${name}`;
    let s = selecting.get(key);
    if (s === undefined) {
      const w = workloads.get(key);
      if (!w) s = null;
      else {
        const ps = (byNs.get(namespace) ?? []).filter((p) => matchSelector(p.podSelector, w.labels));
        s = { ingress: ps.filter((p) => p.ingress), egress: ps.filter((p) => p.egress) };
      }
      selecting.set(key, s);
    }
    return s;
  };

  const peerMatches = (peer: NpPeer, policyNs: string, other: PeerInfo): string | null => {
    if (peer.kind === 'ip') {
      const ip = parseIp(other.ip);
      if (!ip) return `address ${JSON.stringify(other.ip)} is not an IP address`;
      if (!cidrContains(peer.cidr, ip.words)) return `${other.ip} not in ipBlock ${peer.cidr.text}`;
      for (const e of peer.except)
        if (cidrContains(e, ip.words)) return `${other.ip} is in ipBlock.except ${e.text}`;
      return null;
    }
    if (other.namespace === undefined)
      return `peer ${other.ip} is not a known workload (no namespace): selectors do not match`;
    if (peer.namespaces === null) {
      if (other.namespace !== policyNs)
        return `peer namespace ${other.namespace} is not the policy's namespace ${policyNs}`;
    } else if (!matchSelector(peer.namespaces, labelsOfNs(other.namespace))) {
      return `namespace ${other.namespace} does not match namespaceSelector`;
    }
    if (peer.pods !== null && !matchSelector(peer.pods, other.labels)) {
      return other.labels === undefined
        ? 'peer labels unknown: podSelector does not match'
        : 'peer labels do not match podSelector';
    }
    return null;
  };

  const portMatches = (
    p: NpPort,
    port: number,
    protocol: string,
    target: { namespace: string; name: string } | undefined,
  ): boolean => {
    if (p.protocol !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number')
      return p.endPort === undefined ? port === p.port : port >= p.port && port <= p.endPort;
    if (!target || !input.namedPort) return false;
    return input.namedPort(target, p.port, protocol) === port;
  };

  const ruleFails = (
    r: NpRule,
    dir: 'ingress' | 'egress',
    policyNs: string,
    other: PeerInfo,
    port: number,
    protocol: string,
    portTarget: { namespace: string; name: string } | undefined,
  ): string | null => {
    if (r.ports !== null && !r.ports.some((p) => portMatches(p, port, protocol, portTarget))) {
      return `${dir}[${r.index}].ports: ${protocol}/${port} is not listed`;
    }
    if (r.peers !== null) {
      const why: string[] = [];
      for (const peer of r.peers) {
        const f = peerMatches(peer, policyNs, other);
        if (f === null) return null;
        why.push(f);
      }
      return `${dir}[${r.index}].${dir === 'ingress' ? 'from' : 'to'}: ${why.join('; ')}`;
    }
    return null;
  };

  const check = (
    dir: 'ingress' | 'egress',
    self: { namespace: string; name: string },
    other: PeerInfo,
    port: number,
    protocolIn: string | undefined,
    opts: CheckOptions | undefined,
  ): Decision => {
    const sel = selectingOf(self.namespace, self.name);
    if (sel === null)
      return Object.freeze({
        allowed: false,
        reason: `unknown workload ${self.namespace}/${self.name}: denied`,
      });
    const policies = dir === 'ingress' ? sel.ingress : sel.egress;
    if (policies.length === 0) {
      return dir === 'ingress' ? NOT_ISOLATED_INGRESS : NOT_ISOLATED_EGRESS;
    }
    const protocol = (protocolIn ?? 'TCP').toUpperCase();
    const explain = opts?.explain === true;
    const portTarget =
      dir === 'ingress'
        ? self
        : other.namespace !== undefined && other.name !== undefined
          ? { namespace: other.namespace, name: other.name }
          : undefined;
    const trace: TraceEntry[] = [];
    let decided: Decision | undefined;
    for (const p of policies) {
      const rules = dir === 'ingress' ? p.ingressRules : p.egressRules;
      const failures: string[] = [];
      let hit = -1;
      for (const r of rules) {
        const f = ruleFails(r, dir, p.namespace, other, port, protocol, portTarget);
        if (f === null) {
          hit = r.index;
          break;
        }
        failures.push(f);
      }
      if (rules.length === 0) failures.push(`no ${dir} rules: allows nothing`);
      if (hit !== -1) {
        decided ??= Object.freeze({
          allowed: true,
          policy: p.key,
          rule: hit,
          reason: `allowed by NetworkPolicy ${p.key} ${dir}[${hit}]`,
        });
        if (!explain) return decided;
        trace.push({ policy: p.key, action: 'ALLOW', matched: true, rule: hit });
      } else if (explain) {
        trace.push({ policy: p.key, action: 'ALLOW', matched: false, failures });
      }
    }
    decided ??= Object.freeze({
      allowed: false,
      reason: `isolated for ${dir} by NetworkPolicy ${policies.map((p) => p.key).join(', ')}; no ${dir} rule allows this traffic`,
    });
    return explain ? Object.freeze({ ...decided, trace: Object.freeze(trace) }) : decided;
  };

  return {
    checkIngress: (dst, src, port, protocol, opts) => check('ingress', dst, src, port, protocol, opts),
    checkEgress: (src, dst, port, protocol, opts) => check('egress', src, dst, port, protocol, opts),
  };
}

const NOT_ISOLATED_INGRESS: Decision = Object.freeze({
  allowed: true,
  reason: 'not isolated for ingress: no NetworkPolicy with policyType Ingress selects the workload',
});
const NOT_ISOLATED_EGRESS: Decision = Object.freeze({
  allowed: true,
  reason: 'not isolated for egress: no NetworkPolicy with policyType Egress selects the workload',
});
