/**
 * The embedded store: SQLite through node:sqlite in `<stateDir>/store.db`, so `weft up` needs
 * nothing installed. WAL journal with synchronous=FULL: a committed revision survives a crash or
 * power loss, and a revision interrupted by a crash leaves no trace (SQLite's atomic commit,
 * https://www.sqlite.org/atomiccommit.html and https://www.sqlite.org/wal.html).
 *
 * Tables: `resources` (current state), `revisions` (one row per revision: time, actor, message, diff
 * summary), `changes` (old and new object per key per revision). `revisionState(rev)` starts from
 * the current state and undoes the changes newer than `rev`.
 *
 * One process writes a store file at a time; watchers are in-process (replicas share state through
 * etcd, not through one SQLite file). node:sqlite is synchronous, so each method runs to completion
 * without interleaving: a watcher can never miss or double-see a revision.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Resource } from '../../api/index.ts';
import { resourceKey } from '../../api/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import { WeftError, errorMessage, silentLogger, systemClock } from '../../lib/index.ts';
import { canonicalJson, deepFreeze } from './canonical.ts';
import { stripRevisions } from './rollback.ts';
import type {
  ApplyOutcome,
  ChangeEvent,
  HistoryOptions,
  ListFilter,
  ResourceChange,
  RevisionDiff,
  RevisionInfo,
  Store,
  StoreChange,
  StoredResource,
} from './store.ts';

const SCHEMA_VERSION = 1;
const DEFAULT_HISTORY_LIMIT = 100;
const MAX_HISTORY_LIMIT = 10_000;

export interface SqliteStoreOptions {
  /** The database file; `:memory:` for a throwaway store. */
  file: string;
  clock?: Clock;
  logger?: Logger;
}

/** `<stateDir>/store.db`. */
export function storeFile(stateDir: string): string {
  return join(stateDir, 'store.db');
}

/** Open (creating if needed) a SQLite store. Throws WEFT_STORE_OPEN_FAILED with the reason. */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  return new SqliteStore(options);
}

interface ResourceRow {
  key: string;
  body: string;
  mod_revision: number;
  create_revision: number;
}

interface RevisionRow {
  revision: number;
  time: string;
  actor: string;
  message: string;
  diff: string;
}

interface ChangeRow {
  revision: number;
  key: string;
  old_body: string | null;
  new_body: string | null;
  create_revision: number | null;
}

class SqliteStore implements Store {
  #db: DatabaseSync | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #watchers = new Set<(ev: ChangeEvent) => void>();

  constructor(options: SqliteStoreOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    try {
      if (options.file !== ':memory:') {
        mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
        // Create the file 0600 ourselves: SQLite gives the -wal and -shm files the same mode.
        closeSync(openSync(options.file, 'a', 0o600));
      }
      const db = new DatabaseSync(options.file);
      db.exec('PRAGMA busy_timeout = 5000');
      if (options.file !== ':memory:') db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      this.#db = db;
      this.#migrate(db);
    } catch (err) {
      this.#db?.close();
      if (err instanceof WeftError) throw err;
      throw new WeftError(
        'WEFT_STORE_OPEN_FAILED',
        `cannot open the store ${options.file}: ${errorMessage(err)}; check the state directory exists and is writable`,
        { cause: err },
      );
    }
  }

