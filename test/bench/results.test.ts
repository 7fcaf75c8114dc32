/** Parsing olgen's output and summarising runs into per-case medians compared with the baseline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram } from '../../bench/macro/histogram.ts';
import {
  latencyStats,
  parseOlgenOutput,
  summarize,
  testOrder,
  type OlgenOutput,
  type RunRecord,
} from '../../bench/macro/results.ts';

function hist(valuesUs: number[]): OlgenOutput['lat'] {
  const h = new Histogram();
  for (const v of valuesUs) h.record(v * 1000);
  return {
    unit: 'ns',
    subBucketBits: 7,
    count: h.count,
    min: h.min,
    max: h.max,
    buckets: [...h.counts.entries()],
  };
}

function output(latUs: number[], extra: Partial<OlgenOutput> = {}): OlgenOutput {
  return {
    mode: 'open',
    host: '127.0.0.1',
    port: 1,
    target_rate: 1000,
    conns: 16,
    duration_s: 10,
    warmup_s: 1,
    scheduled: 11_000,
    sent: 11_000,
    completed: 11_000,
    recorded: 10_000,
    achieved_rps: 1000,
    errors: 0,
    non2xx: 0,
    reconnects: 0,
    unfinished: 0,
    queued_events: 0,
    max_timer_late_us: 10,
    gen_cpu_s: 0.5,
    lat: hist(latUs),
    svc: hist(latUs),
    ...extra,
  };
}

function rec(
  round: number,
  c: string,
  t: string,
  latUs: number[],
  o: { rps?: number; cpu?: Record<string, number>; rss?: Record<string, number> } = {},
): RunRecord {
  return {
    round,
    case: c,
    test: t,
    wallS: 10,
    load: output(
      latUs,
      o.rps === undefined ? {} : { achieved_rps: o.rps, mode: 'closed', completed: o.rps * 10 },
    ),
    cpuS: { proxies: o.cpu ?? {}, upstream: 0.1 },
    rssPeakKb: o.rss ?? {},
  };
}

void test('parseOlgenOutput accepts olgen JSON and names the first bad field', () => {
  const good = JSON.stringify(output([100, 200]));
  assert.equal(parseOlgenOutput(`noise\n${good}\n`).completed, 11_000);
  assert.throws(() => parseOlgenOutput('not json'), /no JSON/);
  assert.throws(
    () => parseOlgenOutput(JSON.stringify({ ...output([1]), errors: 'x' })),
    /errors is not a number/,
  );
  assert.throws(() => parseOlgenOutput(JSON.stringify({ ...output([1]), mode: 'sideways' })), /bad mode/);
  const badBucket = output([1]);
  badBucket.lat.buckets = [[1, -2]];
  assert.throws(() => parseOlgenOutput(JSON.stringify(badBucket)), /bad lat bucket/);
  assert.throws(
    () => parseOlgenOutput(JSON.stringify({ ...output([1]), svc: { ...output([1]).svc, subBucketBits: 5 } })),
    /sub-bucket bits/,
  );
});

void test('latencyStats recomputes percentiles in µs from the buckets', () => {
  const s = latencyStats(hist(Array.from({ length: 100 }, (_, i) => i + 1)));
  assert.equal(s.count, 100);
  assert.ok(Math.abs(s.p50 - 50) / 50 < 0.01, `p50 ${s.p50}`);
  assert.ok(Math.abs(s.p99 - 99) / 99 < 0.01, `p99 ${s.p99}`);
  assert.equal(s.max, 100);
});

void test('summarize: medians over rounds, added latency and ratios against direct, CPU per 10k, RSS per round', () => {
  const recs: RunRecord[] = [];
  // direct p50 ≈ 100 µs in every round; proxy p50 300, 310, 290 µs (median 300)
  for (const [round, px] of [
    [1, 300],
    [2, 310],
    [3, 290],
  ] as const) {
    recs.push(rec(round, 'direct', 'rate1000', Array(100).fill(100)));
    recs.push(
      rec(round, 'px', 'rate1000', Array(100).fill(px), {
        cpu: { A: 1, B: 2 },
        rss: { A: 10240 * round, B: 20480 },
      }),
    );
    recs.push(rec(round, 'direct', 'max', Array(10).fill(50), { rps: 40_000 }));
    recs.push(rec(round, 'px', 'max', Array(10).fill(500), { rps: 10_000 * round }));
  }
  const [direct, px] = summarize(recs, 'direct');
  assert.equal(direct!.case, 'direct');
  assert.equal(direct!.tests.rate1000!.added, null);
  const t = px!.tests.rate1000!;
  assert.equal(t.rounds, 3);
  const p50 = t.latency.p50!;
  assert.ok(
    Math.abs(p50.median - 300) <= 3 && Math.abs(p50.min - 290) <= 3 && Math.abs(p50.max - 310) <= 3,
    JSON.stringify(p50),
  );
  assert.ok(Math.abs(t.added!.p50.us! - 200) <= 4, `added ${t.added!.p50.us}`);
  assert.ok(Math.abs(t.added!.p50.ratio! - 3) < 0.05);
  // 3 CPU-s for 11,000 completed requests → 2.727 s per 10k
  assert.ok(Math.abs(t.cpuPer10k!.median - (3 / 11_000) * 10_000) < 1e-9);
  assert.deepEqual(px!.maxRps, { median: 20_000, min: 10_000, max: 30_000, n: 3 });
  assert.equal(px!.maxRpsRatio, 0.5);
  assert.equal(direct!.maxRpsRatio, 1);
  assert.deepEqual(px!.rssPeakMb.A, { median: 20, min: 10, max: 30, n: 3 });
  assert.equal(px!.rssPeakMb.B!.median, 20);
  assert.deepEqual(Object.keys(px!.tests), ['rate1000', 'max']);
});

void test('tests are ordered by rate, then max', () => {
  assert.deepEqual(['max', 'rate2000', 'rate200', 'rate1000'].sort(testOrder), [
    'rate200',
    'rate1000',
    'rate2000',
    'max',
  ]);
});
