/**
 * A small micro-benchmark harness in the manner of mitata and tinybench, with no dependency: it
 * calibrates a batch size so one timed sample lasts long enough to dwarf the clock's resolution,
 * warms the function up (JIT tiers, inline caches), then takes samples until the spread is small or
 * the time budget is spent, and reports nanoseconds per operation as a median with its spread
 * (min, quartiles, max, median absolute deviation). The clock is injected so the maths is tested
 * with a fake one. Defined for contributors in docs/benchmarks.md.
 */

/** One micro-benchmark. `setup` runs once; its result is passed to every `fn` call. */
export interface MicroBenchmark<S = any> {
  name: string;
  fn: (state: S) => unknown;
  setup?: () => S | Promise<S>;
}

export interface MicroOptions {
  /** Warm-up time before sampling (ms). Default 100. */
  warmupMs?: number;
  /** Target duration of one sample (ms); the batch size is calibrated to reach it. Default 5. */
  sampleMs?: number;
  /** Samples always taken. Default 12. */
  minSamples?: number;
  /** Upper bound on samples. Default 200. */
  maxSamples?: number;
  /** Stop once MAD / median is at most this. Default 0.01. */
  targetSpread?: number;
  /** Time budget for sampling (ms); the run always ends by then. Default 1000. */
  maxTimeMs?: number;
  /** Monotonic clock in nanoseconds. Default process.hrtime.bigint. */
  now?: () => bigint;
}

export interface MicroResult {
  name: string;
  /** Nanoseconds per operation. */
  median: number;
  min: number;
  p25: number;
  p75: number;
  max: number;
  /** Median absolute deviation, ns. */
  mad: number;
  samples: number;
  batch: number;
  totalOps: number;
  opsPerSecond: number;
}

/** Written on every call so the optimiser cannot drop the benchmarked work. */
export let sink: unknown;

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Summary of per-op sample times (ns). Pure; exported for tests. */
export function summarizeSamples(name: string, perOp: readonly number[], batch: number): MicroResult {
  const s = [...perOp].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  const dev = s.map((v) => Math.abs(v - median)).sort((a, b) => a - b);
  return {
    name,
    median,
    min: s[0] ?? Number.NaN,
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    max: s[s.length - 1] ?? Number.NaN,
    mad: quantile(dev, 0.5),
    samples: s.length,
    batch,
    totalOps: s.length * batch,
    opsPerSecond: median > 0 ? 1e9 / median : Number.POSITIVE_INFINITY,
  };
}

async function timeBatch<S>(
  fn: (s: S) => unknown,
  state: S,
  n: number,
  now: () => bigint,
  isAsync: boolean,
): Promise<number> {
  const t0 = now();
  if (isAsync) {
    for (let i = 0; i < n; i++) sink = await fn(state);
  } else {
    for (let i = 0; i < n; i++) sink = fn(state);
  }
  return Number(now() - t0);
}

/** Runs one benchmark and summarises it. Bounded by warmupMs + maxTimeMs (plus one sample). */
export async function runBenchmark<S>(b: MicroBenchmark<S>, o: MicroOptions = {}): Promise<MicroResult> {
  const now = o.now ?? process.hrtime.bigint;
  const warmupNs = (o.warmupMs ?? 100) * 1e6;
  const sampleNs = (o.sampleMs ?? 5) * 1e6;
  const minSamples = o.minSamples ?? 12;
  const maxSamples = Math.max(minSamples, o.maxSamples ?? 200);
  const target = o.targetSpread ?? 0.01;
  const budgetNs = (o.maxTimeMs ?? 1000) * 1e6;
  const state = (b.setup ? await b.setup() : undefined) as S;
  const first = b.fn(state);
  const isAsync = typeof (first as { then?: unknown } | null)?.then === 'function';
  if (isAsync) sink = await first;

  // Calibrate + warm up: double the batch until one batch lasts sampleMs, keep going until warm.
  let batch = 1;
  const w0 = now();
  for (let i = 0; i < 64; i++) {
    const t = await timeBatch(b.fn, state, batch, now, isAsync);
    const warm = Number(now() - w0) >= warmupNs;
    if (t >= sampleNs && warm) break;
    if (t < sampleNs && batch < 2 ** 30)
      batch = t <= 0 ? batch * 2 : Math.min(batch * 2, Math.max(batch, Math.ceil((batch * sampleNs) / t)));
    if (Number(now() - w0) >= warmupNs + budgetNs) break;
  }

  const perOp: number[] = [];
  const s0 = now();
  while (perOp.length < maxSamples) {
    perOp.push((await timeBatch(b.fn, state, batch, now, isAsync)) / batch);
    if (perOp.length < minSamples) {
      if (Number(now() - s0) >= budgetNs * 2) break; // hard stop for very slow functions
      continue;
    }
    const r = summarizeSamples(b.name, perOp, batch);
    if (r.median > 0 && r.mad / r.median <= target) break;
    if (Number(now() - s0) >= budgetNs) break;
  }
  return summarizeSamples(b.name, perOp, batch);
}

/** Formats ns/op with a unit that keeps three significant figures. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 2 : 1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** Runs a list and prints one line per benchmark; returns the results. */
export async function runBenchmarks(
  list: readonly MicroBenchmark[],
  o: MicroOptions & { title?: string; out?: (line: string) => void } = {},
): Promise<MicroResult[]> {
  const out = o.out ?? ((l: string) => process.stdout.write(l + '\n'));
  if (o.title) out(`\n${o.title}`);
  const results: MicroResult[] = [];
  for (const b of list) {
    const r = await runBenchmark(b, o);
    results.push(r);
    out(
      `  ${b.name.padEnd(48)} ${formatNs(r.median).padStart(10)}/op  ±${((r.mad / r.median) * 100).toFixed(1).padStart(4)} %  ` +
        `[${formatNs(r.min)} … ${formatNs(r.max)}]  ${r.samples}×${r.batch}`,
    );
  }
  return results;
}
