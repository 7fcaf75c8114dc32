import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifests } from '../api/index.ts';
import { explain, formatExplanation } from './policy-explain.ts';

const FIXTURE = join(import.meta.dirname, '../../test/fixtures/policy/explain-mesh.yaml');
const { resources, diagnostics } = parseManifests([
  { file: 'explain-mesh.yaml', text: readFileSync(FIXTURE, 'utf8') },
]);
const q = { method: 'GET', path: '/', headers: {}, namespace: 'default' };

test('explain: fixture is valid', () => {
  assert.deepEqual(
    diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
});

test('explain: an allowed request names the policy and rule that allowed it', () => {
  const e = explain(resources, { ...q, from: 'web', to: 'api:8080', path: '/public/x' });
  assert.equal(e.allowed, true);
  assert.equal(e.route?.name, 'default/api-canary');
  assert.equal(e.route?.rule, 1);
  assert.equal(e.destinations.length, 1);
  assert.equal(e.destinations[0]!.authorization.policy, 'default/api-allow-web');
  assert.match(formatExplanation(e), /verdict: ALLOWED/);
});

test('explain: a denied request shows the first field that failed', () => {
  const e = explain(resources, { ...q, from: 'web', to: 'api', method: 'POST', path: '/public/x' });
  assert.equal(e.allowed, false);
  const text = formatExplanation(e);
  assert.match(text, /rules\[0\]\.to\[0\]\.operation\.methods: "POST" not in \["GET"\]/);
  assert.match(text, /default deny/);
});

test('explain: routing is followed — /v2 reaches api-v2, which no policy allows', () => {
  const e = explain(resources, { ...q, from: 'web', to: 'api:8080', path: '/v2/items' });
  assert.equal(e.route?.rule, 0);
  assert.deepEqual(e.route?.backends, [{ service: 'default/api-v2', weight: 1 }]);
  assert.equal(e.destinations[0]!.workload, 'default/api-v2');
  assert.equal(e.allowed, false);
});

test('explain: a TCP port is decided on the connection; HTTP-only ALLOW rules match nothing there', () => {
  const e = explain(resources, { ...q, from: 'web', to: 'db:5432' });
  assert.equal(e.request, undefined);
  assert.equal(e.allowed, false);
});

test('explain: a SPIFFE ID as the caller, and unknown names are clear errors', () => {
  const e = explain(resources, {
    ...q,
    from: 'spiffe://cluster.local/ns/default/sa/web',
    to: 'api',
    path: '/public/a',
  });
  assert.equal(e.allowed, true);
  assert.throws(() => explain(resources, { ...q, from: 'nope', to: 'api' }), /no Workload "default\/nope"/);
  assert.throws(() => explain(resources, { ...q, from: 'web', to: 'nope' }), /no Service "nope"/);
});
