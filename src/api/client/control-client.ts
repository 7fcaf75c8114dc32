/**
 * The typed client of the control-plane HTTP API (docs/api.md): what the CLI, the runtime and
 * agents use to change and read the mesh. Pure fetch, no files or environment: finding the server
 * and its token is the caller's business (src/cli/client-config.ts). A server error becomes a
 * WeftError with the server's code and message, so callers handle local and remote errors alike.
 */
import { WeftError, errorMessage } from '../../lib/index.ts';
import type {
  ApiDiagnostic,
  ApplyResponse,
  ErrorBody,
  HistoryResponse,
  ListResponse,
  RevisionInfo,
  RevisionStateResponse,
  StatusResponse,
  StoredResource,
} from './types.ts';

export interface ControlClientOptions {
  /** e.g. `http://127.0.0.1:7443` (a trailing slash is ignored). */
  baseUrl: string;
  /** The admin bearer token. */
  token: string;
  /** Recorded with every change (`X-Weft-Actor`); the server defaults to `admin`. */
  actor?: string;
  /** Per-request timeout in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface ChangeOptions {
  message?: string;
}

/** Cluster-scoped resources have namespace '' which the URL spells `_`. */
function nsSegment(namespace: string): string {
  return namespace === '' ? '_' : encodeURIComponent(namespace);
}

export class ControlClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #actor: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ControlClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#actor = options.actor;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Validate and apply raw resource objects atomically (all or none). */
  apply(
    resources: readonly unknown[],
    opts: ChangeOptions & { dryRun?: boolean } = {},
  ): Promise<ApplyResponse> {
    return this.#call('POST', '/v1/apply', { resources, ...opts });
  }

  /** One resource, or undefined when it does not exist. */
  async get(kind: string, namespace: string, name: string): Promise<StoredResource | undefined> {
    const path = `/v1/resources/${encodeURIComponent(kind)}/${nsSegment(namespace)}/${encodeURIComponent(name)}`;
    try {
      return await this.#call<StoredResource>('GET', path);
    } catch (err) {
      if (err instanceof WeftError && err.code === 'WEFT_RESOURCE_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** Resources sorted by key; `namespace: ''` selects cluster-scoped ones. */
  list(filter: { kind?: string; namespace?: string } = {}): Promise<ListResponse> {
    const q = new URLSearchParams();
    if (filter.kind !== undefined) q.set('kind', filter.kind);
    if (filter.namespace !== undefined) q.set('namespace', filter.namespace === '' ? '_' : filter.namespace);
    const qs = q.toString();
    return this.#call('GET', `/v1/resources${qs ? `?${qs}` : ''}`);
  }

  /** Delete by key (`kind/namespace/name`), atomically; every key must exist. */
  delete(keys: readonly string[], opts: ChangeOptions = {}): Promise<ApplyResponse> {
    return this.#call('POST', '/v1/delete', { keys, ...opts });
  }

  /** Newest first. */
  async history(opts: { limit?: number; before?: number } = {}): Promise<RevisionInfo[]> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.before !== undefined) q.set('before', String(opts.before));
    const qs = q.toString();
    const res = await this.#call<HistoryResponse>('GET', `/v1/history${qs ? `?${qs}` : ''}`);
    return res.revisions;
  }

  /** The full state as of `rev`. */
  revision(rev: number): Promise<RevisionStateResponse> {
    return this.#call('GET', `/v1/revisions/${encodeURIComponent(String(rev))}`);
  }

  /** Restore the state of revision `rev` as a new revision. */
  rollback(rev: number, opts: ChangeOptions = {}): Promise<ApplyResponse> {
    return this.#call('POST', '/v1/rollback', { revision: rev, ...opts });
  }

  status(): Promise<StatusResponse> {
    return this.#call('GET', '/v1/status');
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#token}`,
      accept: 'application/json',
    };
    if (this.#actor) headers['x-weft-actor'] = this.#actor;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err);
      throw new WeftError(
        'WEFT_CLIENT_UNREACHABLE',
        `cannot reach the control plane at ${this.baseUrl} (${cause}); is it running? Start it with \`weft control\` or \`weft up\`, or check --server`,
        { cause: err, detail: { url } },
      );
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined) {
        throw new WeftError(
          'WEFT_CLIENT_BAD_RESPONSE',
          `the server at ${this.baseUrl} answered ${method} ${path} with ${res.status} but no JSON; is --server pointing at a Weft control plane?`,
        );
      }
      return parsed as T;
    }
    const eb = parsed as Partial<ErrorBody> | undefined;
    if (eb && typeof eb.code === 'string' && typeof eb.error === 'string') {
      const detail: Record<string, unknown> = { status: res.status };
      for (const [k, v] of Object.entries(eb)) if (k !== 'error' && k !== 'code') detail[k] = v;
      throw new WeftError(eb.code, eb.error, { detail });
    }
    throw new WeftError(
      'WEFT_CLIENT_BAD_RESPONSE',
      `the server at ${this.baseUrl} answered ${method} ${path} with ${res.status} ${res.statusText}; is --server pointing at a Weft control plane?`,
      { detail: { status: res.status } },
    );
  }
}

/** The diagnostics a WEFT_VALIDATION_FAILED error carries (empty for other errors). */
export function errorDiagnostics(err: unknown): ApiDiagnostic[] {
  if (!(err instanceof WeftError)) return [];
  const d = err.detail?.diagnostics;
  return Array.isArray(d) ? (d as ApiDiagnostic[]) : [];
}
