import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogTail, denialEvent } from './log-tail.ts';

test('LogTail returns only complete lines appended since the last read, and restarts after truncation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tail-'));
  try {
    const file = join(dir, 'proxy.log');
    const tail = new LogTail(file);
    assert.deepEqual(tail.read(), [], 'a missing file is no lines');
    writeFileSync(file, 'one\ntw');
    assert.deepEqual(tail.read(), ['one']);
    appendFileSync(file, 'o\nthree\n');
    assert.deepEqual(tail.read(), ['two', 'three']);
    assert.deepEqual(tail.read(), []);
    writeFileSync(file, 'new\n');
    assert.deepEqual(tail.read(), ['new']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('denialEvent: a denial becomes one short line; allows and other lines are ignored', () => {
  const deny = JSON.stringify({
    msg: 'authz decision',
    decision: 'deny',
    source: 'spiffe://cluster.local/ns/default/sa/details',
    destination: 'default/ratings',
    request: 'GET /ratings/1',
    reason: 'default deny: no ALLOW policy matches',
  });
  assert.equal(
    denialEvent(deny),
    'default/details → default/ratings GET /ratings/1: default deny: no ALLOW policy matches',
  );
  const tcp = JSON.stringify({
    msg: 'authz decision',
    decision: 'deny',
    destination: 'default/db',
    port: 5432,
    policy: 'default/np',
    reason: 'r',
  });
  assert.equal(denialEvent(tcp), 'unauthenticated → default/db port 5432 by default/np: r');
  assert.equal(denialEvent(JSON.stringify({ msg: 'authz decision', decision: 'allow' })), undefined);
  assert.equal(denialEvent('not json "authz decision" "deny"'), undefined);
});
