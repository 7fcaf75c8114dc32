/**
 * Balancers: one contract suite run against every algorithm, then each algorithm's own properties
 * (exact round-robin sequences, power-of-two choices, random distribution, policy validation, hash keys).
 * Maglev and ring-hash balance/disruption live in consistent-hash.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer, resolveLbAlgorithm } from './balancer.ts';
import type { LbEndpoint, LoadBalancerSettings } from './balancer.ts';
import { hashKeyFor } from './hash-key.ts';
import { InflightCounter } from './inflight.ts';

/** Deterministic PRNG (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ep extends LbEndpoint {
  addr: string;
}
const ep = (key: string, weight = 1): Ep => ({ key, weight, addr: `127.0.0.1:${key}` });

const POLICIES: [string, LoadBalancerSettings | undefined][] = [
  ['default', undefined],
  ['ROUND_ROBIN', { simple: 'ROUND_ROBIN' }],
  ['RANDOM', { simple: 'RANDOM' }],
  ['LEAST_REQUEST', { simple: 'LEAST_REQUEST' }],
  ['ringHash', { consistentHash: { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 64 } } }],
  ['maglev', { consistentHash: { httpHeaderName: 'x-user', maglev: { tableSize: 251 } } }],
];

for (const [name, policy] of POLICIES) {
  void describe(`Balancer contract: ${name}`, () => {
    const deps = { random: seeded(7), inflight: () => 0 };
    void test('no endpoints → undefined, with and without a hash key', () => {
      const b = createBalancer(policy, [], deps);
      assert.equal(b.pick({}), undefined);
      assert.equal(b.pick({ hashKey: 'k' }), undefined);
    });
    void test('a single endpoint is always picked', () => {
      const only = ep('a');
      const b = createBalancer(policy, [only], deps);
      for (let i = 0; i < 50; i++) assert.equal(b.pick({ hashKey: `k${i}` }), only);
    });
    void test('only given endpoints with weight > 0 are picked, all of them eventually, also after update', () => {
      const es = [ep('a'), ep('b'), ep('c'), ep('zero', 0)];
      const b = createBalancer(policy, es, deps);
      const seen = new Set<Ep>();
      for (let i = 0; i < 300; i++) {
        const e = b.pick({ hashKey: `key-${i}` });
        assert.ok(e && es.includes(e) && e.weight > 0);
        seen.add(e);
      }
      assert.equal(seen.size, 3);
      const next = [ep('c'), ep('d')];
      b.update(next);
      for (let i = 0; i < 100; i++) assert.ok(next.includes(b.pick({ hashKey: `key-${i}` })!));
      b.update([]);
      assert.equal(b.pick({ hashKey: 'x' }), undefined);
    });
  });
}

void test('ROUND_ROBIN with equal weights rotates in order (from the random start position)', () => {
  const b = createBalancer(undefined, [ep('a'), ep('b'), ep('c')], { random: () => 0 });
  assert.deepEqual(
    Array.from({ length: 7 }, () => b.pick({})!.key),
    ['a', 'b', 'c', 'a', 'b', 'c', 'a'],
  );
  const started = createBalancer(undefined, [ep('a'), ep('b'), ep('c')], { random: () => 0.5 });
  assert.equal(started.pick({})!.key, 'b');
});

void test('smooth weighted round robin: {5,1,1} gives nginx’s sequence a a b a c a a', () => {
  const b = createBalancer({ simple: 'ROUND_ROBIN' }, [ep('a', 5), ep('b', 1), ep('c', 1)], {
    random: () => 0,
  });
  assert.deepEqual(Array.from({ length: 14 }, () => b.pick({})!.key).join(''), 'aabacaa' + 'aabacaa');
  const two = createBalancer(undefined, [ep('x', 2), ep('y', 1)], { random: () => 0 });
  assert.deepEqual(Array.from({ length: 6 }, () => two.pick({})!.key).join(''), 'xyxxyx');
});

void test('round robin keeps its smooth-weight credit across update() for endpoints that stay', () => {
  const b = createBalancer(undefined, [ep('a', 5), ep('b', 1), ep('c', 1)], { random: () => 0 });
  b.pick({});
  b.pick({});
  b.update([ep('a', 5), ep('b', 1), ep('c', 1), ep('d', 0)]);
  assert.deepEqual(Array.from({ length: 5 }, () => b.pick({})!.key).join(''), 'bacaa');
});

void test('LEAST_REQUEST prefers the less loaded of the two drawn endpoints, counts kept across update()', () => {
  const counter = new InflightCounter();
  const es = [ep('a'), ep('b')];
  const b = createBalancer({ simple: 'LEAST_REQUEST' }, es, {
    random: seeded(3),
    inflight: counter.accessor<Ep>(),
  });
  for (let i = 0; i < 5; i++) counter.begin('a');
  for (let i = 0; i < 100; i++) assert.equal(b.pick({})!.key, 'b');
  b.update([ep('a'), ep('b'), ep('c')]);
  assert.equal(counter.get('a'), 5, 'an update does not touch in-flight counts');
  for (let i = 0; i < 5; i++) counter.end('a');
  assert.equal(counter.get('a'), 0);
  counter.end('a');
  assert.equal(counter.get('a'), 0, 'end without begin is ignored');
  // Weighted: load is (inflight + 1) / weight, so a 4× heavier endpoint with 2 in flight still wins.
  const heavy = createBalancer({ simple: 'LEAST_REQUEST' }, [ep('h', 4), ep('l', 1)], {
    random: seeded(9),
    inflight: (e: Ep) => (e.key === 'h' ? 2 : 0),
  });
  for (let i = 0; i < 50; i++) assert.equal(heavy.pick({})!.key, 'h');
});

void test('LEAST_REQUEST keeps a slow endpoint from piling up requests (closed loop, 40 in flight)', () => {
  // Each step one request completes and a new one is sent; requests to 'a' complete 4× less often.
  const simulate = (policy: LoadBalancerSettings) => {
    const counter = new InflightCounter();
    const es = ['a', 'b', 'c', 'd'].map((k) => ep(k));
    const b = createBalancer(policy, es, { random: seeded(11), inflight: counter.accessor<Ep>() });
    const random = seeded(12);
    const open: string[] = [];
    let maxA = 0;
    for (let i = 0; i < 20_000; i++) {
      if (open.length === 40) {
        for (let tries = 0; tries < 1000; tries++) {
          const idx = Math.floor(random() * open.length);
          const k = open[idx]!;
          if (k === 'a' && random() >= 0.25) continue;
          counter.end(k);
          open.splice(idx, 1);
          break;
        }
      }
      const e = b.pick({})!;
      counter.begin(e.key);
      open.push(e.key);
      if (i > 1000) maxA = Math.max(maxA, counter.get('a'));
    }
    return maxA;
  };
  const p2c = simulate({ simple: 'LEAST_REQUEST' });
  const random = simulate({ simple: 'RANDOM' });
  assert.ok(p2c <= 16, `least request: up to ${p2c} of 40 in flight on the slow endpoint`);
  assert.ok(random > p2c + 6, `random: ${random}, least request: ${p2c}`);
});

void test('RANDOM follows the weights within 1.5 points over 100k picks (seeded)', () => {
  const b = createBalancer({ simple: 'RANDOM' }, [ep('a', 1), ep('b', 3)], { random: seeded(5) });
  let a = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) if (b.pick({})!.key === 'a') a++;
  assert.ok(Math.abs(a / n - 0.25) < 0.015, `a: ${a / n}`);
});

void test('policy validation: defaults, aliases and rejected shapes (WEFT_LB_INVALID_POLICY)', () => {
  assert.deepEqual(resolveLbAlgorithm(undefined), {
    algorithm: 'ROUND_ROBIN',
    ringSize: 1024,
    tableSize: 65537,
  });
  assert.equal(resolveLbAlgorithm({ simple: 'UNSPECIFIED' }).algorithm, 'ROUND_ROBIN');
  assert.equal(resolveLbAlgorithm({ simple: 'LEAST_CONN' }).algorithm, 'LEAST_REQUEST');
  assert.equal(resolveLbAlgorithm({ consistentHash: { useSourceIp: true } }).algorithm, 'RING_HASH');
  assert.equal(
    resolveLbAlgorithm({ consistentHash: { useSourceIp: true, minimumRingSize: 2048 } }).ringSize,
    2048,
  );
  assert.equal(resolveLbAlgorithm({ consistentHash: { useSourceIp: true, maglev: {} } }).tableSize, 65537);
  const bad: LoadBalancerSettings[] = [
    { simple: 'PASSTHROUGH' },
    { simple: 'ROUND_ROBIN', consistentHash: { useSourceIp: true } },
    { consistentHash: { maglev: { tableSize: 65536 } } },
    { consistentHash: { maglev: { tableSize: 5000087 } } },
    { consistentHash: { ringHash: { minimumRingSize: 0 } } },
    { consistentHash: { ringHash: {}, maglev: {} } },
  ];
  for (const p of bad)
    assert.throws(() => resolveLbAlgorithm(p), { code: 'WEFT_LB_INVALID_POLICY' }, JSON.stringify(p));
  assert.throws(
    () =>
      createBalancer(
        { consistentHash: { useSourceIp: true, maglev: { tableSize: 3 } } },
        [ep('a'), ep('b'), ep('c')],
        { random: Math.random },
      ),
    { code: 'WEFT_LB_INVALID_POLICY' },
  );
});

void test('hashKeyFor reads the header, cookie, source IP or query parameter the policy names', () => {
  const req = {
    header: (n: string) => ({ 'x-user': 'alice' })[n],
    cookie: (n: string) => (n === 'session' ? 's1' : undefined),
    query: (n: string) => (n === 'tenant' ? 't9' : undefined),
    sourceIp: '127.0.0.9',
  };
  assert.equal(hashKeyFor({ consistentHash: { httpHeaderName: 'X-User' } }, req), 'alice');
  assert.equal(hashKeyFor({ consistentHash: { httpCookie: { name: 'session', ttl: '0s' } } }, req), 's1');
  assert.equal(hashKeyFor({ consistentHash: { useSourceIp: true } }, req), '127.0.0.9');
  assert.equal(hashKeyFor({ consistentHash: { httpQueryParameterName: 'tenant' } }, req), 't9');
  assert.equal(hashKeyFor({ consistentHash: { httpHeaderName: 'x-missing' } }, req), undefined);
  assert.equal(hashKeyFor({ simple: 'RANDOM' }, req), undefined);
  assert.equal(hashKeyFor(undefined, req), undefined);
});

void test('consistent hash without a key picks at random among the endpoints', () => {
  const b = createBalancer({ consistentHash: { httpHeaderName: 'x', maglev: {} } }, [ep('a'), ep('b')], {
    random: seeded(1),
  });
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) seen.add(b.pick({})!.key);
  assert.equal(seen.size, 2);
  // With a key it is sticky.
  const first = b.pick({ hashKey: 'user-1' });
  for (let i = 0; i < 20; i++) assert.equal(b.pick({ hashKey: 'user-1' }), first);
});
