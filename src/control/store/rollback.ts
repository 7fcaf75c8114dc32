/**
 * Rollback as a change: the puts and deletes that turn the current state into the state as of an
 * earlier revision. Applied with `keepCreationTimestamps`, the new revision's content equals
 * `revisionState(rev)` exactly (the store's contract; the conformance suite checks it). Written
 * against the Store interface so every backend gets the same rollback.
 */
import type { Resource } from '../../api/index.ts';
import { resourceKey } from '../../api/index.ts';
import { canonicalJson } from './canonical.ts';
import type { ApplyOutcome, Store } from './store.ts';

export interface RollbackPlan {
  /** The state the rollback restores. */
  target: Resource[];
  put: Resource[];
  delete: string[];
}

export async function planRollback(store: Store, rev: number): Promise<RollbackPlan> {
  const target = await store.revisionState(rev);
  const current = new Map((await store.list()).map((r) => [resourceKey(r), stripRevisions(r)]));
  const put: Resource[] = [];
  const keep = new Set<string>();
  for (const r of target) {
    const key = resourceKey(r);
    keep.add(key);
    const now = current.get(key);
    if (!now || canonicalJson(now) !== canonicalJson(r)) put.push(r);
  }
  const del = [...current.keys()].filter((k) => !keep.has(k)).sort();
  return { target, put, delete: del };
}

/** Roll the store back to `rev` as a new revision recorded with `actor` and `message`. */
export async function rollbackStore(
  store: Store,
  rev: number,
  actor: string,
  message: string,
): Promise<ApplyOutcome> {
  const plan = await planRollback(store, rev);
  return store.apply({ put: plan.put, delete: plan.delete, actor, message, keepCreationTimestamps: true });
}

/** The resource without the store's bookkeeping fields (revision, createRevision). */
export function stripRevisions(r: Resource): Resource {
  const {
    revision: _r,
    createRevision: _c,
    ...rest
  } = r as Resource & {
    revision?: number;
    createRevision?: number;
  };
  return rest;
}
