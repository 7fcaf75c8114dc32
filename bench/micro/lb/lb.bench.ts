/**
 * Load balancing (src/proxy/lb): pick per algorithm over 10 and 100 endpoints, Maglev table build
 * for N = 10 / 100 / 1,000 backends at M = 65,537 and its lookup, ring-hash build and lookup.
 */
import { buildMaglevTable, createBalancer, InflightCounter } from '../../../src/proxy/lb/index.ts';
import type { Balancer, LbEndpoint, LoadBalancerSettings } from '../../../src/proxy/lb/index.ts';
import type { MicroBenchmark } from '../harness.ts';

const endpoints = (n: number): LbEndpoint[] =>
  Array.from({ length: n }, (_, i) => ({ key: `10.0.${i >> 8}.${i & 255}:8080`, weight: 1 }));
const keys = Array.from({ length: 1024 }, (_, i) => `user-${i * 7919}`);

const POLICIES: [string, LoadBalancerSettings][] = [
  ['ROUND_ROBIN', { simple: 'ROUND_ROBIN' }],
  ['ROUND_ROBIN weighted', { simple: 'ROUND_ROBIN' }],
  ['RANDOM', { simple: 'RANDOM' }],
  ['LEAST_REQUEST', { simple: 'LEAST_REQUEST' }],
  ['ringHash (1024)', { consistentHash: { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 1024 } } }],
  ['maglev (65537)', { consistentHash: { httpHeaderName: 'x-user', maglev: { tableSize: 65537 } } }],
];

interface State {
  b: Balancer<LbEndpoint>;
  i: number;
}

export const benchmarks: MicroBenchmark<State>[] = [];
for (const n of [10, 100]) {
  for (const [name, policy] of POLICIES) {
    benchmarks.push({
      name: `pick ${name}, ${n} endpoints`,
      setup: () => {
        const es = endpoints(n);
        if (name.includes('weighted')) es.forEach((e, i) => (e.weight = 1 + (i % 3)));
        const counter = new InflightCounter();
        es.forEach((e, i) => {
          for (let k = 0; k < i % 4; k++) counter.begin(e.key);
        });
        return { b: createBalancer(policy, es, { random: Math.random, inflight: counter.accessor() }), i: 0 };
      },
      fn: (s) => s.b.pick({ hashKey: keys[s.i++ & 1023] }),
    });
  }
}
for (const n of [10, 100, 1000]) {
  const names = endpoints(n).map((e) => e.key);
  benchmarks.push({
    name: `maglev table build, N=${n}, M=65537`,
    fn: () => buildMaglevTable(names, undefined, 65537),
  });
}
benchmarks.push({
  name: 'ring hash build, N=100, minimumRingSize=1024',
  setup: () => ({ b: createBalancer({ simple: 'RANDOM' }, [], { random: Math.random }), i: 0 }),
  fn: () =>
    createBalancer(
      { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 1024 } } },
      endpoints(100),
      { random: Math.random },
    ),
});
