/**
 * The Store contract as tests: every backend (SQLite now, etcd later) runs this one suite, so the
 * control plane can rely on the contract and not on a backend (CONVENTIONS.md, "one contract suite
 * per interface"). Call `runStoreConformance(name, makeStore)` from a backend's `*.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resource } from '../../api/index.ts';
import { resourceKey } from '../../api/index.ts';
import type { Clock } from '../../lib/index.ts';
import { FakeClock, isWeftError } from '../../lib/index.ts';
import { rollbackStore, stripRevisions } from './rollback.ts';
import type { ChangeEvent, Store } from './store.ts';

export interface StoreUnderTest {
  store: Store;
  /** Close and open the same backing state again (omit for backends without persistence). */
  reopen?: () => Promise<Store>;
  /** Close everything and remove the backing state. */
  dispose: () => Promise<void>;
}

export type MakeStore = (clock: Clock) => Promise<StoreUnderTest>;

export function svc(name: string, namespace = 'default', extra: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80 }], ...extra },
  };
}

function node(name: string): Resource {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, namespace: '', labels: {}, annotations: {} },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] },
  };
}

const change = (put: Resource[], del: string[] = [], message = 'test') => ({
  put,
  delete: del,
  actor: 'tester',
  message,
});

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isWeftError(err, code));
}

