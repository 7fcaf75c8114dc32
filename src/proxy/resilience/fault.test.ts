import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFault, decideFault, NO_FAULT } from './fault.ts';

/** A seeded PRNG (mulberry32) so percentages can be checked statistically and reproducibly. */
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

void test('compile: durations, statuses and probabilities', () => {
  assert.deepEqual(compileFault({ delay: { fixedDelay: '1.5s', percentage: 10 } }), {
    delayMs: 1500,
    delayP: 0.1,
    abortHttp: 0,
    abortGrpc: -1,
    abortP: 0,
  });
  assert.deepEqual(compileFault({ abort: { grpcStatus: 'UNAVAILABLE', percentage: 100 } }).abortGrpc, 14);
});

void test('decide: independent draws for delay then abort, r < p applies', () => {
  const f = compileFault({
    delay: { fixedDelay: '2s', percentage: 50 },
    abort: { httpStatus: 503, percentage: 50 },
  });
  const draws = (xs: number[]) => () => xs.shift() ?? 0.99;
  assert.equal(decideFault(f, draws([0.6, 0.6])), NO_FAULT);
  assert.deepEqual(decideFault(f, draws([0.1, 0.6])), { delayMs: 2000, abortHttp: 0, abortGrpc: -1 });
  assert.deepEqual(decideFault(f, draws([0.6, 0.1])), { delayMs: 0, abortHttp: 503, abortGrpc: -1 });
  assert.deepEqual(decideFault(f, draws([0.49, 0.49])), { delayMs: 2000, abortHttp: 503, abortGrpc: -1 });
  assert.deepEqual(decideFault(f, draws([0.5, 0.5])), NO_FAULT, '0.5 is not < 0.5');
  const g = compileFault({ abort: { grpcStatus: 'RESOURCE_EXHAUSTED', percentage: 100 } });
  assert.deepEqual(
    decideFault(g, () => 0.999),
    { delayMs: 0, abortHttp: 0, abortGrpc: 8 },
  );
});

void test('percentages hold within statistical tolerance over 100,000 seeded draws', () => {
  const f = compileFault({
    delay: { fixedDelay: '1s', percentage: 10 },
    abort: { httpStatus: 500, percentage: 5.5 },
  });
  const random = seeded(42);
  let delays = 0;
  let aborts = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const d = decideFault(f, random);
    if (d.delayMs > 0) delays++;
    if (d.abortHttp > 0) aborts++;
  }
  // 5 standard deviations: sqrt(n p (1-p)) ≈ 95 for 10 %, 72 for 5.5 %.
  assert.ok(Math.abs(delays - 10_000) < 475, `delays ${delays}`);
  assert.ok(Math.abs(aborts - 5500) < 360, `aborts ${aborts}`);
});

void test('zero percentages never inject and consume no randomness', () => {
  const f = compileFault({
    delay: { fixedDelay: '1s', percentage: 0 },
    abort: { httpStatus: 500, percentage: 0 },
  });
  let calls = 0;
  assert.equal(
    decideFault(f, () => (calls++, 0)),
    NO_FAULT,
  );
  assert.equal(calls, 0);
});
