import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWeftError } from '../../lib/index.ts';
import { bearerToken, loadOrCreateToken, tokensEqual } from './token.ts';

void test('creates a 0600 base64url token once and reads it back after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-token-'));
  try {
    const t = loadOrCreateToken(join(dir, 'state'));
    assert.match(t, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(join(dir, 'state', 'token')).mode & 0o777, 0o600);
    assert.equal(loadOrCreateToken(join(dir, 'state')), t);
    const join1 = loadOrCreateToken(join(dir, 'state'), 'join-token', (n) => Buffer.alloc(n, 7));
    assert.equal(join1, Buffer.alloc(32, 7).toString('base64url'));
    assert.notEqual(join1, t);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('refuses a token file that holds no token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-token-'));
  try {
    writeFileSync(join(dir, 'token'), 'short\n');
    assert.throws(
      () => loadOrCreateToken(dir),
      (err: unknown) => isWeftError(err, 'WEFT_TOKEN_INVALID'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('compares tokens and parses bearer headers', () => {
  assert.equal(tokensEqual('abc', 'abc'), true);
  assert.equal(tokensEqual('abc', 'abd'), false);
  assert.equal(tokensEqual('abc', 'abcd'), false);
  assert.equal(bearerToken('Bearer abc-_.~+/='), 'abc-_.~+/=');
  assert.equal(bearerToken('bearer  xyz'), 'xyz');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken('Bearer a b'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});
