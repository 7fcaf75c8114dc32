/**
 * The load generator's latency histogram, mirrored in TypeScript: log-linear buckets in the style of
 * HdrHistogram (2^7 = 128 sub-buckets per power of two, so any recorded value is known to within
 * 0.8 %), kept sparse. olgen (bench/macro/c/olgen.c) prints its buckets; the harness rebuilds the
 * histogram here so percentiles are computed in one place, runs can be merged, and the maths has
 * unit tests. Percentile semantics follow HdrHistogram's getValueAtPercentile: the highest value
 * equivalent to the bucket holding the ceil(p/100 × n)-th smallest value, capped at the exact max.
 */

export const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;

/** Index of the bucket holding non-negative integer `v` (same formula as olgen.c's bucket_of). */
export function bucketOf(v: number): number {
  if (!Number.isInteger(v) || v < 0)
    throw new RangeError(`histogram values are non-negative integers, got ${v}`);
  if (v < 2 * SUB) return v;
  if (v < 2 ** 32) {
    const e32 = 31 - Math.clz32(v) - SUB_BITS;
    return e32 * SUB + (v >>> e32);
  }
  const e = Math.floor(Math.log2(v)) - SUB_BITS;
  // Math.log2 can be off by one ulp near powers of two; correct it so that m is in [SUB, 2·SUB).
  let ee = e;
  while (Math.floor(v / 2 ** ee) >= 2 * SUB) ee++;
  while (ee > 0 && Math.floor(v / 2 ** ee) < SUB) ee--;
  return ee * SUB + Math.floor(v / 2 ** ee);
}

/** Lowest value of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < 2 * SUB) return i;
  const e = Math.floor(i / SUB) - 1;
  const m = i - e * SUB;
  return m * 2 ** e;
}

/** Highest value of bucket `i`. */
export function bucketHigh(i: number): number {
  if (i < 2 * SUB) return i;
  const e = Math.floor(i / SUB) - 1;
  const m = i - e * SUB;
  return (m + 1) * 2 ** e - 1;
}

export class Histogram {
  readonly counts = new Map<number, number>();
  count = 0;
  min = 0;
  max = 0;

  record(v: number, times = 1): void {
    const i = bucketOf(v);
    this.counts.set(i, (this.counts.get(i) ?? 0) + times);
    if (this.count === 0 || v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.count += times;
  }

  /** Adds every value of `other` (bucket-exact; min and max stay exact). */
  merge(other: Histogram): void {
    if (other.count === 0) return;
    for (const [i, c] of other.counts) this.counts.set(i, (this.counts.get(i) ?? 0) + c);
    if (this.count === 0 || other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    this.count += other.count;
  }

  /** Value at percentile `p` (0 < p ≤ 100); 0 for an empty histogram. */
  percentile(p: number): number {
    if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count - 1e-9));
    let acc = 0;
    for (const i of [...this.counts.keys()].sort((a, b) => a - b)) {
      acc += this.counts.get(i)!;
      if (acc >= rank) return Math.min(bucketHigh(i), this.max);
    }
    return this.max;
  }

  /** Rebuilds a histogram from olgen's JSON form (`buckets: [[index, count], ...]`). */
  static fromBuckets(h: {
    buckets: readonly (readonly [number, number])[];
    min: number;
    max: number;
  }): Histogram {
    const out = new Histogram();
    for (const [i, c] of h.buckets) {
      if (!Number.isInteger(i) || i < 0 || !Number.isInteger(c) || c < 0) {
        throw new RangeError(`bad histogram bucket [${i}, ${c}]`);
      }
      if (c === 0) continue;
      out.counts.set(i, (out.counts.get(i) ?? 0) + c);
      out.count += c;
    }
    if (out.count > 0) {
      out.min = h.min;
      out.max = h.max;
    }
    return out;
  }
}
