import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyMetrics } from './metrics.ts';

test('counters by label key; withCode builds each (key, code) label once', () => {
  const m = new ProxyMetrics();
  const key = m.key({ source: 'spiffe://td/ns/a/sa/x', destination: 'a/svc' });
  assert.equal(key, 'source="spiffe://td/ns/a/sa/x",destination="a/svc"');
  const k200 = m.withCode(key, 200);
  assert.equal(k200, `${key},code="200"`);
  assert.equal(m.withCode(key, 200), k200);
  m.inc('weft_proxy_requests_total', k200);
  m.inc('weft_proxy_requests_total', m.withCode(key, 200), 2);
  m.inc('weft_proxy_requests_total', m.withCode(key, 503));
  assert.equal(m.counter('weft_proxy_requests_total', k200), 3);
  assert.equal(m.counter('weft_proxy_requests_total', `${key},code="503"`), 1);
  const text = m.render();
  assert.match(text, /# TYPE weft_proxy_requests_total counter/);
  assert.ok(text.includes(`weft_proxy_requests_total{${key},code="200"} 3\n`), text);
});

test('label values are escaped', () => {
  const m = new ProxyMetrics();
  assert.equal(m.key({ a: 'x"y\\z\nw' }), 'a="x\\"y\\\\z\\nw"');
});

test('histograms render cumulative buckets, sum and count per label key', () => {
  const m = new ProxyMetrics();
  for (const ms of [0.2, 0.7, 3, 20000]) m.observe('weft_proxy_request_duration_ms', 'k="1"', ms);
  m.observe('weft_proxy_request_duration_ms', 'k="2"', 1);
  const lines = m.render().split('\n');
  const get = (s: string) => lines.find((l) => l.startsWith(s));
  assert.equal(
    get('weft_proxy_request_duration_ms_bucket{k="1",le="0.5"}'),
    'weft_proxy_request_duration_ms_bucket{k="1",le="0.5"} 1',
  );
  assert.equal(get('weft_proxy_request_duration_ms_bucket{k="1",le="5"}')?.split(' ')[1], '3');
  assert.equal(get('weft_proxy_request_duration_ms_bucket{k="1",le="10000"}')?.split(' ')[1], '3');
  assert.equal(get('weft_proxy_request_duration_ms_bucket{k="1",le="+Inf"}')?.split(' ')[1], '4');
  assert.equal(
    get('weft_proxy_request_duration_ms_count{k="1"}'),
    'weft_proxy_request_duration_ms_count{k="1"} 4',
  );
  assert.equal(
    get('weft_proxy_request_duration_ms_sum{k="1"}'),
    'weft_proxy_request_duration_ms_sum{k="1"} 20003.9',
  );
  assert.equal(get('weft_proxy_request_duration_ms_count{k="2"}')?.split(' ')[1], '1');
  assert.equal(
    lines.filter((l) => l.startsWith('# TYPE weft_proxy_request_duration_ms histogram')).length,
    1,
  );
});

test('gauges are read at render time', () => {
  const m = new ProxyMetrics();
  let v = 1;
  m.setGauges(() => ({ weft_proxy_resident_memory_bytes: v }));
  assert.ok(m.render().includes('weft_proxy_resident_memory_bytes 1\n'));
  v = 2;
  assert.ok(m.render().includes('weft_proxy_resident_memory_bytes 2\n'));
});
