/**
 * The JSON shapes of the control-plane HTTP API (docs/api.md). They live in the api layer because
 * both ends use them: the server in src/control/server and the typed client next to this file. The
 * store in src/control/store returns the same shapes, so nothing is converted between store and wire.
 */
import type { Diagnostic, Resource } from '../resource.ts';

/** A resource as stored: the resource plus its last-modified and created revisions. */
export interface StoredResource extends Resource {
  /** The revision that last changed this resource (etcd's mod_revision). */
  revision: number;
  /** The revision that created it (etcd's create_revision). */
  createRevision: number;
}

/** Resource keys (`kind/namespace/name`) touched by one revision, each list sorted. */
export interface RevisionDiff {
  added: string[];
  changed: string[];
  deleted: string[];
}

/** One entry of the audit trail. */
export interface RevisionInfo {
  revision: number;
  /** RFC 3339 time of the change. */
  time: string;
  /** Who made the change (`X-Weft-Actor` or the request's `actor`; default `admin`). */
  actor: string;
  message: string;
  diff: RevisionDiff;
}

/**
 * The result of an apply, delete or rollback. `unchanged`: nothing differed, no revision was created
 * and `revision` is the current one. `dryRun`: nothing was stored, `revision` is the one it would get.
 */
export interface ApplyOutcome extends RevisionInfo {
  unchanged: boolean;
  dryRun: boolean;
}

/** What the server answers to apply/delete/rollback: the outcome plus validator warnings. */
export interface ApplyResponse extends ApplyOutcome {
  warnings: ApiDiagnostic[];
}

/** A diagnostic from the server; `document` is the index in the request's `resources` list. */
export interface ApiDiagnostic extends Diagnostic {
  document?: number;
}

export interface ListResponse {
  /** The store revision the list was read at. */
  revision: number;
  items: StoredResource[];
}

export interface RevisionStateResponse {
  revision: number;
  /** Every resource as it was at `revision`, sorted by key. */
  resources: Resource[];
}

/** Config-push state of one node proxy, as the push stream sees it. */
export interface ProxyStatus {
  node: string;
  connected: boolean;
  /** Snapshot version the proxy last ACKed ('' when none). */
  ackedVersion: string;
  /** Snapshot version the control plane wants it to run. */
  latestVersion: string;
  /** The last NACK, if the proxy rejected a snapshot. */
  lastNack: { version: string; message: string; time: string } | null;
  /** RFC 3339 time since `connected` has had its current value. */
  since: string;
}

export interface StatusResponse {
  revision: number;
  proxies: ProxyStatus[];
}

/** Every error response: `{error, code, ...}`; validation failures add `diagnostics`. */
export interface ErrorBody {
  error: string;
  code: string;
  diagnostics?: ApiDiagnostic[];
  [extra: string]: unknown;
}

export interface HistoryResponse {
  revisions: RevisionInfo[];
}
