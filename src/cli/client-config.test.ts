import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWeftError } from '../lib/index.ts';
import { describeOutcome, formatAge, formatTable, resolveClientConfig } from './client-config.ts';

const code = (c: string) => (err: unknown) => isWeftError(err, c);

void test('resolveClientConfig finds a local control plane through its state directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cc-'));
  try {
    assert.throws(
      () => resolveClientConfig({ env: {} }),
      (err: unknown) => {
        assert.ok(isWeftError(err, 'WEFT_CLIENT_NO_SERVER'));
        assert.match(err.message, /--state-dir DIR.*WEFT_STATE_DIR.*--server URL.*WEFT_TOKEN/);
        return true;
      },
    );
    assert.throws(() => resolveClientConfig({ stateDir: dir, env: {} }), code('WEFT_CLIENT_NOT_RUNNING'));
    writeFileSync(
      join(dir, 'control.json'),
      JSON.stringify({ apiUrl: 'http://127.0.0.1:9/', pid: process.pid }),
    );
    assert.throws(() => resolveClientConfig({ stateDir: dir, env: {} }), code('WEFT_CLIENT_NO_TOKEN'));
    writeFileSync(join(dir, 'token'), 'tok-from-file\n');
    assert.deepEqual(resolveClientConfig({ stateDir: dir, env: { WEFT_TOKEN: 'ignored' } }), {
      baseUrl: 'http://127.0.0.1:9',
      token: 'tok-from-file',
    });
    assert.deepEqual(resolveClientConfig({ env: { WEFT_STATE_DIR: dir } }).token, 'tok-from-file');
    // A pid that no longer runs: the control plane is gone (2^22 is above Linux's pid_max default).
    writeFileSync(
      join(dir, 'control.json'),
      JSON.stringify({ apiUrl: 'http://127.0.0.1:9', pid: 4_194_304 }),
    );
    assert.throws(() => resolveClientConfig({ stateDir: dir, env: {} }), code('WEFT_CLIENT_NOT_RUNNING'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('resolveClientConfig takes --server with WEFT_TOKEN, and --server wins', () => {
  assert.deepEqual(resolveClientConfig({ server: 'http://127.0.0.1:7443/', env: { WEFT_TOKEN: 't' } }), {
    baseUrl: 'http://127.0.0.1:7443',
    token: 't',
  });
  assert.deepEqual(
    resolveClientConfig({ env: { WEFT_SERVER: 'http://127.0.0.1:1', WEFT_TOKEN: 't' } }).baseUrl,
    'http://127.0.0.1:1',
  );
  assert.deepEqual(
    resolveClientConfig({
      server: 'http://127.0.0.1:2',
      env: { WEFT_STATE_DIR: '/nonexistent', WEFT_TOKEN: 't' },
    }).baseUrl,
    'http://127.0.0.1:2',
  );
  assert.throws(
    () => resolveClientConfig({ server: 'http://127.0.0.1:2', env: {} }),
    code('WEFT_CLIENT_NO_TOKEN'),
  );
  assert.throws(
    () => resolveClientConfig({ server: 'ftp://x', env: { WEFT_TOKEN: 't' } }),
    code('WEFT_CLIENT_NO_SERVER'),
  );
  assert.throws(
    () => resolveClientConfig({ server: 'not a url', env: { WEFT_TOKEN: 't' } }),
    code('WEFT_CLIENT_NO_SERVER'),
  );
});

void test('output helpers', () => {
  const diff = { added: ['a', 'b'], changed: ['c'], deleted: [] };
  const base = { revision: 7, time: '', actor: 'x', message: '', diff };
  assert.equal(
    describeOutcome({ ...base, unchanged: false, dryRun: false }),
    'revision 7: 2 added, 1 changed, 0 deleted',
  );
  assert.equal(describeOutcome({ ...base, unchanged: true, dryRun: false }), 'no changes (revision 7)');
  assert.match(
    describeOutcome({ ...base, unchanged: false, dryRun: true }),
    /^dry run: would create revision 7/,
  );
  assert.equal(formatTable(['A', 'BB'], [['xyz', '1']]), 'A     BB\nxyz   1\n');
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(formatAge('2026-01-01T23:59:30Z', now), '30s');
  assert.equal(formatAge('2026-01-01T23:00:00Z', now), '60m');
  assert.equal(formatAge('2026-01-01T00:00:00Z', now), '24h');
  assert.equal(formatAge('2025-12-01T00:00:00Z', now), '32d');
  assert.equal(formatAge(undefined, now), '<unknown>');
});
