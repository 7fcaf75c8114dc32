/**
 * The AuthorizationPolicy semantic table (src/policy/authz/authz-cases.test-util.ts), sampled and
 * run end to end: each sampled case's policies are applied to a real mesh (control plane + two
 * proxies as processes), the case's request is sent from a workload holding the case's caller
 * identity through its capture listener, and the answer must be what the table says the engine
 * decides — 200 from the workload when allowed, 403 from the destination proxy when denied.
 *
 * Cases that need what a loopback mesh cannot produce (a chosen source IP, SNI, plaintext, a JWT
 * principal) are left to the unit table. The trust domain is renamed consistently so this mesh has
 * its own addresses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTHZ } from '../../src/policy/authz/authz-cases.test-util.ts';
import type { AuthzCase } from '../../src/policy/authz/authz-cases.test-util.ts';
import { WORKLOADS, req } from '../../src/policy/authz/fixtures.test-util.ts';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { httpRequest, startEcho } from '../harness/workloads.ts';
import type { EchoWorkload } from '../harness/workloads.ts';

const TD = 'authz-e2e.test';
const SAMPLE = 30;
const DEFAULT_CALLER = 'spiffe://cluster.local/ns/default/sa/sleep';

/** Rename the trust domain everywhere in a case (the semantics do not depend on its name). */
function renamed<T>(v: T): T {
  return JSON.parse(JSON.stringify(v).replaceAll('cluster.local', TD)) as T;
}

function feasible(c: AuthzCase): boolean {
  if (c.req === 'tcp') return false; // TCP cases: covered by dataplane-security and mesh-tunnel
  const conn = c.conn ?? {};
  if (Object.keys(conn).some((k) => k !== 'principal' && k !== 'port')) return false;
  if (conn.principal === null) return false;
  const principal = conn.principal ?? DEFAULT_CALLER;
  if (!/^spiffe:\/\/cluster\.local\/ns\/[a-z0-9-]+\/sa\/[a-z0-9-]+$/.test(principal)) return false;
  if (c.req && (c.req.requestPrincipal !== undefined || c.req.path?.includes('#'))) return false;
  // Address- and SNI-based predicates were decided in the table for fixed addresses (10.0.x.x);
  // JWT fields are valid Istio but refused by Weft's validation (no request authentication yet).
  if (
    /ipBlocks|IpBlocks|source\.ip|remote\.ip|destination\.ip|connection\.sni|equestPrincipals|request\.auth/.test(
      JSON.stringify(c.policies),
    )
  ) {
    return false;
  }
  const [ns, name] = c.target ?? ['foo', 'httpbin'];
  return WORKLOADS.some((w) => w.namespace === ns && w.name === name);
}

const candidates = AUTHZ.filter(feasible);
const step = Math.max(1, Math.floor(candidates.length / SAMPLE));
const sample = candidates.filter((_, i) => i % step === 0).slice(0, SAMPLE);

const callerOf = (c: AuthzCase) => renamed(c.conn?.principal ?? DEFAULT_CALLER);
const callerName = (principal: string) => {
  const m = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal)!;
  return { namespace: m[1]!, sa: m[2]!, workload: `caller-${m[2]}` };
};
const portOf = (c: AuthzCase) => c.conn?.port ?? 8000;
const serviceOf = (w: (typeof WORKLOADS)[number]) => w.labels['app'] ?? w.name;

let mesh: Mesh;
const echoes: EchoWorkload[] = [];

before(async () => {
  const ports = new Map<string, Set<number>>();
  for (const c of sample) {
    const [ns, name] = c.target ?? ['foo', 'httpbin'];
    const key = `${ns}/${name}`;
    ports.set(key, (ports.get(key) ?? new Set()).add(portOf(c)));
  }
  const callers = new Map(sample.map((c) => [callerOf(c), callerName(callerOf(c))]));
  const resources: unknown[] = [];
  const namespaces = new Set<string>();
  for (const w of WORKLOADS) {
    namespaces.add(w.namespace);
    resources.push({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'Workload',
      metadata: { name: w.name, namespace: w.namespace },
      spec: { labels: w.labels, serviceAccount: w.serviceAccount, node: 'node-1', builtin: 'echo' },
    });
    const wp = ports.get(`${w.namespace}/${w.name}`);
    if (!wp) continue;
    resources.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: serviceOf(w), namespace: w.namespace },
      spec: {
        selector: w.labels,
        ports: [...wp].map((p) => ({ name: `http-${p}`, port: p, appProtocol: 'http' })),
      },
    });
  }
  for (const c of callers.values()) {
    namespaces.add(c.namespace);
    resources.push({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'Workload',
      metadata: { name: c.workload, namespace: c.namespace },
      spec: { labels: { caller: c.sa }, serviceAccount: c.sa, node: 'node-0', builtin: 'echo' },
    });
  }
  for (const ns of namespaces) {
    resources.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { name: ns } } });
  }
  mesh = await startMesh({ trustDomain: TD, subnet: 37, resources, timeoutMs: 60_000 });
  for (const [key, wp] of ports) {
    for (const p of wp) echoes.push(await startEcho(mesh.instance(`${key}`), p));
  }
});

after(async () => {
  for (const e of echoes) await e.close();
  await mesh?.stop();
});

test(`the semantic table is sampled (${sample.length} of ${candidates.length} feasible cases)`, () => {
  assert.ok(sample.length >= 20, `only ${sample.length} cases could be sampled`);
});

for (const [i, c] of sample.entries()) {
  test(`e2e [${c.cite}] ${c.name}`, async () => {
    const policies = renamed(c.policies).map((p) => ({
      apiVersion: p.apiVersion,
      kind: p.kind,
      metadata: { name: `c${i}-${p.metadata.name}`, namespace: p.metadata.namespace },
      spec: p.spec,
    }));
    await mesh.apply(
      [
        ...policies,
        {
          apiVersion: 'weft.dev/v1alpha1',
          kind: 'MeshConfig',
          metadata: { name: 'default' },
          spec: { trustDomain: TD, defaultPolicy: c.mode ?? 'deny' },
        },
      ],
      `case ${i}`,
    );
    try {
      const [ns, name] = c.target ?? ['foo', 'httpbin'];
      const w = WORKLOADS.find((x) => x.namespace === ns && x.name === name)!;
      const caller = callerName(callerOf(c));
      const target = mesh.capture(
        `${caller.namespace}/${caller.workload}-0`,
        `${ns}/${serviceOf(w)}`,
        portOf(c),
      );
      // The same request the table gives the engine (its defaults included: GET /info, host httpbin.foo).
      const spec = c.req && c.req !== 'tcp' ? c.req : {};
      const info = req(renamed(spec));
      const headers: Record<string, string> = { ...renamed(spec.headers ?? {}), host: info.host };
      const res = await httpRequest(target, info.path, { method: info.method, headers });
      if (c.allowed) assert.equal(res.status, 200, `expected allowed: ${res.body}`);
      else {
        assert.equal(res.status, 403, `expected denied: ${res.body}`);
        if (c.policy !== undefined) {
          const body = JSON.parse(res.body) as { policy: string | null };
          const [pns, pname] = c.policy.split('/');
          assert.equal(body.policy, `${pns}/c${i}-${pname}`, res.body);
        }
      }
    } finally {
      await mesh.client.delete(policies.map((p) => `${p.kind}/${p.metadata.namespace}/${p.metadata.name}`));
    }
  });
}
