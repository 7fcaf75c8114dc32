import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Classifier,
  concernsEndpoint,
  is5xx,
  isGatewayError,
  GRPC_UNAVAILABLE,
  GRPC_OK,
  OUTCOME_CANCELLED,
  OUTCOME_CONNECT_FAILURE,
  OUTCOME_OVERFLOW,
  OUTCOME_RESET,
  OUTCOME_TIMEOUT,
} from './classifier.ts';

void test('default classification of HTTP statuses and local errors', () => {
  const c = new Classifier();
  const table: [number, string][] = [
    [200, 'success'],
    [404, 'success'],
    [429, 'success'],
    [500, 'failure'],
    [501, 'failure'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
    [OUTCOME_CONNECT_FAILURE, 'retryable'],
    [OUTCOME_RESET, 'retryable'],
    [OUTCOME_TIMEOUT, 'retryable'],
    [OUTCOME_OVERFLOW, 'failure'],
    [OUTCOME_CANCELLED, 'failure'],
  ];
  for (const [o, want] of table) assert.equal(c.classify(o), want, String(o));
});

void test('configured statuses and gRPC codes', () => {
  const c = new Classifier({ retryableStatuses: [409, 500], retryableGrpc: [GRPC_UNAVAILABLE, 8] });
  assert.equal(c.classify(409), 'retryable');
  assert.equal(c.classify(500), 'retryable');
  assert.equal(c.classify(503), 'failure', 'the set replaces the defaults');
  assert.equal(c.classify(200, GRPC_OK), 'success');
  assert.equal(c.classify(200, GRPC_UNAVAILABLE), 'retryable');
  assert.equal(c.classify(200, 8), 'retryable');
  assert.equal(c.classify(200, 5), 'failure', 'NOT_FOUND is a failure, not retryable');
  assert.equal(c.classify(200, 99), 'failure', 'out-of-range code');
});

void test('helpers: gateway errors, 5xx, endpoint relevance', () => {
  assert.ok(isGatewayError(502) && isGatewayError(OUTCOME_RESET) && !isGatewayError(500));
  assert.ok(is5xx(500) && is5xx(OUTCOME_TIMEOUT) && !is5xx(499) && !is5xx(OUTCOME_OVERFLOW));
  assert.ok(
    !concernsEndpoint(OUTCOME_OVERFLOW) && !concernsEndpoint(OUTCOME_CANCELLED) && concernsEndpoint(503),
  );
});
