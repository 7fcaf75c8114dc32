import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/index.ts';
import { OutlierDetector, outlierConfig, type OutlierEvent } from './outlier-detector.ts';
import { OUTCOME_CONNECT_FAILURE, OUTCOME_OVERFLOW } from './classifier.ts';

const eps = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `10.0.0.${i + 1}:80` }));

void test('config defaults follow Istio', () => {
  assert.deepEqual(outlierConfig({}), {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 0,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 10,
    minHealthPercent: 0,
  });
});

void test('consecutive 5xx eject at once; a success resets the count; ejection ends at an interval check', () => {
  const clock = new FakeClock();
  const events: OutlierEvent[] = [];
  const d = new OutlierDetector(
    outlierConfig({
      consecutive5xxErrors: 3,
      interval: '1s',
      baseEjectionTime: '5s',
      maxEjectionPercent: 100,
    }),
    clock,
    (e) => events.push(e),
  );
  const list = eps(4);
  d.setEndpoints(list.map((e) => e.key));
  const k = list[0]!.key;
  d.record(k, 500);
  d.record(k, 500);
  d.record(k, 200);
  d.record(k, 500);
  d.record(k, 500);
  assert.equal(d.isEjected(k), false, 'the 200 reset the run');
  d.record(k, OUTCOME_CONNECT_FAILURE);
  assert.equal(d.isEjected(k), true);
  assert.deepEqual(events, [{ type: 'eject', key: k, reason: 'consecutive5xx', durationMs: 5000 }]);
  assert.deepEqual(
    d.filter(list).map((e) => e.key),
    list.slice(1).map((e) => e.key),
  );
  assert.equal(d.filter(list), d.filter(list), 'cached view');
  clock.advance(4999);
  assert.equal(d.isEjected(k), true);
  clock.advance(1001); // next interval check after 5 s
  assert.equal(d.isEjected(k), false);
  assert.equal(d.filter(list), list, 'nothing ejected: the input itself');
  d.close();
});

void test('the ejection time grows with each ejection and decays while healthy', () => {
  const clock = new FakeClock();
  const d = new OutlierDetector(
    outlierConfig({
      consecutive5xxErrors: 1,
      interval: '1s',
      baseEjectionTime: '10s',
      maxEjectionPercent: 100,
    }),
    clock,
  );
  d.setEndpoints(['a', 'b']);
  const ejectedFor = () => {
    d.record('a', 503);
    let t = 0;
    while (d.isEjected('a') && t < 1000) {
      clock.advance(1000);
      t++;
    }
    return t;
  };
  assert.equal(ejectedFor(), 10);
  assert.equal(ejectedFor(), 20);
  assert.equal(ejectedFor(), 30);
  clock.advance(3000); // three healthy intervals: multiplier 3 → 0
  assert.equal(ejectedFor(), 10);
  d.close();
});

void test('gateway errors only count 502/503/504 and local errors; 500 breaks the run', () => {
  const clock = new FakeClock();
  const d = new OutlierDetector(
    outlierConfig({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 }),
    clock,
  );
  d.setEndpoints(['a', 'b']);
  d.record('a', 502);
  d.record('a', 500);
  d.record('a', 503);
  assert.equal(d.isEjected('a'), false);
  d.record('a', 504);
  assert.equal(d.isEjected('a'), true);
  d.record('b', OUTCOME_OVERFLOW);
  d.record('b', OUTCOME_OVERFLOW);
  assert.equal(d.isEjected('b'), false, 'overflow is not the endpoint’s fault');
  d.close();
});

void test('maxEjectionPercent caps ejections but one endpoint may always be ejected', () => {
  const clock = new FakeClock();
  const events: OutlierEvent[] = [];
  const d = new OutlierDetector(
    outlierConfig({ consecutive5xxErrors: 1, maxEjectionPercent: 10 }),
    clock,
    (e) => events.push(e),
  );
  const list = eps(5);
  d.setEndpoints(list.map((e) => e.key));
  for (const e of list) d.record(e.key, 500);
  assert.equal(d.ejectedCount, 1);
  assert.equal(events.filter((e) => e.type === 'eject-refused').length, 4);
  const d2 = new OutlierDetector(outlierConfig({ consecutive5xxErrors: 1, maxEjectionPercent: 50 }), clock);
  d2.setEndpoints(list.map((e) => e.key));
  for (const e of list) d2.record(e.key, 500);
  assert.equal(d2.ejectedCount, 2);
  d.close();
  d2.close();
});

void test('minHealthPercent: below it the view returns every endpoint', () => {
  const clock = new FakeClock();
  const d = new OutlierDetector(
    outlierConfig({ consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: 50 }),
    clock,
  );
  const list = eps(4);
  d.setEndpoints(list.map((e) => e.key));
  d.record(list[0]!.key, 500);
  d.record(list[1]!.key, 500);
  assert.equal(d.filter(list).length, 2, '50 % healthy: still filtered');
  d.record(list[2]!.key, 500);
  assert.equal(d.filter(list), list, '25 % healthy: panic, all endpoints');
  d.setEndpoints([list[3]!.key]);
  assert.equal(d.ejectedCount, 0, 'removed endpoints are forgotten');
  d.close();
});
