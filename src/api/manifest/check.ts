/**
 * Cross-resource checks over a complete set of resources (what an apply would produce): duplicate
 * identities, references between kinds (routes → Services and ports, Workload → Node), selectors
 * that select nothing, and mesh-wide singletons. Errors block an apply; warnings are advice.
 */
import type { Diagnostic, Resource, SourceRef } from '../resource.ts';
import { resourceKey } from '../resource.ts';
import type { ServiceSpec } from '../resources/service.ts';
import type { WorkloadSpec } from '../resources/workload.ts';
import type { HTTPRouteSpec } from '../resources/http-route.ts';
import type { GRPCRouteSpec } from '../resources/grpc-route.ts';
import type { DestinationRuleSpec } from '../resources/destination-rule.ts';
import type { AuthorizationPolicySpec } from '../resources/authorization-policy.ts';
import type { PeerAuthenticationSpec } from '../resources/peer-authentication.ts';
import type { NetworkPolicySpec } from '../resources/network-policy.ts';
import { meshSettingsOf } from '../resources/mesh-config.ts';
import { matchLabelsMatch, selectorMatches } from '../resources/common.ts';
import { locate } from './parse.ts';
import { CODES, formatPath, type Seg } from './schema.ts';

/** Service hosts are `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local` (Istio/Kubernetes DNS). */
export function serviceHostMatches(
  host: string,
  ruleNamespace: string,
  svc: { namespace: string; name: string },
): boolean {
  const fqdn = `${svc.name}.${svc.namespace}.svc.cluster.local`;
  if (host === '*') return true;
  if (host.startsWith('*.')) return fqdn.endsWith(host.slice(1));
  if (!host.includes('.')) return svc.name === host && svc.namespace === ruleNamespace;
  return (
    host === `${svc.name}.${svc.namespace}` || host === `${svc.name}.${svc.namespace}.svc` || host === fqdn
  );
}

/**
 * Check a complete set of resources. Positions come from parseManifests when the resources came
 * from there (field-precise), else from `sources` (the document start), else none.
 */
