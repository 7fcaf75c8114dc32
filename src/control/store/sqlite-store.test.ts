/** Runs the Store contract against the SQLite backend, plus what only SQLite has (file, modes). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { isWeftError } from '../../lib/index.ts';
import { openSqliteStore, storeFile } from './sqlite-store.ts';
import type { Store } from './store.ts';
import { runStoreConformance, svc } from './store-conformance.ts';

runStoreConformance('sqlite', async (clock) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
  const file = storeFile(dir);
  let current: Store = openSqliteStore({ file, clock });
  return {
    get store() {
      return current;
    },
    reopen: async () => {
      await current.close();
      current = openSqliteStore({ file, clock });
      return current;
    },
    dispose: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

void describe('sqlite store file', () => {
  void it('is created 0600 in WAL mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
    try {
      const store = openSqliteStore({ file: storeFile(dir) });
      await store.apply({ put: [svc('a')], delete: [], actor: 'a', message: 'm' });
      assert.equal(statSync(storeFile(dir)).mode & 0o777, 0o600);
      await store.close();
      const db = new DatabaseSync(storeFile(dir));
      assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('fails to open a file that is not a store with a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
    try {
      writeFileSync(storeFile(dir), 'this is not a database, just some text that is long enough'.repeat(20));
      assert.throws(
        () => openSqliteStore({ file: storeFile(dir) }),
        (err: unknown) => isWeftError(err, 'WEFT_STORE_OPEN_FAILED') && err.message.includes('store.db'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('refuses a store written by a newer schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
    try {
      const db = new DatabaseSync(storeFile(dir));
      db.exec(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '99')",
      );
      db.close();
      assert.throws(
        () => openSqliteStore({ file: storeFile(dir) }),
        (err: unknown) => isWeftError(err, 'WEFT_STORE_SCHEMA_UNSUPPORTED'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