  #migrate(db: DatabaseSync): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS resources (
        key TEXT PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        body TEXT NOT NULL, mod_revision INTEGER NOT NULL, create_revision INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS resources_kind_ns ON resources (kind, namespace);
      CREATE TABLE IF NOT EXISTS revisions (
        revision INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, message TEXT NOT NULL,
        diff TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS changes (
        revision INTEGER NOT NULL, key TEXT NOT NULL, old_body TEXT, new_body TEXT,
        create_revision INTEGER, PRIMARY KEY (revision, key));
    `);
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
      { value: string } | undefined;
    if (!row) {
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
    } else if (Number(row.value) !== SCHEMA_VERSION) {
      throw new WeftError(
        'WEFT_STORE_SCHEMA_UNSUPPORTED',
        `the store has schema version ${row.value} but this weft reads version ${SCHEMA_VERSION}; use the weft version that wrote it`,
      );
    }
  }

  #open(): DatabaseSync {
    if (!this.#db) throw new WeftError('WEFT_STORE_CLOSED', 'the store is closed');
    return this.#db;
  }

  #currentRevision(db: DatabaseSync): number {
    const row = db.prepare('SELECT COALESCE(MAX(revision), 0) AS rev FROM revisions').get() as {
      rev: number;
    };
    return row.rev;
  }

  async revision(): Promise<number> {
    return this.#currentRevision(this.#open());
  }

  async get(key: string): Promise<StoredResource | undefined> {
    const row = this.#open()
      .prepare('SELECT key, body, mod_revision, create_revision FROM resources WHERE key = ?')
      .get(key) as ResourceRow | undefined;
    return row ? toStored(row) : undefined;
  }

  async list(filter: ListFilter = {}): Promise<StoredResource[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.kind !== undefined) {
      where.push('kind = ?');
      args.push(filter.kind);
    }
    if (filter.namespace !== undefined) {
      where.push('namespace = ?');
      args.push(filter.namespace);
    }
    const sql =
      'SELECT key, body, mod_revision, create_revision FROM resources' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY key';
    const rows = this.#open()
      .prepare(sql)
      .all(...args) as unknown as ResourceRow[];
    return rows.map(toStored);
  }

  async apply(change: StoreChange): Promise<ApplyOutcome> {
    const db = this.#open();
    checkChange(change);
    const time = new Date(this.#clock.now()).toISOString();
    const getRow = db.prepare('SELECT key, body, mod_revision, create_revision FROM resources WHERE key = ?');
    db.exec('BEGIN IMMEDIATE');
    let event: ChangeEvent;
    try {
      const current = this.#currentRevision(db);
      const next = current + 1;
      const changes: (ResourceChange & {
        oldBody: string | null;
        newBody: string | null;
        createRev: number;
      })[] = [];
      for (const key of change.delete) {
        const row = getRow.get(key) as ResourceRow | undefined;
        if (!row) {
          throw new WeftError('WEFT_RESOURCE_NOT_FOUND', `${key} does not exist; nothing was deleted`, {
            detail: { key },
          });
        }
        changes.push({
          key,
          type: 'deleted',
          previous: parseBody(row.body),
          oldBody: row.body,
          newBody: null,
          createRev: row.create_revision,
        });
      }
      for (const input of change.put) {
        const r = stripRevisions(input);
        const key = resourceKey(r);
        const row = getRow.get(key) as ResourceRow | undefined;
        const previous = row ? parseBody(row.body) : undefined;
        const created =
          previous?.metadata.creationTimestamp ??
          (change.keepCreationTimestamps ? r.metadata.creationTimestamp : undefined) ??
          time;
        const body = canonicalJson({ ...r, metadata: { ...r.metadata, creationTimestamp: created } });
        if (row && row.body === body) continue;
        const createRev = row ? row.create_revision : next;
        const stored = toStored({ key, body, mod_revision: next, create_revision: createRev });
        changes.push({
          key,
          type: row ? 'changed' : 'added',
          resource: stored,
          ...(previous ? { previous } : {}),
          oldBody: row ? row.body : null,
          newBody: body,
          createRev,
        });
      }
      const diff = diffOf(changes);
      if (changes.length === 0 || change.dryRun) {
        db.exec('ROLLBACK');
        const unchanged = changes.length === 0;
        return {
          revision: unchanged ? current : next,
          time,
          actor: change.actor,
          message: change.message,
          diff,
          unchanged,
          dryRun: !!change.dryRun,
        };
      }
      db.prepare('INSERT INTO revisions (revision, time, actor, message, diff) VALUES (?, ?, ?, ?, ?)').run(
        next,
        time,
        change.actor,
        change.message,
        JSON.stringify(diff),
      );
      const insChange = db.prepare(
        'INSERT INTO changes (revision, key, old_body, new_body, create_revision) VALUES (?, ?, ?, ?, ?)',
      );
      const upsert = db.prepare(
        `INSERT INTO resources (key, kind, namespace, name, body, mod_revision, create_revision)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET body = excluded.body, mod_revision = excluded.mod_revision`,
      );
      const del = db.prepare('DELETE FROM resources WHERE key = ?');
      for (const c of changes) {
        insChange.run(next, c.key, c.oldBody, c.newBody, c.createRev);
        if (c.newBody === null) {
          del.run(c.key);
        } else {
          const m = c.resource!;
          upsert.run(c.key, m.kind, m.metadata.namespace, m.metadata.name, c.newBody, next, c.createRev);
        }
      }
      db.exec('COMMIT');
      event = {
        revision: next,
        time,
        actor: change.actor,
        message: change.message,
        diff,
        changes: changes.map(publicChange),
      };
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
    deepFreeze(event);
    for (const w of [...this.#watchers]) this.#deliver(w, event);
    return { ...infoOf(event), unchanged: false, dryRun: false };
  }

  #deliver(w: (ev: ChangeEvent) => void, ev: ChangeEvent): void {
    try {
      w(ev);
    } catch (err) {
      // A watcher's bug must not undo or hide a committed revision.
      this.#log.error('store watcher threw', { revision: ev.revision, err });
    }
  }

  async history(opts: HistoryOptions = {}): Promise<RevisionInfo[]> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? DEFAULT_HISTORY_LIMIT), 0), MAX_HISTORY_LIMIT);
    const before = opts.before ?? Number.MAX_SAFE_INTEGER;
    const rows = this.#open()
      .prepare(
        'SELECT revision, time, actor, message, diff FROM revisions WHERE revision < ? ORDER BY revision DESC LIMIT ?',
      )
      .all(before, limit) as unknown as RevisionRow[];
    return rows.map(revisionInfo);
  }

  async revisionState(rev: number): Promise<Resource[]> {
    const db = this.#open();
    const current = this.#currentRevision(db);
    if (!Number.isInteger(rev) || rev < 0 || rev > current) {
      throw new WeftError(
        'WEFT_STORE_REVISION_NOT_FOUND',
        `revision ${rev} does not exist; revisions run from 0 (empty) to ${current} (see \`weft history\`)`,
        { detail: { revision: rev, current } },
      );
    }
    const state = new Map<string, string>();
    const rows = db.prepare('SELECT key, body FROM resources').all() as unknown as {
      key: string;
      body: string;
    }[];
    for (const r of rows) state.set(r.key, r.body);
    const undo = db
      .prepare('SELECT key, old_body FROM changes WHERE revision > ? ORDER BY revision DESC')
      .all(rev) as unknown as Pick<ChangeRow, 'key' | 'old_body'>[];
    for (const c of undo) {
      if (c.old_body === null) state.delete(c.key);
      else state.set(c.key, c.old_body);
    }
    return [...state.keys()].sort().map((k) => deepFreeze(parseBody(state.get(k)!)));
  }

  watch(fromRevision: number, onChange: (ev: ChangeEvent) => void): () => void {
    const db = this.#open();
    const revs = db
      .prepare(
        'SELECT revision, time, actor, message, diff FROM revisions WHERE revision > ? ORDER BY revision',
      )
      .all(fromRevision) as unknown as RevisionRow[];
    const changeRows = db
      .prepare(
        'SELECT revision, key, old_body, new_body, create_revision FROM changes WHERE revision > ? ORDER BY revision, key',
      )
      .all(fromRevision) as unknown as ChangeRow[];
    const byRev = new Map<number, ResourceChange[]>();
    for (const c of changeRows) {
      const list = byRev.get(c.revision) ?? [];
      byRev.set(c.revision, list);
      list.push({
        key: c.key,
        type: c.new_body === null ? 'deleted' : c.old_body === null ? 'added' : 'changed',
        ...(c.new_body !== null
          ? {
              resource: toStored({
                key: c.key,
                body: c.new_body,
                mod_revision: c.revision,
                create_revision: c.create_revision ?? c.revision,
              }),
            }
          : {}),
        ...(c.old_body !== null ? { previous: parseBody(c.old_body) } : {}),
      });
    }
    for (const r of revs) {
      this.#deliver(onChange, deepFreeze({ ...revisionInfo(r), changes: byRev.get(r.revision) ?? [] }));
    }
    this.#watchers.add(onChange);
    return () => {
      this.#watchers.delete(onChange);
    };
  }

  async close(): Promise<void> {
    this.#watchers.clear();
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }
}

