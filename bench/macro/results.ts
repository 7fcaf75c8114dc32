/**
 * What one benchmark run records and how it is summarised. olgen's JSON is parsed and checked here
 * (the one edge where its output enters the harness); `summarize` turns the raw per-run records into
 * per-case medians with spread and comparisons against the baseline case. Pure: no I/O.
 */
import { Histogram } from './histogram.ts';
import { cpuPer10k, delta, ratio, spread, type Spread } from './stats.ts';

/** Percentiles of one latency histogram, in microseconds. */
export interface LatencyStats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface HistogramJson {
  unit: 'ns';
  subBucketBits: number;
  count: number;
  min: number;
  max: number;
  buckets: [number, number][];
}

/** olgen's output, as printed (numbers as they come, histograms with their buckets). */
export interface OlgenOutput {
  mode: 'open' | 'closed';
  host: string;
  port: number;
  target_rate: number;
  conns: number;
  duration_s: number;
  warmup_s: number;
  scheduled: number;
  sent: number;
  completed: number;
  recorded: number;
  achieved_rps: number;
  errors: number;
  non2xx: number;
  reconnects: number;
  unfinished: number;
  queued_events: number;
  max_timer_late_us: number;
  gen_cpu_s: number;
  lat: HistogramJson;
  svc: HistogramJson;
}

const NUMERIC_FIELDS = [
  'port',
  'target_rate',
  'conns',
  'duration_s',
  'warmup_s',
  'scheduled',
  'sent',
  'completed',
  'recorded',
  'achieved_rps',
  'errors',
  'non2xx',
  'reconnects',
  'unfinished',
  'queued_events',
  'max_timer_late_us',
  'gen_cpu_s',
] as const;

/** Parses and checks one olgen JSON line; throws an Error naming the first bad field. */
export function parseOlgenOutput(text: string): OlgenOutput {
  const line = text.trim().split('\n').filter(Boolean).pop() ?? '';
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new Error(`olgen printed no JSON (${(err as Error).message}): ${line.slice(0, 200)}`, {
      cause: err,
    });
  }
  if (typeof v !== 'object' || v === null) throw new Error('olgen output is not an object');
  const o = v as Record<string, unknown>;
  if (o.mode !== 'open' && o.mode !== 'closed') throw new Error(`olgen output: bad mode ${String(o.mode)}`);
  if (typeof o.host !== 'string') throw new Error('olgen output: host missing');
  for (const k of NUMERIC_FIELDS) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k]))
      throw new Error(`olgen output: ${k} is not a number`);
  }
  for (const k of ['lat', 'svc'] as const) {
    const h = o[k] as Record<string, unknown> | undefined;
    if (!h || h.unit !== 'ns' || !Array.isArray(h.buckets))
      throw new Error(`olgen output: ${k} histogram missing`);
    if (h.subBucketBits !== 7)
      throw new Error(`olgen output: ${k} uses ${String(h.subBucketBits)} sub-bucket bits, expected 7`);
    for (const b of h.buckets as unknown[]) {
      if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => Number.isInteger(x) && (x as number) >= 0)) {
        throw new Error(`olgen output: bad ${k} bucket ${JSON.stringify(b)}`);
      }
    }
  }
  return o as unknown as OlgenOutput;
}

/** Percentiles (µs, one decimal) of an olgen histogram, recomputed from its buckets. */
export function latencyStats(h: HistogramJson): LatencyStats {
  const hist = Histogram.fromBuckets(h);
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  return {
    count: hist.count,
    p50: us(hist.percentile(50)),
    p90: us(hist.percentile(90)),
    p99: us(hist.percentile(99)),
    p999: us(hist.percentile(99.9)),
    max: us(hist.max),
  };
}

/** One measured load run of one case in one round. */
export interface RunRecord {
  round: number;
  case: string;
  /** `rate<N>` for an open-loop run at N req/s, `max` for the closed-loop run, `soak` for --soak. */
  test: string;
  wallS: number;
  load: OlgenOutput;
  /** CPU-seconds (user+system, whole process trees) consumed during the run. */
  cpuS: { proxies: Record<string, number>; upstream: number | null };
  /** Peak VmRSS (kB) per proxy during the run. */
  rssPeakKb: Record<string, number>;
  /** Anything that makes this run suspect (e.g. a proxy restarted during it). */
  warnings?: string[];
}

export const PERCENTILES = ['p50', 'p90', 'p99', 'p999'] as const;
export type PercentileName = (typeof PERCENTILES)[number];

