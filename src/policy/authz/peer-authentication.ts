/**
 * PeerAuthentication (security.istio.io/v1): which mTLS mode a workload's port requires.
 *
 * Istio PeerAuthentication reference: a policy in the root namespace without selector is mesh-wide; one
 * in a namespace without selector covers the namespace; one with a selector covers matching workloads
 * of its namespace ("PeerAuthentication policies with workload selectors are ignored when deployed in
 * the root namespace"). The narrowest wins: workload > namespace > mesh. `UNSET` (or no `mtls`)
 * inherits from the parent level; `portLevelMtls` (keyed by the workload's port) overrides the
 * workload's mode for that port, and a port-level `UNSET` inherits too.
 *
 * Differences from Istio (docs/authorization.md): the default with no policy at all is STRICT (Istio:
 * PERMISSIVE); when several policies tie at one level Istio takes the oldest, Weft (which has no
 * creation time in the snapshot) takes the first by name; `portLevelMtls` is honoured only on
 * workload-level policies (Istio rejects it elsewhere).
 */
import { WeftError } from '../../lib/index.ts';
import type { MeshSettings, PolicyObject, SecurityEntry } from '../../api/wire/snapshot.ts';
import { compileSelector, matchSelector } from './match.ts';
import type { LabelSelector } from './match.ts';
import type { MtlsModeValue, WorkloadInfo } from './types.ts';

type ModeOrUnset = MtlsModeValue | 'UNSET';

interface CompiledPeerAuthentication {
  readonly key: string;
  readonly namespace: string;
  /** null: no selector (namespace or mesh level). */
  readonly selector: LabelSelector | null;
  readonly mode: ModeOrUnset;
  readonly ports: ReadonlyMap<number, ModeOrUnset>;
}

/** The effective mode, the policy that set it (`namespace/name`) and why. */
export interface MtlsResolution {
  readonly mode: MtlsModeValue;
  readonly policy?: string;
  readonly reason: string;
}

export interface PeerAuthenticationEngine {
  mtlsMode(namespace: string, name: string, port: number): MtlsModeValue;
  resolveMtls(namespace: string, name: string, port: number): MtlsResolution;
}

export const DEFAULT_MTLS_MODE: MtlsModeValue = 'STRICT';

function parseMode(v: unknown, path: string, problems: string[]): ModeOrUnset {
  const m = (v as { mode?: unknown } | undefined | null)?.mode;
  if (m === undefined || m === null) return 'UNSET';
  if (m === 'UNSET' || m === 'STRICT' || m === 'PERMISSIVE' || m === 'DISABLE') return m;
  problems.push(`${path}.mode: ${JSON.stringify(m)} is not one of UNSET, DISABLE, PERMISSIVE, STRICT`);
  return 'UNSET';
}

function compileOne(p: PolicyObject, problems: string[]): CompiledPeerAuthentication {
  const key = `${p.metadata.namespace}/${p.metadata.name}`;
  const spec = p.spec as {
    selector?: { matchLabels?: unknown } | null;
    mtls?: unknown;
    portLevelMtls?: unknown;
  };
  const local: string[] = [];
  let selector: LabelSelector | null = null;
  if (spec.selector) {
    const sel = compileSelector({ matchLabels: spec.selector.matchLabels }, 'spec.selector');
    if (typeof sel === 'string') local.push(sel);
    else if (!sel.all) selector = sel;
  }
  const mode = parseMode(spec.mtls, 'spec.mtls', local);
  const ports = new Map<number, ModeOrUnset>();
  if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null) {
    for (const [k, v] of Object.entries(spec.portLevelMtls as Record<string, unknown>)) {
      if (!/^\d{1,5}$/.test(k) || Number(k) < 1 || Number(k) > 65535) {
        local.push(`spec.portLevelMtls.${k}: not a port number (1-65535)`);
        continue;
      }
      ports.set(Number(k), parseMode(v, `spec.portLevelMtls.${k}`, local));
    }
  }
  for (const pr of local) problems.push(`PeerAuthentication ${key}: ${pr}`);
  return { key, namespace: p.metadata.namespace, selector, mode, ports };
}

export interface PeerAuthenticationInput {
  security: Pick<SecurityEntry, 'peerAuthentications'>;
  mesh: Pick<MeshSettings, 'rootNamespace'>;
  workloads: readonly WorkloadInfo[];
}

/** Compiles the PeerAuthentications; throws `WEFT_AUTHZ_INVALID_POLICY` listing every malformed field. */
export function compilePeerAuthentications(input: PeerAuthenticationInput): PeerAuthenticationEngine {
  const problems: string[] = [];
  const all = [...input.security.peerAuthentications]
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1,
    )
    .map((p) => compileOne(p, problems));
  if (problems.length > 0) {
    throw new WeftError(
      'WEFT_AUTHZ_INVALID_POLICY',
      `cannot compile peer authentication:\n  ${problems.join('\n  ')}`,
      {
        detail: { problems },
      },
    );
  }
  const root = input.mesh.rootNamespace;
  const nsLevel = new Map<string, CompiledPeerAuthentication>();
  const byNs = new Map<string, CompiledPeerAuthentication[]>();
  for (const p of all) {
    if (p.selector === null) {
      if (!nsLevel.has(p.namespace)) nsLevel.set(p.namespace, p);
    } else if (p.namespace !== root) {
      const list = byNs.get(p.namespace);
      if (list) list.push(p);
      else byNs.set(p.namespace, [p]);
    }
  }
  const workloads = new Map(input.workloads.map((w) => [`${w.namespace}/${w.name}`, w]));
  const cache = new Map<string, { base: MtlsResolution; wl: CompiledPeerAuthentication | undefined }>();

  const baseOf = (
    namespace: string,
    name: string,
  ): { base: MtlsResolution; wl: CompiledPeerAuthentication | undefined } => {
    const key = `${namespace}/${name}`;
    let c = cache.get(key);
    if (c) return c;
    let base: MtlsResolution = {
      mode: DEFAULT_MTLS_MODE,
      reason: `no PeerAuthentication sets a mode: Weft default ${DEFAULT_MTLS_MODE}`,
    };
    const mesh = nsLevel.get(root);
    if (mesh && mesh.mode !== 'UNSET')
      base = { mode: mesh.mode, policy: mesh.key, reason: `mesh-wide PeerAuthentication ${mesh.key}` };
    const ns = nsLevel.get(namespace);
    if (ns && ns !== mesh && ns.mode !== 'UNSET') {
      base = { mode: ns.mode, policy: ns.key, reason: `namespace PeerAuthentication ${ns.key}` };
    }
    const w = workloads.get(key);
    const wl = w
      ? byNs.get(namespace)?.find((p) => p.selector !== null && matchSelector(p.selector, w.labels))
      : undefined;
    if (wl && wl.mode !== 'UNSET')
      base = { mode: wl.mode, policy: wl.key, reason: `workload PeerAuthentication ${wl.key}` };
    c = { base, wl };
    cache.set(key, c);
    return c;
  };

  const resolveMtls = (namespace: string, name: string, port: number): MtlsResolution => {
    const { base, wl } = baseOf(namespace, name);
    const pm = wl?.ports.get(port);
    if (wl && pm !== undefined && pm !== 'UNSET') {
      return { mode: pm, policy: wl.key, reason: `portLevelMtls ${port} of PeerAuthentication ${wl.key}` };
    }
    return base;
  };
  return {
    resolveMtls,
    mtlsMode: (namespace, name, port) => resolveMtls(namespace, name, port).mode,
  };
}