export function checkResources(
  resources: readonly Resource[],
  sources?: Map<string, SourceRef>,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const diag = (
    r: Resource<unknown>,
    path: Seg[],
    severity: 'error' | 'warning',
    code: string,
    message: string,
  ): void => {
    const p = locate(r, path) ?? sources?.get(resourceKey(r));
    out.push({
      severity,
      code,
      ...(p ? { file: p.file, line: p.line, column: p.column } : {}),
      path: formatPath(path),
      message,
    });
  };

  const byKind = new Map<string, Resource[]>();
  const seen = new Set<string>();
  for (const r of resources) {
    const key = resourceKey(r);
    if (seen.has(key)) {
      diag(
        r,
        [],
        'error',
        CODES.duplicate,
        `duplicate ${r.kind} ${r.metadata.namespace ? r.metadata.namespace + '/' : ''}${r.metadata.name}`,
      );
      continue;
    }
    seen.add(key);
    byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
  }
  const of = <S>(kind: string) => (byKind.get(kind) ?? []) as Resource<S>[];
  const services = of<ServiceSpec>('Service');
  const workloads = of<WorkloadSpec>('Workload');
  const nodes = of('Node');
  const mesh = meshSettingsOf(resources);
  const svcByKey = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));

  const meshConfigs = of('MeshConfig');
  meshConfigs
    .slice(1)
    .forEach((m) =>
      diag(
        m,
        ['metadata', 'name'],
        'error',
        CODES.duplicate,
        `only one MeshConfig is allowed; ${meshConfigs[0]!.metadata.name} is already defined`,
      ),
    );

  // Routes: parentRefs and backendRefs must name existing Services and ports.
  const checkServiceRef = (
    r: Resource<unknown>,
    path: Seg[],
    ref: { group: string; kind: string; name: string; namespace?: string; port?: number },
    what: string,
  ): void => {
    if (ref.group !== '' || ref.kind !== 'Service') return;
    const ns = ref.namespace ?? r.metadata.namespace;
    const svc = svcByKey.get(`${ns}/${ref.name}`);
    if (!svc) {
      diag(
        r,
        [...path, 'name'],
        'error',
        CODES.reference,
        `${what} Service ${ns}/${ref.name} does not exist`,
      );
      return;
    }
    if (ref.port !== undefined && !svc.spec.ports.some((p) => p.port === ref.port))
      diag(
        r,
        [...path, 'port'],
        'error',
        CODES.reference,
        `Service ${ns}/${ref.name} has no port ${ref.port} (it has ${svc.spec.ports.map((p) => p.port).join(', ')})`,
      );
  };
  for (const r of [
    ...of<HTTPRouteSpec>('HTTPRoute'),
    ...(of<GRPCRouteSpec>('GRPCRoute') as unknown as Resource<HTTPRouteSpec>[]),
  ]) {
    (r.spec.parentRefs ?? []).forEach((p, i) => checkServiceRef(r, ['spec', 'parentRefs', i], p, 'parent'));
    r.spec.rules.forEach((rule, i) => {
      const mirrors = (filters: typeof rule.filters, path: Seg[]) =>
        (filters ?? []).forEach((f, j) => {
          if (f.requestMirror)
            checkServiceRef(
              r,
              [...path, 'filters', j, 'requestMirror', 'backendRef'],
              f.requestMirror.backendRef,
              'mirror',
            );
        });
      mirrors(rule.filters, ['spec', 'rules', i]);
      (rule.backendRefs ?? []).forEach((b, j) => {
        checkServiceRef(r, ['spec', 'rules', i, 'backendRefs', j], b, 'backend');
        mirrors(b.filters, ['spec', 'rules', i, 'backendRefs', j]);
      });
    });
  }

  for (const dr of of<DestinationRuleSpec>('DestinationRule')) {
    if (!services.some((s) => serviceHostMatches(dr.spec.host, dr.metadata.namespace, s.metadata)))
      diag(
        dr,
        ['spec', 'host'],
        'warning',
        CODES.reference,
        `host ${JSON.stringify(dr.spec.host)} matches no Service`,
      );
  }

  const podLabels = (ns: string | undefined) =>
    workloads.filter((w) => ns === undefined || w.metadata.namespace === ns).map((w) => w.spec.labels);
  for (const s of services) {
    if (!s.spec.selector) continue;
    const selected = workloads.filter(
      (w) =>
        w.metadata.namespace === s.metadata.namespace && matchLabelsMatch(s.spec.selector!, w.spec.labels),
    );
    if (selected.length === 0) {
      diag(
        s,
        ['spec', 'selector'],
        'warning',
        CODES.selectsNothing,
        `selects no Workload in namespace ${s.metadata.namespace}`,
      );
      continue;
    }
    s.spec.ports.forEach((p, i) => {
      if (typeof p.targetPort !== 'string') return;
      const missing = selected.filter((w) => !(w.spec.ports ?? []).some((wp) => wp.name === p.targetPort));
      if (missing.length > 0)
        diag(
          s,
          ['spec', 'ports', i, 'targetPort'],
          'warning',
          CODES.reference,
          `named targetPort ${JSON.stringify(p.targetPort)} is not among the ports of Workload ${missing.map((w) => w.metadata.name).join(', ')}`,
        );
    });
  }
  for (const np of of<NetworkPolicySpec>('NetworkPolicy')) {
    if (!podLabels(np.metadata.namespace).some((l) => selectorMatches(np.spec.podSelector, l)))
      diag(
        np,
        ['spec', 'podSelector'],
        'warning',
        CODES.selectsNothing,
        `selects no Workload in namespace ${np.metadata.namespace}`,
      );
  }
  for (const kind of ['AuthorizationPolicy', 'PeerAuthentication']) {
    for (const p of of<AuthorizationPolicySpec | PeerAuthenticationSpec>(kind)) {
      const sel = p.spec.selector?.matchLabels;
      if (!sel) continue;
      const ns = p.metadata.namespace === mesh.rootNamespace ? undefined : p.metadata.namespace;
      if (!podLabels(ns).some((l) => matchLabelsMatch(sel, l)))
        diag(
          p,
          ['spec', 'selector'],
          'warning',
          CODES.selectsNothing,
          `selects no Workload${ns ? ` in namespace ${ns}` : ''}`,
        );
    }
  }

  if (nodes.length > 0) {
    const names = new Set(nodes.map((n) => n.metadata.name));
    for (const w of workloads) {
      if (w.spec.node !== undefined && !names.has(w.spec.node))
        diag(
          w,
          ['spec', 'node'],
          'error',
          CODES.reference,
          `Node ${JSON.stringify(w.spec.node)} does not exist (nodes: ${[...names].sort().join(', ')})`,
        );
    }
  }
  return out;
}
