/**
 * Endpoint health through real proxies (issue 8): outlier detection ejects an endpoint that keeps
 * answering 5xx and returns it after baseEjectionTime; an active health check (Service annotation)
 * takes a killed instance out of rotation within one interval and back when it returns; locality
 * load balancing keeps traffic in the caller's zone and fails over to the next zone when the local
 * endpoints die. Routes here have retries off so every failure the balancer allows is visible.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceEntry } from '../../src/api/index.ts';
import { startEchoServer } from '../../src/cli/echo.ts';
import type { EchoServer } from '../../src/cli/echo.ts';
import { startMesh, TUNNEL_PORT, waitFor } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, httpRoute, service, workload } from '../harness/resources.ts';
import { httpRequest } from '../harness/workloads.ts';

const TD = 'res-health.test';
const SUBNET = 62;
let mesh: Mesh;
const running = new Map<string, EchoServer>();

async function up(inst: InstanceEntry, status?: number): Promise<void> {
  const server = await startEchoServer({
    listen: [{ host: inst.address, port: 8080 }],
    identity: {
      workload: inst.workload,
      namespace: inst.namespace,
      serviceAccount: inst.serviceAccount,
      node: inst.node,
      instance: inst.name,
    },
    status,
  });
  running.set(inst.name, server);
}

async function down(inst: InstanceEntry): Promise<void> {
  await running.get(inst.name)?.close();
  running.delete(inst.name);
}

const noRetry = (name: string) =>
  httpRoute(name, { name }, [{ backendRefs: [{ name, port: 8080 }], retry: { attempts: 0 } }]);

const node = (name: string, i: number, zone: string) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name,
    annotations: { 'weft.dev/tunnel-port': String(TUNNEL_PORT) },
    labels: { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': zone },
  },
  status: { addresses: [{ type: 'InternalIP', address: `127.0.${SUBNET}.${i + 1}` }] },
});

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: SUBNET,
    nodes: ['node-0', 'node-1', 'node-2'],
    resources: [
      workload('client', 'node-0'),
      workload('od', 'node-1', { replicas: 3 }),
      workload('hc', 'node-1', { replicas: 2 }),
      workload('near', 'node-1', { replicas: 2, labels: { app: 'loc' } }),
      workload('far', 'node-2', { replicas: 2, labels: { app: 'loc' } }),
      service('od', [{ port: 8080 }]),
      {
        ...service('hc', [{ port: 8080 }]),
        metadata: {
          name: 'hc',
          annotations: {
            'weft.dev/health-check': '{"path":"/healthz","interval":"600ms","unhealthyThreshold":2}',
          },
        },
      },
      service('loc', [{ port: 8080 }]),
      noRetry('od'),
      noRetry('hc'),
      noRetry('loc'),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'od' },
        spec: {
          host: 'od',
          trafficPolicy: {
            outlierDetection: {
              consecutive5xxErrors: 3,
              interval: '200ms',
              baseEjectionTime: '1s',
              maxEjectionPercent: 100,
            },
          },
        },
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'loc' },
        spec: {
          host: 'loc',
          trafficPolicy: {
            outlierDetection: {
              consecutive5xxErrors: 1,
              interval: '200ms',
              baseEjectionTime: '30s',
              maxEjectionPercent: 100,
            },
          },
        },
      },
      allowFrom(TD, ['client']),
    ],
  });
  // Topology: node-0 and node-1 in zone eu-a, node-2 in eu-b.
  await mesh.apply([node('node-0', 0, 'eu-a'), node('node-1', 1, 'eu-a'), node('node-2', 2, 'eu-b')]);
  await up(mesh.instance('od', 0), 503);
  for (const i of [1, 2]) await up(mesh.instance('od', i));
  for (const i of [0, 1]) {
    await up(mesh.instance('hc', i));
    await up(mesh.instance('near', i));
    await up(mesh.instance('far', i));
  }
});

after(async () => {
  for (const s of running.values()) await s.close();
  await mesh?.stop();
});

const call = (svc: string) => httpRequest(mesh.capture('client-0', svc, 8080), '/');

test('outlier detection ejects an endpoint after 3 consecutive 5xx and returns it after baseEjectionTime', async () => {
  const first: number[] = [];
  for (let i = 0; i < 15; i++) first.push((await call('od')).status);
  const failures = first.filter((s) => s === 503).length;
  assert.equal(failures, 3, `exactly consecutive5xxErrors failures before ejection: ${first.join()}`);
  const after: number[] = [];
  for (let i = 0; i < 20; i++) after.push((await call('od')).status);
  assert.deepEqual(new Set(after), new Set([200]), 'the ejected endpoint gets no traffic');
  // Repair it; after 1 s (+ one 200 ms interval) it is back in rotation.
  const od0 = mesh.instance('od', 0);
  await down(od0);
  await up(od0);
  const t0 = Date.now();
  await waitFor(
    'od-0 back in rotation',
    async () => (await call('od')).json().instance === od0.name,
    5000,
    20,
  );
  assert.ok(Date.now() - t0 < 2500, `returned after ${Date.now() - t0} ms`);
});

test('an active health check takes a killed instance out of rotation within one interval, and back', async () => {
  const hc1 = mesh.instance('hc', 1);
  await down(hc1);
  const killedAt = Date.now();
  // Within one interval (600 ms) + a probe timeout, requests stop failing.
  await waitFor(
    'hc-1 out of rotation',
    async () => {
      for (let i = 0; i < 4; i++) if ((await call('hc')).status !== 200) return false;
      return true;
    },
    5000,
    50,
  );
  assert.ok(Date.now() - killedAt < 1500, `out of rotation after ${Date.now() - killedAt} ms`);
  for (let i = 0; i < 20; i++) assert.equal((await call('hc')).status, 200);
  await up(hc1);
  await waitFor(
    'hc-1 back in rotation',
    async () => (await call('hc')).json().instance === hc1.name,
    5000,
    50,
  );
});

test('locality: traffic stays in the caller zone, and fails over to the next zone when it dies', async () => {
  const zones = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const r = await call('loc');
    assert.equal(r.status, 200);
    zones.add(r.json().workload);
  }
  assert.deepEqual([...zones], ['near'], 'every request stayed in zone eu-a');
  await down(mesh.instance('near', 0));
  await down(mesh.instance('near', 1));
  // Each dead endpoint fails once (consecutive5xxErrors: 1) and is ejected; then eu-b serves all.
  let failures = 0;
  for (let i = 0; i < 6 && failures < 2; i++) if ((await call('loc')).status !== 200) failures++;
  const after: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await call('loc');
    assert.equal(r.status, 200, r.body);
    after.push(r.json().workload);
  }
  assert.deepEqual(new Set(after), new Set(['far']), 'failed over to zone eu-b');
});
