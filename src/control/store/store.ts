/**
 * The store: every resource of the mesh, with a revision number per change and the old and new
 * object of every key in every revision, so that the state as of any revision can be rebuilt and a
 * rollback is just another revision. The interface is narrow on purpose (etcd's KV + watch model),
 * so the embedded SQLite backend and an etcd backend pass one conformance suite
 * (store-conformance.ts).
 */
import type { Resource } from '../../api/index.ts';
import type { ApplyOutcome, RevisionInfo, StoredResource } from '../../api/client/index.ts';

export type { ApplyOutcome, RevisionInfo, StoredResource, RevisionDiff } from '../../api/client/index.ts';

/** One atomic change: every put and delete lands in one revision, or none does. */
export interface StoreChange {
  /** Resources to create or replace. Each key (`resourceKey()`) at most once. */
  put: readonly Resource[];
  /** Keys (`kind/namespace/name`) to delete. Each must exist (else WEFT_RESOURCE_NOT_FOUND). */
  delete: readonly string[];
  actor: string;
  message: string;
  /** Compute the outcome and store nothing. */
  dryRun?: boolean;
  /**
   * Keep `metadata.creationTimestamp` as given on newly created keys (rollback restores resources
   * with their original timestamps). Otherwise the store sets it on create and keeps it on update,
   * whatever the caller sent (Kubernetes semantics: the field is server-owned).
   */
  keepCreationTimestamps?: boolean;
}

export interface ResourceChange {
  key: string;
  type: 'added' | 'changed' | 'deleted';
  /** The object after the change (absent for `deleted`). */
  resource?: StoredResource;
  /** The object before the change (absent for `added`). */
  previous?: Resource;
}

/** A committed revision, as delivered to watchers. */
export interface ChangeEvent extends RevisionInfo {
  changes: ResourceChange[];
}

export interface ListFilter {
  kind?: string;
  /** '' selects cluster-scoped resources. */
  namespace?: string;
}

export interface HistoryOptions {
  /** At most this many entries, newest first (default 100). */
  limit?: number;
  /** Only revisions strictly lower than this. */
  before?: number;
}

export interface Store {
  /** The latest committed revision (0 for an empty store). */
  revision(): Promise<number>;
  get(key: string): Promise<StoredResource | undefined>;
  /** Sorted by key. */
  list(filter?: ListFilter): Promise<StoredResource[]>;
  /**
   * Apply one change atomically. A change that alters nothing creates no revision
   * (`unchanged: true`, `revision` = the current one).
   */
  apply(change: StoreChange): Promise<ApplyOutcome>;
  /** Newest first. */
  history(opts?: HistoryOptions): Promise<RevisionInfo[]>;
  /** The full state as of `rev` (0 = empty), sorted by key; WEFT_STORE_REVISION_NOT_FOUND if rev is unknown. */
  revisionState(rev: number): Promise<Resource[]>;
  /**
   * Deliver every committed revision after `fromRevision`, in order: those already stored
   * synchronously before `watch` returns, later ones as they commit. Returns the unsubscribe function.
   */
  watch(fromRevision: number, onChange: (ev: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}