export interface TestSummary {
  test: string;
  rounds: number;
  latency: Record<PercentileName | 'max', Spread | null>;
  achievedRps: Spread | null;
  /** Proxy CPU-seconds (all proxies of the case) per 10,000 completed requests. */
  cpuPer10k: Spread | null;
  upstreamCpuPer10k: Spread | null;
  genCpuS: Spread | null;
  errors: number;
  non2xx: number;
  unfinished: number;
  /** Median latency minus the baseline's median (µs) and their ratio; null for the baseline itself. */
  added: Record<PercentileName, { us: number | null; ratio: number | null }> | null;
}

export interface CaseSummary {
  case: string;
  tests: Record<string, TestSummary>;
  /** Closed-loop requests/s and its ratio to the baseline's median. */
  maxRps: Spread | null;
  maxRpsRatio: number | null;
  /** Peak RSS per proxy in MB: median over rounds of each run's peak, with spread. */
  rssPeakMb: Record<string, Spread>;
}

function summarizeTest(rs: readonly RunRecord[]): TestSummary {
  const stats = rs.map((r) => latencyStats(r.load.lat));
  const pick = (k: PercentileName | 'max'): Spread | null =>
    spread(stats.filter((s) => s.count > 0).map((s) => s[k]));
  const sum = (xs: Record<string, number>): number => Object.values(xs).reduce((a, b) => a + b, 0);
  return {
    test: rs[0]?.test ?? '',
    rounds: rs.length,
    latency: { p50: pick('p50'), p90: pick('p90'), p99: pick('p99'), p999: pick('p999'), max: pick('max') },
    achievedRps: spread(rs.map((r) => r.load.achieved_rps)),
    cpuPer10k: Object.keys(rs[0]?.cpuS.proxies ?? {}).length
      ? spread(rs.map((r) => cpuPer10k(sum(r.cpuS.proxies), r.load.completed) ?? Number.NaN))
      : null,
    upstreamCpuPer10k: spread(
      rs.map((r) =>
        r.cpuS.upstream == null ? Number.NaN : (cpuPer10k(r.cpuS.upstream, r.load.completed) ?? Number.NaN),
      ),
    ),
    genCpuS: spread(rs.map((r) => r.load.gen_cpu_s)),
    errors: rs.reduce((a, r) => a + r.load.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.load.non2xx, 0),
    unfinished: rs.reduce((a, r) => a + r.load.unfinished, 0),
    added: null,
  };
}

/** Orders tests: open-loop rates ascending, then `max`, then anything else. */
export function testOrder(a: string, b: string): number {
  const key = (t: string): number => (t.startsWith('rate') ? Number(t.slice(4)) : t === 'max' ? 1e12 : 2e12);
  return key(a) - key(b) || a.localeCompare(b);
}

/** Per-case summaries in first-seen case order, compared with `baseline` where it was measured. */
export function summarize(records: readonly RunRecord[], baseline = 'direct'): CaseSummary[] {
  const cases = [...new Set(records.map((r) => r.case))];
  const out: CaseSummary[] = [];
  for (const c of cases) {
    const mine = records.filter((r) => r.case === c);
    const tests: Record<string, TestSummary> = {};
    for (const t of [...new Set(mine.map((r) => r.test))].sort(testOrder)) {
      tests[t] = summarizeTest(mine.filter((r) => r.test === t));
    }
    const rss: Record<string, Spread> = {};
    const rounds = [...new Set(mine.map((r) => r.round))];
    for (const proxy of [...new Set(mine.flatMap((r) => Object.keys(r.rssPeakKb)))]) {
      const perRound = rounds.map(
        (rd) => Math.max(0, ...mine.filter((r) => r.round === rd).map((r) => r.rssPeakKb[proxy] ?? 0)) / 1024,
      );
      const s = spread(perRound.filter((v) => v > 0));
      if (s) rss[proxy] = s;
    }
    out.push({ case: c, tests, maxRps: tests.max?.achievedRps ?? null, maxRpsRatio: null, rssPeakMb: rss });
  }
  const base = out.find((s) => s.case === baseline);
  if (base) {
    for (const s of out) {
      s.maxRpsRatio = ratio(s.maxRps?.median, base.maxRps?.median);
      if (s === base) continue;
      for (const [t, ts] of Object.entries(s.tests)) {
        const bt = base.tests[t];
        if (!bt) continue;
        const added = {} as Record<PercentileName, { us: number | null; ratio: number | null }>;
        for (const p of PERCENTILES) {
          const d = delta(ts.latency[p]?.median, bt.latency[p]?.median);
          added[p] = {
            us: d == null ? null : Math.round(d * 10) / 10,
            ratio: ratio(ts.latency[p]?.median, bt.latency[p]?.median),
          };
        }
        ts.added = added;
      }
    }
  }
  return out;
}
