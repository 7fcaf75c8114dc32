/** The store: resources with revisions, history and watch; SQLite now, etcd later (same contract). */
export { openSqliteStore, storeFile } from './sqlite-store.ts';
export type { SqliteStoreOptions } from './sqlite-store.ts';
export { planRollback, rollbackStore, stripRevisions } from './rollback.ts';
export type { RollbackPlan } from './rollback.ts';
export { canonicalJson } from './canonical.ts';
export type {
  Store,
  StoreChange,
  ResourceChange,
  ChangeEvent,
  ListFilter,
  HistoryOptions,
  ApplyOutcome,
  RevisionInfo,
  StoredResource,
  RevisionDiff,
} from './store.ts';
