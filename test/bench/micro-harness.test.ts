/** The micro-benchmark harness, driven by a fake clock so its calibration and stopping rules are exact. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNs, runBenchmark, runBenchmarks, summarizeSamples } from '../../bench/micro/harness.ts';

function fakeClock(): { now: () => bigint; advance: (ns: number) => void } {
  let t = 0n;
  return { now: () => t, advance: (ns) => (t += BigInt(ns)) };
}

void test('a constant-cost function reports exactly its cost, zero spread, after the minimum samples', async () => {
  const c = fakeClock();
  let calls = 0;
  const r = await runBenchmark(
    {
      name: 'constant',
      fn: () => {
        calls++;
        c.advance(100);
      },
    },
    { now: c.now, warmupMs: 1, sampleMs: 1, minSamples: 12 },
  );
  assert.equal(r.median, 100);
  assert.equal(r.mad, 0);
  assert.equal(r.samples, 12);
  assert.ok(r.batch >= 10_000, `batch ${r.batch} makes a sample last ≥ 1 ms`);
  assert.equal(r.opsPerSecond, 1e7);
  assert.ok(calls >= r.samples * r.batch);
});

void test('setup runs once and its result reaches fn; async functions are awaited', async () => {
  const c = fakeClock();
  let setups = 0;
  const seen = new Set<unknown>();
  const r = await runBenchmark(
    {
      name: 'async',
      setup: () => {
        setups++;
        return { token: 42 };
      },
      fn: async (s: { token: number }) => {
        seen.add(s.token);
        await Promise.resolve();
        c.advance(1000);
      },
    },
    { now: c.now, warmupMs: 1, sampleMs: 1, minSamples: 5 },
  );
  assert.equal(setups, 1);
  assert.deepEqual([...seen], [42]);
  assert.equal(r.median, 1000);
});

void test('a slow function is bounded by the time budget, not by the sample count', async () => {
  const c = fakeClock();
  let calls = 0;
  const r = await runBenchmark(
    {
      name: 'slow',
      fn: () => {
        calls++;
        c.advance(400e6); // 400 ms per call
      },
    },
    { now: c.now, warmupMs: 100, sampleMs: 5, minSamples: 12, maxTimeMs: 1000 },
  );
  assert.ok(calls <= 10, `${calls} calls`);
  assert.ok(r.samples >= 1 && r.samples < 12);
  assert.equal(r.median, 400e6);
});

void test('a noisy function keeps sampling until the budget, then reports the spread', async () => {
  const c = fakeClock();
  let i = 0;
  const r = await runBenchmark(
    { name: 'noisy', fn: () => c.advance([100, 200, 400][i++ % 3]!) },
    { now: c.now, warmupMs: 1, sampleMs: 0.0001, minSamples: 4, maxSamples: 50, targetSpread: 0.001 },
  );
  // a 100 ns sample target keeps the batch at 1: samples cycle 100 / 200 / 400 ns, the MAD stays near 50 %, so it runs to maxSamples
  assert.equal(r.samples, 50);
  assert.equal(r.min, 100);
  assert.equal(r.max, 400);
});

void test('summarizeSamples quartiles and MAD', () => {
  const r = summarizeSamples('x', [5, 1, 4, 2, 3], 10);
  assert.deepEqual([r.min, r.p25, r.median, r.p75, r.max, r.mad], [1, 2, 3, 4, 5, 1]);
  assert.equal(r.totalOps, 50);
});

void test('runBenchmarks prints one line per benchmark; formatNs picks a unit', async () => {
  const c = fakeClock();
  const lines: string[] = [];
  await runBenchmarks([{ name: 'one', fn: () => c.advance(2500) }], {
    now: c.now,
    warmupMs: 1,
    sampleMs: 1,
    title: 'file.bench.ts',
    out: (l) => lines.push(l),
  });
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /one\s+2\.50 µs\/op/);
  assert.equal(formatNs(5), '5.00 ns');
  assert.equal(formatNs(1_500_000), '1.50 ms');
  assert.equal(formatNs(2e9), '2.00 s');
});