/** Deterministic PRNG (mulberry32) so a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function runStoreConformance(name: string, makeStore: MakeStore): void {
  void describe(`Store conformance: ${name}`, () => {
    const withStore = (fn: (s: StoreUnderTest, clock: FakeClock) => Promise<void>) => async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 1));
      const s = await makeStore(clock);
      try {
        await fn(s, clock);
      } finally {
        await s.dispose();
      }
    };

    void it(
      'starts empty at revision 0',
      withStore(async ({ store }) => {
        assert.equal(await store.revision(), 0);
        assert.deepEqual(await store.list(), []);
        assert.deepEqual(await store.history(), []);
        assert.deepEqual(await store.revisionState(0), []);
        assert.equal(await store.get('Service/default/a'), undefined);
        await rejects(store.revisionState(1), 'WEFT_STORE_REVISION_NOT_FOUND');
      }),
    );

    void it(
      'applies a multi-document change as one revision with a diff, actor and message',
      withStore(async ({ store }) => {
        const out = await store.apply({ ...change([svc('b'), svc('a'), node('n1')]), message: 'first' });
        assert.equal(out.revision, 1);
        assert.equal(out.unchanged, false);
        assert.equal(out.dryRun, false);
        assert.equal(out.actor, 'tester');
        assert.equal(out.message, 'first');
        assert.equal(out.time, '2026-01-01T00:00:00.000Z');
        assert.deepEqual(out.diff, {
          added: ['Node//n1', 'Service/default/a', 'Service/default/b'],
          changed: [],
          deleted: [],
        });
        assert.equal(await store.revision(), 1);
        const a = await store.get('Service/default/a');
        assert.ok(a);
        assert.equal(a.revision, 1);
        assert.equal(a.createRevision, 1);
        assert.equal(a.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z');
        assert.deepEqual(a.spec, svc('a').spec);
        assert.deepEqual(
          (await store.list()).map((r) => resourceKey(r)),
          ['Node//n1', 'Service/default/a', 'Service/default/b'],
        );
        assert.deepEqual(
          (await store.list({ kind: 'Node' })).map((r) => r.metadata.name),
          ['n1'],
        );
        assert.deepEqual(
          (await store.list({ namespace: '' })).map((r) => r.metadata.name),
          ['n1'],
        );
        assert.deepEqual(await store.list({ kind: 'Service', namespace: 'other' }), []);
        const [h] = await store.history();
        assert.deepEqual(h, {
          revision: 1,
          time: out.time,
          actor: 'tester',
          message: 'first',
          diff: out.diff,
        });
      }),
    );

    void it(
      'keeps creationTimestamp and createRevision across updates, whatever the caller sends',
      withStore(async ({ store }, clock) => {
        await store.apply(change([svc('a')]));
        clock.advance(60_000);
        const forged = svc('a', 'default', { type: 'ClusterIP' });
        forged.metadata.creationTimestamp = '1999-01-01T00:00:00Z';
        const out = await store.apply(change([forged, svc('c')]));
        assert.equal(out.revision, 2);
        assert.deepEqual(out.diff, {
          added: ['Service/default/c'],
          changed: ['Service/default/a'],
          deleted: [],
        });
        const a = await store.get('Service/default/a');
        assert.equal(a?.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z');
        assert.equal(a?.revision, 2);
        assert.equal(a?.createRevision, 1);
        assert.equal(a?.spec.type, 'ClusterIP');
        const c = await store.get('Service/default/c');
        assert.equal(c?.metadata.creationTimestamp, '2026-01-01T00:01:00.000Z');
      }),
    );

    void it(
      'creates no revision for a change that alters nothing (key order does not matter)',
      withStore(async ({ store }) => {
        await store.apply(change([svc('a')]));
        const same = svc('a');
        const reordered: Resource = {
          spec: { ports: [{ port: 80, name: 'http' }], selector: { app: 'a' } },
          metadata: { annotations: {}, labels: {}, namespace: 'default', name: 'a' },
          kind: 'Service',
          apiVersion: 'v1',
        };
        for (const r of [same, reordered]) {
          const out = await store.apply(change([r]));
          assert.equal(out.unchanged, true);
          assert.equal(out.revision, 1);
          assert.deepEqual(out.diff, { added: [], changed: [], deleted: [] });
        }
        // Stored objects handed back (with their revision fields) are also "no change".
        const got = await store.list();
        assert.equal((await store.apply(change(got))).unchanged, true);
        assert.equal(await store.revision(), 1);
        assert.equal((await store.history()).length, 1);
      }),
    );

    void it(
      'rejects a change whole: a missing delete key leaves every put unapplied',
      withStore(async ({ store }) => {
        await store.apply(change([svc('a')]));
        await rejects(
          store.apply(change([svc('b'), svc('c')], ['Service/default/missing'])),
          'WEFT_RESOURCE_NOT_FOUND',
        );
        assert.equal(await store.revision(), 1);
        assert.deepEqual(
          (await store.list()).map((r) => r.metadata.name),
          ['a'],
        );
        await rejects(store.apply(change([svc('a'), svc('a')])), 'WEFT_STORE_INVALID_CHANGE');
        await rejects(store.apply(change([svc('b')], ['Service/default/b'])), 'WEFT_STORE_INVALID_CHANGE');
        await rejects(store.apply(change([{ ...svc('x'), kind: '' }])), 'WEFT_STORE_INVALID_RESOURCE');
        assert.equal(await store.revision(), 1);
      }),
    );

    void it(
      'deletes, recording the old object, and a dry run stores nothing',
      withStore(async ({ store }) => {
        await store.apply(change([svc('a'), svc('b')]));
        const dry = await store.apply({ ...change([svc('c')], ['Service/default/a']), dryRun: true });
        assert.equal(dry.dryRun, true);
        assert.equal(dry.unchanged, false);
        assert.equal(dry.revision, 2);
        assert.deepEqual(dry.diff, {
          added: ['Service/default/c'],
          changed: [],
          deleted: ['Service/default/a'],
        });
        assert.equal(await store.revision(), 1);
        assert.equal((await store.list()).length, 2);

        const out = await store.apply(change([], ['Service/default/a']));
        assert.equal(out.revision, 2);
        assert.deepEqual(out.diff.deleted, ['Service/default/a']);
        assert.equal(await store.get('Service/default/a'), undefined);
        assert.deepEqual(
          (await store.revisionState(1)).map((r) => r.metadata.name),
          ['a', 'b'],
        );
        assert.deepEqual(
          (await store.revisionState(2)).map((r) => r.metadata.name),
          ['b'],
        );
        // Re-created later: a new createRevision and creationTimestamp.
        const again = await store.apply(change([svc('a')]));
        assert.equal((await store.get('Service/default/a'))?.createRevision, again.revision);
      }),
    );

    void it(
      'lists history newest first with limit and before',
      withStore(async ({ store }) => {
        for (let i = 0; i < 5; i++) await store.apply(change([svc(`s${i}`)], [], `m${i}`));
        assert.deepEqual(
          (await store.history()).map((h) => h.revision),
          [5, 4, 3, 2, 1],
        );
        assert.deepEqual(
          (await store.history({ limit: 2 })).map((h) => [h.revision, h.message]),
          [
            [5, 'm4'],
            [4, 'm3'],
          ],
        );
        assert.deepEqual(
          (await store.history({ before: 3 })).map((h) => h.revision),
          [2, 1],
        );
        assert.deepEqual(await store.history({ limit: 0 }), []);
      }),
    );

    void it(
      'rebuilds the exact state of every revision after a random sequence of changes',
      withStore(async ({ store }, clock) => {
        const rand = prng(42);
        const model = new Map<string, Resource>();
        const expected: Resource[][] = [[]];
        for (let step = 0; step < 40; step++) {
          clock.advance(1000);
          const put: Resource[] = [];
          const del: string[] = [];
          const used = new Set<string>();
          const n = 1 + Math.floor(rand() * 4);
          for (let j = 0; j < n; j++) {
            const name = `s${Math.floor(rand() * 8)}`;
            const key = `Service/default/${name}`;
            if (used.has(key)) continue;
            used.add(key);
            if (model.has(key) && rand() < 0.3) del.push(key);
            else put.push(svc(name, 'default', { v: Math.floor(rand() * 3) }));
          }
          const out = await store.apply(change(put, del));
          for (const k of del) model.delete(k);
          for (const r of put) model.set(resourceKey(r), r);
          if (!out.unchanged) {
            assert.equal(out.revision, expected.length);
            const state = (await store.list()).map(stripRevisions);
            expected.push(state);
          }
          assert.deepEqual(
            (await store.list()).map((r) => [resourceKey(r), r.spec]),
            [...model.keys()].sort().map((k) => [k, model.get(k)!.spec]),
          );
        }
        for (let rev = 0; rev < expected.length; rev++) {
          assert.deepEqual(await store.revisionState(rev), expected[rev], `state at revision ${rev}`);
        }
        const revs = (await store.history({ limit: 1000 })).map((h) => h.revision).reverse();
        assert.deepEqual(
          revs,
          Array.from({ length: expected.length - 1 }, (_, i) => i + 1),
        );
      }),
    );

    void it(
      'rolls back as a new revision whose content equals the old state, timestamps included',
      withStore(async ({ store }, clock) => {
        await store.apply(change([svc('a'), svc('b')]));
        const at1 = await store.revisionState(1);
        clock.advance(5000);
        await store.apply(change([svc('a', 'default', { type: 'X' }), svc('c')], ['Service/default/b']));
        const out = await rollbackStore(store, 1, 'ops', 'rollback to revision 1');
        assert.equal(out.revision, 3);
        assert.equal(out.actor, 'ops');
        assert.equal(out.message, 'rollback to revision 1');
        assert.deepEqual(out.diff, {
          added: ['Service/default/b'],
          changed: ['Service/default/a'],
          deleted: ['Service/default/c'],
        });
        assert.deepEqual(await store.revisionState(3), at1);
        assert.deepEqual((await store.list()).map(stripRevisions), at1);
        const again = await rollbackStore(store, 1, 'ops', 'again');
        assert.equal(again.unchanged, true);
        const empty = await rollbackStore(store, 0, 'ops', 'to empty');
        assert.equal(empty.revision, 4);
        assert.deepEqual(await store.list(), []);
        await rejects(rollbackStore(store, 99, 'ops', 'no'), 'WEFT_STORE_REVISION_NOT_FOUND');
      }),
    );

    void it(
      'delivers past revisions on watch, then new ones, in order; unsubscribe stops delivery',
      withStore(async ({ store }) => {
        await store.apply(change([svc('a')]));
        await store.apply(change([svc('a', 'default', { v: 1 })], []));
        const seen: ChangeEvent[] = [];
        const stop = store.watch(0, (ev) => seen.push(ev));
        assert.deepEqual(
          seen.map((e) => e.revision),
          [1, 2],
        );
        assert.equal(seen[0]!.changes[0]!.type, 'added');
        assert.equal(seen[1]!.changes[0]!.type, 'changed');
        assert.equal(seen[1]!.changes[0]!.resource?.revision, 2);
        assert.equal(seen[1]!.changes[0]!.resource?.createRevision, 1);
        assert.deepEqual(seen[1]!.changes[0]!.previous?.spec, svc('a').spec);

        const late: number[] = [];
        const stopLate = store.watch(2, (ev) => late.push(ev.revision));
        const throwing = store.watch(2, () => {
          throw new Error('watcher bug');
        });
        await store.apply(change([], ['Service/default/a']));
        await store.apply(change([svc('a')])); // re-created after the delete
        await store.apply(change([svc('a')])); // unchanged: no event
        assert.deepEqual(
          seen.map((e) => e.revision),
          [1, 2, 3, 4],
        );
        assert.equal(seen[2]!.changes[0]!.type, 'deleted');
        assert.equal(seen[2]!.changes[0]!.resource, undefined);
        assert.deepEqual(late, [3, 4]);
        stop();
        stopLate();
        throwing();
        await store.apply(change([svc('z')]));
        assert.equal(seen.length, 4);
        assert.deepEqual(late, [3, 4]);
      }),
    );

    void it(
      'hands out frozen objects',
      withStore(async ({ store }) => {
        await store.apply(change([svc('a')]));
        const a = await store.get('Service/default/a');
        assert.ok(a && Object.isFrozen(a) && Object.isFrozen(a.metadata) && Object.isFrozen(a.spec));
        const [s] = await store.revisionState(1);
        assert.ok(s && Object.isFrozen(s.spec));
      }),
    );

    void it(
      'keeps everything across close and reopen',
      withStore(async (s) => {
        if (!s.reopen) return;
        await s.store.apply(change([svc('a'), node('n1')], [], 'one'));
        await s.store.apply(change([svc('b')], ['Service/default/a'], 'two'));
        const before = {
          list: await s.store.list(),
          history: await s.store.history(),
          r1: await s.store.revisionState(1),
        };
        const reopened = await s.reopen();
        assert.deepEqual(await reopened.list(), before.list);
        assert.deepEqual(await reopened.history(), before.history);
        assert.deepEqual(await reopened.revisionState(1), before.r1);
        const out = await reopened.apply(change([svc('c')]));
        assert.equal(out.revision, 3);
      }),
    );

    void it(
      'refuses calls after close',
      withStore(async ({ store }) => {
        await store.close();
        await rejects(store.revision(), 'WEFT_STORE_CLOSED');
        await rejects(store.apply(change([svc('a')])), 'WEFT_STORE_CLOSED');
      }),
    );
  });
}
