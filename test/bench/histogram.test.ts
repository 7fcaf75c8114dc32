/** The benchmark's log-linear latency histogram: bucket layout, percentile semantics, merging. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketHigh, bucketLow, bucketOf, Histogram } from '../../bench/macro/histogram.ts';

void test('every value lies inside its own bucket, buckets are contiguous and at most 1/128 wide', () => {
  let prevHigh = -1;
  for (let i = 0; i < 57 * 128 + 128; i++) {
    const lo = bucketLow(i);
    const hi = bucketHigh(i);
    assert.equal(lo, prevHigh + 1, `bucket ${i} starts right after bucket ${i - 1}`);
    assert.ok(hi >= lo);
    if (lo >= 256) assert.ok((hi - lo + 1) / lo <= 1 / 128 + 1e-12, `bucket ${i} is too wide`);
    if (hi < 2 ** 52) {
      assert.equal(bucketOf(lo), i);
      assert.equal(bucketOf(hi), i);
    }
    prevHigh = hi;
    if (hi > 2 ** 52) break;
  }
});

void test('values below 256 are exact; known buckets match olgen.c', () => {
  for (let v = 0; v < 256; v++) assert.equal(bucketOf(v), v);
  assert.equal(bucketOf(256), 256);
  assert.equal(bucketOf(511), 383);
  assert.equal(bucketOf(512), 384);
  assert.equal(bucketHigh(384), 515);
  assert.equal(bucketOf(2 ** 32), bucketOf(2 ** 32 + 1)); // above 2^32 the slow path is used
  assert.equal(bucketLow(bucketOf(2 ** 40)), 2 ** 40);
  assert.throws(() => bucketOf(-1), RangeError);
  assert.throws(() => bucketOf(1.5), RangeError);
});

void test('percentiles follow HdrHistogram: value of the ceil(p·n)-th sample, as its bucket high', () => {
  const h = new Histogram();
  for (let v = 1; v <= 100; v++) h.record(v);
  assert.equal(h.percentile(50), 50);
  assert.equal(h.percentile(90), 90);
  assert.equal(h.percentile(99), 99);
  assert.equal(h.percentile(99.9), 100);
  assert.equal(h.percentile(100), 100);
  assert.equal(h.percentile(0.5), 1);
  assert.equal(new Histogram().percentile(50), 0);
  assert.throws(() => h.percentile(0), RangeError);
  assert.throws(() => h.percentile(101), RangeError);
});

void test('percentiles of a wide spread are within 0.8 % of the exact order statistic and never above max', () => {
  const h = new Histogram();
  const vals: number[] = [];
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const v = 20_000 + (x % 50_000_000); // 20 µs .. 50 ms in ns
    vals.push(v);
    h.record(v);
  }
  vals.sort((a, b) => a - b);
  for (const p of [50, 90, 99, 99.9]) {
    const exact = vals[Math.ceil((p / 100) * vals.length) - 1]!;
    const got = h.percentile(p);
    assert.ok(got >= exact && got <= exact * (1 + 1 / 128), `p${p}: ${got} vs exact ${exact}`);
  }
  assert.equal(h.percentile(100), vals[vals.length - 1]);
  assert.equal(h.min, vals[0]);
});

void test('merge equals recording everything in one histogram; fromBuckets round-trips', () => {
  const a = new Histogram();
  const b = new Histogram();
  const all = new Histogram();
  for (let i = 0; i < 1000; i++) {
    const v = 1000 + i * 997;
    (i % 3 === 0 ? a : b).record(v);
    all.record(v);
  }
  const m = new Histogram();
  m.merge(a);
  m.merge(b);
  assert.deepEqual([m.count, m.min, m.max], [all.count, all.min, all.max]);
  for (const p of [50, 90, 99, 99.9]) assert.equal(m.percentile(p), all.percentile(p));
  const back = Histogram.fromBuckets({ buckets: [...all.counts.entries()], min: all.min, max: all.max });
  for (const p of [50, 99]) assert.equal(back.percentile(p), all.percentile(p));
  assert.throws(() => Histogram.fromBuckets({ buckets: [[-1, 2]], min: 0, max: 0 }), RangeError);
});
