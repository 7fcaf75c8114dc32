/** Summary maths of the benchmark: medians with spread, ratios, CPU per 10k requests, growth. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuPer10k, delta, growth, median, ratio, spread } from '../../bench/macro/stats.ts';

void test('median of odd and even counts, ignoring non-finite values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5, Number.NaN, 1, Number.POSITIVE_INFINITY, 3]), 3);
  assert.ok(Number.isNaN(median([])));
});

void test('spread gives median, min, max and count; null when empty', () => {
  assert.deepEqual(spread([10, 30, 20]), { median: 20, min: 10, max: 30, n: 3 });
  assert.deepEqual(spread([7]), { median: 7, min: 7, max: 7, n: 1 });
  assert.equal(spread([Number.NaN]), null);
});

void test('ratio and delta against a baseline, null when a side is missing', () => {
  assert.equal(ratio(300, 100), 3);
  assert.equal(ratio(300, 0), null);
  assert.equal(ratio(null, 100), null);
  assert.equal(delta(350, 100), 250);
  assert.equal(delta(50, 100), -50);
  assert.equal(delta(undefined, 1), null);
});

void test('CPU-seconds per 10,000 requests', () => {
  assert.equal(cpuPer10k(1.5, 30_000), 0.5);
  assert.equal(cpuPer10k(1, 0), null);
});

void test('growth reports first/last and the least-squares slope per minute', () => {
  const samples = [0, 10, 20, 30, 40, 50, 60].map((tS) => ({ tS, value: 100 + tS / 10 })); // +1 MB per 10 s
  const g = growth(samples)!;
  assert.equal(g.first, 100);
  assert.equal(g.last, 106);
  assert.equal(g.delta, 6);
  assert.ok(Math.abs(g.slopePerMin - 6) < 1e-9);
  assert.equal(growth([{ tS: 0, value: 1 }]), null);
});
