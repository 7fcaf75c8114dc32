/** Weighted backend choice (Gateway API BackendRef.weight): proportions, zero weights, the all-zero case. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendRef, RouteRule } from '../../api/index.ts';
import { compileBackends, pickBackend, pickWeighted } from './backends.ts';

/** Deterministic PRNG (mulberry32) so the statistical test is reproducible. */
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

const ref = (name: string, weight: number): BackendRef => ({ namespace: 'ns', name, weight });
const rule = (refs: BackendRef[]): RouteRule => ({ matches: [], filters: [], backendRefs: refs });

void test('conformance-style weighted split (httproute-weight: 70/30/0) stays within 1.5 points over 100k picks', () => {
  const r = rule([ref('v1', 70), ref('v2', 30), ref('v3', 0)]);
  const random = seeded(42);
  const counts = new Map<string, number>();
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const b = pickBackend(r, random)!;
    counts.set(b.name, (counts.get(b.name) ?? 0) + 1);
  }
  assert.equal(counts.get('v3'), undefined, 'weight 0 never receives traffic');
  assert.ok(Math.abs(counts.get('v1')! / n - 0.7) < 0.015, `v1 ${counts.get('v1')}`);
  assert.ok(Math.abs(counts.get('v2')! / n - 0.3) < 0.015, `v2 ${counts.get('v2')}`);
});

void test('exact boundaries: random() values map to the cumulative weight intervals', () => {
  const b = compileBackends([ref('a', 1), ref('b', 2), ref('c', 1)]);
  const at = (x: number) => pickWeighted(b, () => x)?.name;
  assert.equal(at(0), 'a');
  assert.equal(at(0.2499), 'a');
  assert.equal(at(0.25), 'b');
  assert.equal(at(0.7499), 'b');
  assert.equal(at(0.75), 'c');
  assert.equal(at(0.99999), 'c');
});

void test('all weights 0, or no backendRefs: no backend (the proxy answers 500 / gRPC UNAVAILABLE)', () => {
  assert.equal(pickBackend(rule([ref('a', 0), ref('b', 0)]), Math.random), undefined);
  assert.equal(pickBackend(rule([]), Math.random), undefined);
  assert.equal(pickBackend(rule([ref('only', 5)]), () => 0.999)?.name, 'only');
  assert.equal(compileBackends([ref('x', Number.NaN), ref('y', -1)]).total, 0);
});
