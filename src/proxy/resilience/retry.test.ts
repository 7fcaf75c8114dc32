import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/index.ts';
import { httpRetryPolicy, grpcRetryPolicy, shouldRetry, RetryBudget, Retrier, NO_RETRY } from './retry.ts';
import { OUTCOME_CONNECT_FAILURE, OUTCOME_RESET, OUTCOME_TIMEOUT, GRPC_UNAVAILABLE } from './classifier.ts';

void test('policy from an HTTPRoute retry block, and defaults', () => {
  const p = httpRetryPolicy({ codes: [500], attempts: 3, backoff: '100ms' });
  assert.equal(p.attempts, 3);
  assert.equal(p.backoffBaseMs, 100);
  assert.equal(p.backoffMaxMs, 1000);
  const d = httpRetryPolicy(undefined);
  assert.equal(d.attempts, 2);
  assert.equal(d.backoffBaseMs, 25);
  assert.equal(httpRetryPolicy(undefined, { attempts: 0 }).attempts, 0);
  assert.equal(httpRetryPolicy({ attempts: 0 }).attempts, 0);
});

void test('shouldRetry: idempotent methods only, configured codes added to 502/503/504', () => {
  const p = httpRetryPolicy({ codes: [500] });
  assert.ok(shouldRetry(p, 'GET', 503));
  assert.ok(shouldRetry(p, 'PUT', 500));
  assert.ok(shouldRetry(p, 'GET', OUTCOME_RESET));
  assert.ok(shouldRetry(p, 'DELETE', OUTCOME_TIMEOUT));
  assert.ok(!shouldRetry(p, 'GET', 501));
  assert.ok(!shouldRetry(p, 'GET', 200));
  assert.ok(!shouldRetry(p, 'POST', 503), 'POST not idempotent');
  assert.ok(!shouldRetry(p, 'PATCH', OUTCOME_RESET));
  assert.ok(shouldRetry(p, 'POST', OUTCOME_CONNECT_FAILURE), 'nothing was sent');
  assert.ok(!shouldRetry(NO_RETRY, 'GET', OUTCOME_CONNECT_FAILURE));
  const loose = httpRetryPolicy(undefined, { retryNonIdempotent: true });
  assert.ok(shouldRetry(loose, 'POST', 502));
});

void test('gRPC: status decides, method does not; reset counts as UNAVAILABLE', () => {
  const g = grpcRetryPolicy();
  assert.equal(g.protocol, 'grpc');
  assert.ok(shouldRetry(g, 'POST', 200, GRPC_UNAVAILABLE));
  assert.ok(!shouldRetry(g, 'POST', 200, 13));
  assert.ok(!shouldRetry(g, 'POST', 200, 0));
  assert.ok(shouldRetry(g, 'POST', OUTCOME_RESET));
  assert.ok(shouldRetry(g, 'POST', 503), 'no grpc-status: HTTP 503 maps to UNAVAILABLE');
  const g2 = grpcRetryPolicy({ grpcCodes: [8] });
  assert.ok(!shouldRetry(g2, 'POST', 200, GRPC_UNAVAILABLE));
  assert.ok(shouldRetry(g2, 'POST', 200, 8));
  assert.ok(!shouldRetry(g2, 'POST', OUTCOME_RESET));
});

void test('budget: ratio of requests plus a minimum per second, over a sliding window', () => {
  const clock = new FakeClock();
  const b = new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000, clock });
  // Minimum alone: 1/s × 10 s = 10 retries.
  let n = 0;
  while (n < 100 && b.tryWithdraw()) n++;
  assert.equal(n, 10);
  assert.equal(b.exhausted, 1);
  for (let i = 0; i < 100; i++) b.recordRequest();
  n = 0;
  while (n < 100 && b.tryWithdraw()) n++;
  assert.equal(n, 20, '20 % of 100 requests');
  // The window slides: after 10 s everything has expired.
  clock.advance(10_000);
  assert.deepEqual(b.stats(), { requests: 0, retries: 0 });
  n = 0;
  while (n < 100 && b.tryWithdraw()) n++;
  assert.equal(n, 10);
});

void test('budget: partially expired window keeps the newer buckets', () => {
  const clock = new FakeClock();
  const b = new RetryBudget({ retryRatio: 0.5, minRetriesPerSecond: 0, windowMs: 1000, clock });
  for (let i = 0; i < 10; i++) b.recordRequest();
  clock.advance(500);
  for (let i = 0; i < 10; i++) b.recordRequest();
  clock.advance(600); // the first 10 are older than the window
  assert.equal(b.stats().requests, 10);
  let n = 0;
  while (n < 100 && b.tryWithdraw()) n++;
  assert.equal(n, 5);
});

void test('Retrier: attempts, body limit, budget and jittered exponential backoff', () => {
  const clock = new FakeClock();
  const p = httpRetryPolicy({ attempts: 2, backoff: '100ms' });
  const r = new Retrier(p, undefined, () => 0.5, clock);
  assert.deepEqual(r.decide('GET', 503, -1, 0), { retry: true, delayMs: 50 });
  assert.deepEqual(r.decide('GET', 503, -1, 0), { retry: true, delayMs: 100 });
  assert.deepEqual(r.decide('GET', 503, -1, 0), { retry: false, reason: 'attempts' });
  assert.equal(r.retries, 2);
  const r2 = new Retrier(p, undefined, () => 0.5, clock);
  assert.deepEqual(r2.decide('POST', 503, -1, 0), { retry: false, reason: 'policy' });
  assert.deepEqual(r2.decide('GET', 503, -1, 65 * 1024), { retry: false, reason: 'body' });
  assert.deepEqual(r2.decide('GET', 503, -1, -1), { retry: false, reason: 'body' });
  const budget = new RetryBudget({ retryRatio: 0, minRetriesPerSecond: 0, clock });
  const r3 = new Retrier(p, budget, () => 0.5, clock);
  assert.deepEqual(r3.decide('GET', 503, -1, 0), { retry: false, reason: 'budget' });
});