function checkChange(change: StoreChange): void {
  const seen = new Set<string>();
  for (const r of change.put) {
    const ok =
      r !== null &&
      typeof r === 'object' &&
      typeof r.kind === 'string' &&
      r.kind !== '' &&
      typeof r.metadata?.name === 'string' &&
      r.metadata.name !== '' &&
      typeof r.metadata.namespace === 'string';
    if (!ok) {
      throw new WeftError(
        'WEFT_STORE_INVALID_RESOURCE',
        'a resource to store needs kind, metadata.name and metadata.namespace; validate it first',
      );
    }
    const key = resourceKey(r);
    if (seen.has(key)) {
      throw new WeftError('WEFT_STORE_INVALID_CHANGE', `${key} appears twice in one change; keep one`, {
        detail: { key },
      });
    }
    seen.add(key);
  }
  for (const key of change.delete) {
    if (seen.has(key)) {
      throw new WeftError(
        'WEFT_STORE_INVALID_CHANGE',
        `${key} is both put and deleted in one change; do one or the other`,
        { detail: { key } },
      );
    }
    seen.add(key);
  }
}

function parseBody(body: string): Resource {
  return JSON.parse(body) as Resource;
}

function toStored(row: ResourceRow): StoredResource {
  return deepFreeze({
    ...parseBody(row.body),
    revision: row.mod_revision,
    createRevision: row.create_revision,
  });
}

function revisionInfo(r: RevisionRow): RevisionInfo {
  return { revision: r.revision, time: r.time, actor: r.actor, message: r.message, diff: JSON.parse(r.diff) };
}

function infoOf(ev: ChangeEvent): RevisionInfo {
  return { revision: ev.revision, time: ev.time, actor: ev.actor, message: ev.message, diff: ev.diff };
}

function diffOf(changes: readonly ResourceChange[]): RevisionDiff {
  const pick = (t: ResourceChange['type']) =>
    changes
      .filter((c) => c.type === t)
      .map((c) => c.key)
      .sort();
  return { added: pick('added'), changed: pick('changed'), deleted: pick('deleted') };
}

function publicChange(c: ResourceChange): ResourceChange {
  return {
    key: c.key,
    type: c.type,
    ...(c.resource ? { resource: c.resource } : {}),
    ...(c.previous ? { previous: c.previous } : {}),
  };
}
