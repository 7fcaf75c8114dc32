import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, isWeftError } from '../../lib/index.ts';
import {
  parseGatewayDuration,
  routeTimeouts,
  tryTimeoutMs,
  poolTimeouts,
  withTimeout,
  TimeoutError,
} from './timeout.ts';

void test('durations and route timeouts; 0s disables', () => {
  assert.equal(parseGatewayDuration('1m30s'), 90_000);
  assert.equal(parseGatewayDuration('0s'), 0);
  assert.equal(parseGatewayDuration(undefined), 0);
  assert.throws(
    () => parseGatewayDuration('1.5s'),
    (e) => isWeftError(e, 'WEFT_TIMEOUT_INVALID'),
  );
  assert.deepEqual(routeTimeouts({ request: '10s', backendRequest: '2s' }), {
    requestMs: 10_000,
    perTryMs: 2000,
  });
  assert.deepEqual(routeTimeouts(undefined), { requestMs: 0, perTryMs: 0 });
});

void test('per-try timeout is bounded by the request deadline', () => {
  const t = { requestMs: 10_000, perTryMs: 2000 };
  assert.equal(tryTimeoutMs(t, 0, 0), 2000);
  assert.equal(tryTimeoutMs(t, 10_000, 0), 2000);
  assert.equal(tryTimeoutMs(t, 10_000, 9000), 1000);
  assert.equal(tryTimeoutMs(t, 10_000, 12_000), 1, 'expired: fail at once');
  assert.equal(tryTimeoutMs({ requestMs: 5000, perTryMs: 0 }, 5000, 1000), 4000);
});

void test('pool timeouts from connectionPool with Istio defaults', () => {
  assert.deepEqual(poolTimeouts(undefined), {
    connectMs: 10_000,
    idleMs: 3_600_000,
    maxConnectionDurationMs: 0,
  });
  assert.deepEqual(
    poolTimeouts({
      tcp: { connectTimeout: '250ms', idleTimeout: '30s', maxConnectionDuration: '1h' },
      http: { idleTimeout: '5m' },
    }),
    { connectMs: 250, idleMs: 300_000, maxConnectionDurationMs: 3_600_000 },
  );
});

void test('withTimeout: rejects and aborts the work when the clock passes the timeout', async () => {
  const clock = new FakeClock();
  let signal: AbortSignal | undefined;
  const p = withTimeout((s) => ((signal = s), new Promise<string>(() => {})), 1000, clock, 'try');
  clock.advance(999);
  assert.equal(signal!.aborted, false);
  clock.advance(1);
  await assert.rejects(
    p,
    (e) => e instanceof TimeoutError && e.code === 'WEFT_TIMEOUT' && e.timeoutMs === 1000,
  );
  assert.equal(signal!.aborted, true);
  assert.ok(signal!.reason instanceof TimeoutError);
});

void test('withTimeout: a result in time cancels the timer; errors pass through', async () => {
  const clock = new FakeClock();
  assert.equal(await withTimeout(() => Promise.resolve(7), 1000, clock), 7);
  await assert.rejects(
    withTimeout(() => Promise.reject(new Error('boom')), 1000, clock),
    /boom/,
  );
  await assert.rejects(
    withTimeout(
      () => {
        throw new Error('sync');
      },
      1000,
      clock,
    ),
    /sync/,
  );
  clock.advance(5000); // no stray timer fires a rejection
  assert.equal(
    await withTimeout((s) => Promise.resolve(s.aborted), 0, clock),
    false,
    'no timeout: plain call',
  );
});

void test('withTimeout: a parent deadline aborts the per-try work', async () => {
  const clock = new FakeClock();
  const request = new AbortController();
  let inner: AbortSignal | undefined;
  const p = withTimeout((s) => ((inner = s), new Promise(() => {})), 5000, clock, 'try', request.signal);
  const deadline = new TimeoutError('request', 100);
  request.abort(deadline);
  await assert.rejects(p, (e) => e === deadline);
  assert.equal(inner!.aborted, true);
  await assert.rejects(
    withTimeout(() => Promise.resolve(1), 10, clock, 'try', request.signal),
    (e) => e === deadline,
  );
});
