/**
 * The chaos example (examples/chaos) measured: reviews has three versions and reviews-v3 fails half
 * of its requests (echo --fail-ratio 0.5). A bounded run of 300 calls from productpage, first with
 * retries off (what a caller sees without the policies), then with the example's resilience
 * policies (retries + outlier detection). The numbers go to the test's diagnostics and
 * docs/resilience.md.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom, startEchoServer } from '../../src/cli/echo.ts';
import type { EchoServer } from '../../src/cli/echo.ts';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { httpRoute, service, workload } from '../harness/resources.ts';
import { httpRequest } from '../harness/workloads.ts';

const TD = 'res-chaos.test';
let mesh: Mesh;
const servers: EchoServer[] = [];
const N = 300;

const route = (retry: Record<string, unknown>) =>
  httpRoute('reviews', { name: 'reviews' }, [{ backendRefs: [{ name: 'reviews', port: 8080 }], retry }]);

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 64,
    resources: [
      workload('productpage', 'node-0'),
      ...['v1', 'v2', 'v3'].map((v) =>
        workload(`reviews-${v}`, 'node-1', { labels: { app: 'reviews', version: v } }),
      ),
      service('reviews', [{ port: 8080 }]),
      route({ attempts: 0 }),
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'allow' },
        spec: {
          action: 'ALLOW',
          rules: [{ from: [{ source: { principals: [`${TD}/ns/default/sa/productpage`] } }] }],
        },
      },
    ],
  });
  for (const v of ['v1', 'v2', 'v3']) {
    const inst = mesh.instance(`reviews-${v}`);
    servers.push(
      await startEchoServer({
        listen: [{ host: inst.address, port: 8080 }],
        identity: {
          workload: inst.workload,
          namespace: inst.namespace,
          serviceAccount: inst.serviceAccount,
          node: inst.node,
          instance: inst.name,
        },
        failRatio: v === 'v3' ? 0.5 : undefined,
        random: seededRandom(7),
      }),
    );
  }
});

after(async () => {
  for (const s of servers) await s.close();
  await mesh?.stop();
});

async function successRate(): Promise<number> {
  let ok = 0;
  for (let b = 0; b < N / 10; b++) {
    const rs = await Promise.all(
      Array.from({ length: 10 }, () => httpRequest(mesh.capture('productpage-0', 'reviews', 8080), '/')),
    );
    ok += rs.filter((r) => r.status === 200).length;
  }
  return ok / N;
}

test('a failing reviews-v3: success rate without and with the resilience policies', async (t) => {
  const without = await successRate();
  await mesh.apply([
    route({ attempts: 2, backoff: '25ms' }),
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews' },
      spec: {
        host: 'reviews',
        trafficPolicy: {
          outlierDetection: {
            consecutive5xxErrors: 3,
            interval: '1s',
            baseEjectionTime: '10s',
            maxEjectionPercent: 34,
          },
        },
      },
    },
  ]);
  const withPolicies = await successRate();
  t.diagnostic(`success without policies: ${(without * 100).toFixed(1)} % of ${N}`);
  t.diagnostic(`success with retries + outlier detection: ${(withPolicies * 100).toFixed(1)} % of ${N}`);
  // Expected: 1 - (1/3)(1/2) ≈ 83 % without; with: ≥ 99 %.
  assert.ok(without > 0.7 && without < 0.93, `without: ${without}`);
  assert.ok(withPolicies >= 0.99, `with: ${withPolicies}`);
});
