/**
 * Data plane conformance, load balancing: each DestinationRule algorithm (Istio
 * trafficPolicy.loadBalancer) observed from outside, over three replicas behind real proxies —
 * ROUND_ROBIN cycles, RANDOM spreads, LEAST_REQUEST avoids a slow endpoint, consistent hashing on a
 * header (maglev and ringHash) sticks each key to one endpoint.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, destinationRule, service, workload } from '../harness/resources.ts';
import { httpRequest, startEcho } from '../harness/workloads.ts';

const TD = 'dp-lb.test';
let mesh: Mesh;
const closers: (() => Promise<void>)[] = [];
const SVCS = ['rr', 'rnd', 'lr', 'maglev', 'ring'];

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 33,
    resources: [
      workload('client', 'node-0'),
      workload('be', 'node-1', { replicas: 3 }),
      workload('lrbe', 'node-1', { replicas: 3 }),
      ...SVCS.map((s) => service(s, [{ port: 8080 }], { app: s === 'lr' ? 'lrbe' : 'be' })),
      destinationRule('rr', 'rr', { simple: 'ROUND_ROBIN' }),
      destinationRule('rnd', 'rnd', { simple: 'RANDOM' }),
      destinationRule('lr', 'lr', { simple: 'LEAST_REQUEST' }),
      destinationRule('maglev', 'maglev', { consistentHash: { httpHeaderName: 'x-user', maglev: {} } }),
      destinationRule('ring', 'ring', { consistentHash: { httpHeaderName: 'x-user', ringHash: {} } }),
      allowFrom(TD, ['client']),
    ],
  });
  for (let i = 0; i < 3; i++) {
    const e = await startEcho(mesh.instance('be', i), 8080);
    closers.push(() => e.close());
    // lrbe-0 is slow: LEAST_REQUEST must avoid it while its requests are in flight.
    const l = await startEcho(mesh.instance('lrbe', i), 8080, i === 0 ? { delayMs: 1500 } : {});
    closers.push(() => l.close());
  }
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
});

const hit = async (svc: string, path = '/', headers: Record<string, string> = {}) => {
  const r = await httpRequest(mesh.capture('client-0', svc, 8080), path, { headers });
  assert.equal(r.status, 200, r.body);
  return r.json().instance;
};

test('ROUND_ROBIN visits every endpoint in a fixed cycle', async () => {
  const seq: string[] = [];
  for (let i = 0; i < 9; i++) seq.push(await hit('rr'));
  assert.equal(new Set(seq.slice(0, 3)).size, 3, seq.join());
  for (let i = 3; i < 9; i++) assert.equal(seq[i], seq[i - 3], seq.join());
});

test('RANDOM spreads 300 requests over every endpoint', async () => {
  const counts = new Map<string, number>();
  for (let b = 0; b < 15; b++) {
    for (const inst of await Promise.all(Array.from({ length: 20 }, () => hit('rnd'))))
      counts.set(inst, (counts.get(inst) ?? 0) + 1);
  }
  assert.equal(counts.size, 3);
  // Binomial(300, 1/3): sd ≈ 8.2; [55, 145] is > 5 sd either side.
  for (const [inst, n] of counts) assert.ok(n >= 55 && n <= 145, `${inst} got ${n} of 300`);
});

test('LEAST_REQUEST keeps away from an endpoint whose requests are still in flight', async () => {
  // Requests to lrbe-0 take 1.5 s; the others answer at once. A caller that does not wait for slow
  // answers would pile in-flight requests on lrbe-0 under any algorithm that ignores load.
  const slow = mesh.instance('lrbe', 0).name;
  const pending: Promise<string>[] = [];
  for (let i = 0; i < 30; i++) {
    const p = httpRequest(mesh.capture('client-0', 'lr', 8080), `/lr?i=${i}`).then((r) => r.json().instance);
    pending.push(p);
    // Wait for fast answers; give up on a slow one after 100 ms and go on.
    await Promise.race([p, new Promise<void>((r) => setTimeout(r, 100))]);
  }
  const all = await Promise.all(pending);
  const toSlow = all.filter((x) => x === slow).length;
  assert.ok(toSlow <= 3, `lrbe-0 (slow) got ${toSlow} of 30: ${all.join()}`);
});

for (const svc of ['maglev', 'ring']) {
  test(`consistentHash (${svc}) on a header sticks each key to one endpoint`, async () => {
    const owners = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const got = new Set<string>();
      for (let k = 0; k < 4; k++) got.add(await hit(svc, '/', { 'x-user': `user-${u}` }));
      assert.equal(got.size, 1, `user-${u} went to ${[...got].join()}`);
      owners.add([...got][0]!);
    }
    assert.ok(owners.size >= 2, `12 keys all landed on ${[...owners].join()}`);
  });
}
