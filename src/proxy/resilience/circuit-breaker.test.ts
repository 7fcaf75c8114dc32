import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWeftError } from '../../lib/index.ts';
import { CircuitBreaker, breakerThresholds, OverloadedError, UNLIMITED } from './circuit-breaker.ts';

void test('thresholds from connectionPool, Istio defaults unlimited', () => {
  assert.deepEqual(breakerThresholds(undefined), {
    maxConnections: UNLIMITED,
    maxPendingRequests: UNLIMITED,
    maxRequests: UNLIMITED,
    maxRetries: UNLIMITED,
    maxRequestsPerConnection: 0,
  });
  assert.deepEqual(
    breakerThresholds({
      tcp: { maxConnections: 3 },
      http: { http1MaxPendingRequests: 4, http2MaxRequests: 5, maxRetries: 1, maxRequestsPerConnection: 10 },
    }),
    { maxConnections: 3, maxPendingRequests: 4, maxRequests: 5, maxRetries: 1, maxRequestsPerConnection: 10 },
  );
});

void test('a bounded burst: exactly the limit succeeds, the rest overflow and are counted', () => {
  const b = new CircuitBreaker(
    'reviews.shop:9080',
    breakerThresholds({ http: { http2MaxRequests: 5, maxRetries: 2 } }),
  );
  let ok = 0;
  for (let i = 0; i < 50; i++) if (b.tryAcquire('requests')) ok++;
  assert.equal(ok, 5);
  assert.equal(b.overflows.requests, 45);
  assert.equal(b.inUse().requests, 5);
  b.release('requests');
  assert.ok(b.tryAcquire('requests'));
  assert.ok(b.tryAcquire('retries') && b.tryAcquire('retries') && !b.tryAcquire('retries'));
  assert.throws(
    () => b.acquire('retries'),
    (e) =>
      e instanceof OverloadedError &&
      isWeftError(e, 'WEFT_OVERLOADED') &&
      e.resource === 'retries' &&
      e.cluster === 'reviews.shop:9080',
  );
  for (let i = 0; i < 10; i++) b.release('requests');
  assert.equal(b.inUse().requests, 0, 'never negative');
});

void test('each resource is independent; update keeps counts in flight', () => {
  const b = new CircuitBreaker(
    'c',
    breakerThresholds({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }),
  );
  assert.ok(b.tryAcquire('connections'));
  assert.ok(!b.tryAcquire('connections'));
  assert.ok(b.tryAcquire('pendingRequests'));
  assert.ok(!b.tryAcquire('pendingRequests'));
  assert.ok(b.tryAcquire('requests'));
  b.update(breakerThresholds({ tcp: { maxConnections: 2 } }));
  assert.ok(b.tryAcquire('connections'));
  assert.ok(!b.tryAcquire('connections'));
  assert.equal(b.limit('connections'), 2);
  assert.equal(b.overflows.connections, 2);
});
