/**
 * The benchmark's own latency histogram (bench/macro/histogram.ts): the cost of recording a value
 * and of a percentile query. Also the reference example of a `*.bench.ts` file (docs/benchmarks.md).
 */
import { Histogram } from '../../macro/histogram.ts';
import type { MicroBenchmark } from '../harness.ts';

const values = Array.from({ length: 4096 }, (_, i) => 50_000 + ((i * 2_654_435_761) % 5_000_000));

export const benchmarks: MicroBenchmark[] = [
  {
    name: 'histogram record (4096 values)',
    fn: () => {
      const h = new Histogram();
      for (const v of values) h.record(v);
      return h.count;
    },
  },
  {
    name: 'histogram p99 of 4096 values',
    setup: () => {
      const h = new Histogram();
      for (const v of values) h.record(v);
      return h;
    },
    fn: (h: Histogram) => h.percentile(99),
  } satisfies MicroBenchmark<Histogram>,
];
