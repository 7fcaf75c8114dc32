/**
 * Small, pure statistics for the benchmark summary: medians with their min–max spread over rounds
 * (../shared/BENCHMARKS.md: "medians reported with the min–max spread") and the comparisons against
 * the baseline (added microseconds and ratios). Kept apart from I/O so it is unit-tested.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many finite values went in. */
  n: number;
}

/** Median of the finite values (mean of the middle two for an even count); NaN when none. */
export function median(values: readonly number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median, min and max of the finite values; null when there are none. */
export function spread(values: readonly number[]): Spread | null {
  const s = values.filter((v) => Number.isFinite(v));
  if (s.length === 0) return null;
  return { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length };
}

/** `value / base`, or null when either is missing or the base is not positive. */
export function ratio(value: number | null | undefined, base: number | null | undefined): number | null {
  if (value == null || base == null || !Number.isFinite(value) || !Number.isFinite(base) || base <= 0)
    return null;
  return value / base;
}

/** `value − base`, or null when either is missing. */
export function delta(value: number | null | undefined, base: number | null | undefined): number | null {
  if (value == null || base == null || !Number.isFinite(value) || !Number.isFinite(base)) return null;
  return value - base;
}

/** CPU-seconds per 10,000 requests; null when nothing completed. */
export function cpuPer10k(cpuSeconds: number, requests: number): number | null {
  if (!(requests > 0) || !Number.isFinite(cpuSeconds)) return null;
  return (cpuSeconds / requests) * 10_000;
}

/** Growth of a sampled series: last − first and the least-squares slope per minute. */
export function growth(
  samples: readonly { tS: number; value: number }[],
): { first: number; last: number; delta: number; slopePerMin: number } | null {
  if (samples.length < 2) return null;
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.tS, 0) / n;
  const my = samples.reduce((a, s) => a + s.value, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.tS - mx) * (s.value - my);
    den += (s.tS - mx) ** 2;
  }
  const first = samples[0]!.value;
  const last = samples[n - 1]!.value;
  return { first, last, delta: last - first, slopePerMin: den > 0 ? (num / den) * 60 : 0 };
}
