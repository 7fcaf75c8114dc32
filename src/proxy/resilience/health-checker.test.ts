import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { FakeClock, isWeftError } from '../../lib/index.ts';
import {
  HealthChecker,
  parseHealthCheckAnnotation,
  httpProbe,
  tcpProbe,
  type HealthEvent,
} from './health-checker.ts';

void test('annotation parsing: defaults and precise errors', () => {
  assert.deepEqual(
    parseHealthCheckAnnotation(
      '{"path":"/healthz","interval":"5s","unhealthyThreshold":2,"healthyThreshold":1}',
    ),
    {
      type: 'http',
      path: '/healthz',
      intervalMs: 5000,
      timeoutMs: 1000,
      unhealthyThreshold: 2,
      healthyThreshold: 1,
    },
  );
  assert.equal(
    parseHealthCheckAnnotation('{"type":"tcp","interval":"1s","unhealthyThreshold":4}').timeoutMs,
    250,
  );
  for (const [bad, msg] of [
    ['nope', /not JSON/],
    ['[]', /JSON object/],
    ['{"intervall":"5s"}', /unknown field "intervall"/],
    ['{"interval":5}', /interval must be a duration/],
    ['{"type":"udp"}', /type must be/],
    ['{"path":"healthz"}', /path must be/],
    ['{"unhealthyThreshold":0}', /unhealthyThreshold must be an integer/],
  ] as const)
    assert.throws(
      () => parseHealthCheckAnnotation(bad),
      (e) => isWeftError(e, 'WEFT_HEALTH_CHECK_INVALID') && msg.test(e.message),
      bad,
    );
});

/** Let the probe promises settle (they resolve synchronously-ish: a few microtask turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

void test('a failing endpoint is out of rotation within one interval, and returns after healthyThreshold passes', async () => {
  const clock = new FakeClock();
  const down = new Set<string>();
  const events: HealthEvent[] = [];
  const cfg = parseHealthCheckAnnotation('{"interval":"5s","unhealthyThreshold":2,"healthyThreshold":2}');
  const hc = new HealthChecker(
    cfg,
    clock,
    (key) => Promise.resolve(!down.has(key)),
    (e) => events.push(e),
  );
  assert.equal(hc.periodMs, 2500);
  const list = [{ key: 'a:1' }, { key: 'b:1' }];
  hc.setEndpoints(list.map((e) => e.key));
  assert.equal(hc.filter(list), list, 'start healthy');
  clock.advance(100);
  down.add('a:1'); // a fails just after a probe round would have been... worst case is a full interval
  let waited = 0;
  while (hc.isHealthy('a:1') && waited < 10_000) {
    clock.advance(100);
    waited += 100;
    await settle();
  }
  assert.ok(waited <= 5000, `out after ${waited} ms`);
  assert.deepEqual(hc.filter(list), [list[1]]);
  assert.deepEqual(events, [{ type: 'unhealthy', key: 'a:1' }]);
  down.delete('a:1');
  clock.advance(2500);
  await settle();
  assert.equal(hc.isHealthy('a:1'), false, 'one pass is not enough');
  clock.advance(2500);
  await settle();
  assert.equal(hc.isHealthy('a:1'), true);
  hc.close();
});

void test('probe timeouts count as failures; all unhealthy → panic returns everything', async () => {
  const clock = new FakeClock();
  const cfg = parseHealthCheckAnnotation('{"interval":"2s","timeout":"100ms","unhealthyThreshold":1}');
  const hc = new HealthChecker(cfg, clock, () => new Promise(() => {}));
  const list = [{ key: 'a:1' }];
  hc.setEndpoints(['a:1']);
  clock.advance(2000); // probe starts
  clock.advance(100); // and times out
  await settle();
  assert.equal(hc.isHealthy('a:1'), false);
  assert.equal(hc.filter(list), list, 'panic');
  assert.equal(hc.probeFailures, 1);
  hc.close();
});

void test('the real HTTP and TCP probes against loopback', async () => {
  let status = 200;
  const srv = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const key = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const cfg = parseHealthCheckAnnotation('{}');
  const signal = new AbortController().signal;
  try {
    assert.equal(await httpProbe(key, cfg, signal), true);
    status = 503;
    assert.equal(await httpProbe(key, cfg, signal), false);
    assert.equal(await tcpProbe(key, cfg, signal), true);
  } finally {
    srv.closeAllConnections();
    srv.close();
    await once(srv, 'close');
  }
  assert.equal(await tcpProbe(key, cfg, signal), false, 'closed port');
  assert.equal(await httpProbe(key, cfg, signal), false);
});
