/**
 * Shared fixtures for the authorization tests: a small mesh of workloads, builders for upstream
 * policy objects, and default connection/request shapes.
 */
import type { PolicyObject, SecurityEntry } from '../../api/wire/snapshot.ts';
import type { ConnectionInfo, RequestInfo, WorkloadInfo } from './types.ts';

export const ROOT = 'weft-system';

export function workload(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  sa = name,
): WorkloadInfo {
  return {
    namespace,
    name,
    labels,
    serviceAccount: sa,
    spiffeId: `spiffe://cluster.local/ns/${namespace}/sa/${sa}`,
  };
}

export const WORKLOADS: WorkloadInfo[] = [
  workload('foo', 'httpbin', { app: 'httpbin', version: 'v1' }),
  workload('foo', 'finance', { app: 'finance' }),
  workload('foo', 'other', { app: 'other', version: 'v2' }),
  workload('bar', 'httpbin', { app: 'httpbin' }),
  workload('bar', 'other', { app: 'other' }),
  workload('ns1', 'myapi', { app: 'myapi' }),
  workload('default', 'db', { role: 'db' }),
  workload('default', 'frontend', { role: 'frontend' }),
  workload('default', 'backend', { role: 'backend' }),
  workload('default', 'other', { role: 'other' }),
  workload(ROOT, 'ctl', { app: 'ctl' }),
];

export function policy(kind: string, ns: string, name: string, spec: Record<string, unknown>): PolicyObject {
  const apiVersion = kind === 'NetworkPolicy' ? 'networking.k8s.io/v1' : 'security.istio.io/v1';
  return { apiVersion, kind, metadata: { name, namespace: ns }, spec };
}

export const ap = (ns: string, name: string, spec: Record<string, unknown>): PolicyObject =>
  policy('AuthorizationPolicy', ns, name, spec);
export const pa = (ns: string, name: string, spec: Record<string, unknown>): PolicyObject =>
  policy('PeerAuthentication', ns, name, spec);
export const np = (ns: string, name: string, spec: Record<string, unknown>): PolicyObject =>
  policy('NetworkPolicy', ns, name, spec);

export function security(p: Partial<SecurityEntry>): SecurityEntry {
  return {
    authorizationPolicies: p.authorizationPolicies ?? [],
    peerAuthentications: p.peerAuthentications ?? [],
    networkPolicies: p.networkPolicies ?? [],
    namespaces: p.namespaces ?? [],
  };
}

export const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';

export interface ConnSpec {
  principal?: string | null;
  ip?: string;
  remoteIp?: string;
  dstIp?: string;
  port?: number;
  sni?: string;
}

export function conn(c: ConnSpec = {}): ConnectionInfo {
  return {
    source: {
      principal: c.principal === null ? undefined : (c.principal ?? SLEEP),
      ip: c.ip ?? '10.0.0.5',
      ...(c.remoteIp !== undefined ? { remoteIp: c.remoteIp } : {}),
    },
    destination: { ip: c.dstIp ?? '10.0.1.1', port: c.port ?? 8000 },
    ...(c.sni !== undefined ? { sni: c.sni } : {}),
  };
}

export interface ReqSpec {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  requestPrincipal?: string;
}

export function req(r: ReqSpec = {}): RequestInfo {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
  return {
    method: r.method ?? 'GET',
    path: r.path ?? '/info',
    host: r.host ?? 'httpbin.foo',
    header: (n: string) => headers[n.toLowerCase()],
    ...(r.requestPrincipal !== undefined ? { requestPrincipal: r.requestPrincipal } : {}),
  };
}
