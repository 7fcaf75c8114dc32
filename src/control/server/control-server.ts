/**
 * The control plane's HTTP API (docs/api.md): JSON over node:http on loopback by default, every
 * route behind the admin bearer token (RFC 6750) except `/v1/healthz` and extra routes that
 * authenticate themselves (node attestation uses the join token).
 *
 * Request lifecycle, in this order: route match → authenticate (before reading the body: an
 * unauthenticated request never reaches the store, nor costs more than its headers) → read and
 * parse the body (size-limited) → handle → one JSON answer. Errors are WeftErrors mapped to a status
 * in one table (`statusOf`); anything else is a 500 that is logged, never a crash.
 *
 * Mutations (apply, delete, rollback) run one at a time: the state the validator checked is the
 * state the change is applied to. Validation is injected (`ResourceValidator`) so this layer does
 * not fix how resources are parsed, and collaborators (status of the push stream, the CA's routes)
 * are injected by the assembly in control-plane.ts.
 */
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Diagnostic, Resource } from '../../api/index.ts';
import { resourceKey } from '../../api/index.ts';
import type { ApiDiagnostic, ApplyResponse, ProxyStatus } from '../../api/client/index.ts';
import type { Logger } from '../../lib/index.ts';
import { WeftError, silentLogger } from '../../lib/index.ts';
import { planRollback, stripRevisions } from '../store/index.ts';
import type { ApplyOutcome, Store } from '../store/index.ts';
import { bearerToken, tokensEqual } from './token.ts';

/** Default request body limit: 16 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** How resources are validated; the assembly passes the api layer's parser and checker. */
export interface ResourceValidator {
  /** Validate one raw object; `index` is its position in the request (for messages). */
  parseObject(raw: unknown, index: number): { resource?: Resource; diagnostics: Diagnostic[] };
  /** Cross-resource checks over the whole state that would result from a change. */
  checkAll(resources: readonly Resource[]): Diagnostic[];
}

/** What an extra route gets: the request, already authenticated when `auth` is `admin`. */
export interface RouteRequest {
  method: string;
  /** Values of the `{name}` segments of the route's path, decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when there is none). */
  body: unknown;
  /** `actor` of the body, else `X-Weft-Actor`, else `admin`. */
  actor: string;
  remoteAddress: string | undefined;
}

export interface RouteResult {
  /** Default 200. */
  status?: number;
  body: unknown;
}

/**
 * A route the assembly mounts (e.g. `POST /v1/nodes/{name}/attest` from the CA). Throw a WeftError
 * to answer with an error; set `detail.httpStatus` on it to choose the status (else the table in
 * this file, else 500).
 */
export interface ExtraRoute {
  method: string;
  /** Path with `{param}` segments, e.g. `/v1/nodes/{name}/attest`. */
  path: string;
  /** `admin` (default): requires the admin bearer token. `none`: the handler authenticates itself. */
  auth?: 'admin' | 'none';
  handle(req: RouteRequest): RouteResult | Promise<RouteResult>;
}

export interface ControlServerOptions {
  store: Store;
  /** The admin bearer token (see loadOrCreateToken). */
  token: string;
  validator: ResourceValidator;
  /** Per-proxy push status for `GET /v1/status` (default: no proxies). */
  statusProvider?: () => ProxyStatus[] | Promise<ProxyStatus[]>;
  extraRoutes?: readonly ExtraRoute[];
  logger?: Logger;
  maxBodyBytes?: number;
}

export interface ListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

export interface RunningControlServer {
  /** `http://host:port` */
  url: string;
  host: string;
  port: number;
  server: Server;
  /** Stop listening and close every connection. */
  close(): Promise<void>;
}

const STATUS_BY_CODE: Record<string, number> = {
  WEFT_API_BAD_REQUEST: 400,
  WEFT_API_UNAUTHORIZED: 401,
  WEFT_API_NOT_FOUND: 404,
  WEFT_RESOURCE_NOT_FOUND: 404,
  WEFT_STORE_REVISION_NOT_FOUND: 404,
  WEFT_API_METHOD_NOT_ALLOWED: 405,
  WEFT_API_BODY_TOO_LARGE: 413,
  WEFT_VALIDATION_FAILED: 422,
  WEFT_STORE_INVALID_CHANGE: 422,
  WEFT_STORE_INVALID_RESOURCE: 422,
  WEFT_STORE_CLOSED: 503,
};

/** The HTTP status for an error (the one place where error codes become statuses). */
export function statusOf(err: unknown): number {
  if (err instanceof WeftError) {
    const s = err.detail?.httpStatus;
    if (typeof s === 'number' && s >= 400 && s <= 599) return s;
    return STATUS_BY_CODE[err.code] ?? 500;
  }
  return 500;
}

interface Route {
  method: string;
  segments: string[];
  auth: 'admin' | 'none';
  /** Whether to read a JSON body. */
  body: boolean;
  handle(req: RouteRequest): RouteResult | Promise<RouteResult>;
}

function compile(method: string, path: string, auth: 'admin' | 'none', handle: Route['handle']): Route {
  const m = method.toUpperCase();
  return {
    method: m,
    segments: path.split('/').filter(Boolean),
    auth,
    body: m !== 'GET' && m !== 'HEAD',
    handle,
  };
}

function match(route: Route, parts: readonly string[]): Record<string, string> | undefined {
  if (route.segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = route.segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith('{') && seg.endsWith('}')) params[seg.slice(1, -1)] = part;
    else if (seg !== part) return undefined;
  }
  return params;
}

const bad = (message: string, detail?: Record<string, unknown>) =>
  new WeftError('WEFT_API_BAD_REQUEST', message, detail ? { detail } : undefined);

function asObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad('the request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function optString(o: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max || /[\x00-\x08\x0b-\x1f\x7f]/.test(v)) {
    throw bad(`${field} must be a string of at most ${max} characters without control characters`);
  }
  return v;
}

function intParam(
  value: string | null | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw bad(`${name} must be an integer from ${min} to ${max}, not "${value}"`);
  }
  return Number(value);
}

const ACTOR_RE = /^[^\x00-\x1f\x7f]{1,128}$/;

function actorOf(headers: IncomingHttpHeaders, body: unknown): string {
  const fromBody =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as Record<string, unknown>).actor
      : undefined;
  const header = headers['x-weft-actor'];
  const actor = fromBody ?? (typeof header === 'string' ? header : undefined) ?? 'admin';
  if (typeof actor !== 'string' || !ACTOR_RE.test(actor)) {
    throw bad(
      'actor (body field or X-Weft-Actor header) must be 1-128 characters without control characters',
    );
  }
  return actor;
}

function failed(message: string, diagnostics: ApiDiagnostic[]): WeftError {
  return new WeftError('WEFT_VALIDATION_FAILED', message, { detail: { diagnostics } });
}

const errorsOf = (ds: readonly ApiDiagnostic[]) => ds.filter((d) => d.severity === 'error');

function summary(ds: readonly ApiDiagnostic[]): string {
  const first = ds[0];
  const where = first?.document !== undefined ? `resources[${first.document}]` : 'resulting state';
  const more = ds.length > 1 ? ` (and ${ds.length - 1} more)` : '';
  return first
    ? `validation failed, nothing was changed: ${where}: ${first.path ? `${first.path}: ` : ''}${first.message}${more}`
    : 'validation failed, nothing was changed';
}

/**
 * The store keeps cluster-scoped resources with namespace '' and GET returns them so; a manifest
 * leaves the field out. Accept both, so what GET returned can be POSTed back unchanged.
 */
function withoutEmptyNamespace(obj: unknown): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const meta = (obj as { metadata?: unknown }).metadata;
  if (meta === null || typeof meta !== 'object' || (meta as { namespace?: unknown }).namespace !== '')
    return obj;
  const { namespace: _ns, ...rest } = meta as Record<string, unknown>;
  return { ...obj, metadata: rest };
}

/** The request handler, for mounting on a server the caller owns. */
export function createControlHandler(
  options: ControlServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, validator } = options;
  const log = options.logger ?? silentLogger;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let queue: Promise<unknown> = Promise.resolve();
  /** Run mutations one after another (a failure does not block the next). */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const logChange = (what: string, out: ApplyOutcome) => {
    if (out.unchanged || out.dryRun) return;
    log.info(what, {
      revision: out.revision,
      actor: out.actor,
      added: out.diff.added.length,
      changed: out.diff.changed.length,
      deleted: out.diff.deleted.length,
    });
  };

  const currentState = async (): Promise<Map<string, Resource>> =>
    new Map((await store.list()).map((r) => [resourceKey(r), stripRevisions(r)]));

  const checkState = (state: Iterable<Resource>): ApiDiagnostic[] => {
    const ds = validator.checkAll([...state]);
    const errors = errorsOf(ds);
    if (errors.length > 0) throw failed(summary(errors), ds);
    return ds.filter((d) => d.severity !== 'error');
  };

  const apply = async (req: RouteRequest): Promise<RouteResult> => {
    const body = asObject(req.body);
    const raw = body.resources;
    if (!Array.isArray(raw) || raw.length === 0)
      throw bad('resources must be a non-empty list of resource objects');
    const message = optString(body, 'message', 4096) ?? 'apply';
    const dryRun = body.dryRun ?? false;
    if (typeof dryRun !== 'boolean') throw bad('dryRun must be true or false');
    const diagnostics: ApiDiagnostic[] = [];
    const parsed: Resource[] = [];
    const seen = new Map<string, number>();
    raw.forEach((obj, i) => {
      const out = validator.parseObject(withoutEmptyNamespace(obj), i);
      for (const d of out.diagnostics) diagnostics.push({ ...d, document: i });
      if (!out.resource) return;
      const key = resourceKey(out.resource);
      const first = seen.get(key);
      if (first !== undefined) {
        diagnostics.push({
          severity: 'error',
          code: 'WEFT_API_DUPLICATE_RESOURCE',
          path: 'metadata.name',
          message: `${key} is also resources[${first}]; each resource may appear once per apply`,
          document: i,
        });
        return;
      }
      seen.set(key, i);
      parsed.push(out.resource);
    });
    if (errorsOf(diagnostics).length > 0) throw failed(summary(errorsOf(diagnostics)), diagnostics);
    return serial(async () => {
      const state = await currentState();
      for (const r of parsed) state.set(resourceKey(r), r);
      const warnings = [...diagnostics, ...checkState(state.values())];
      const out = await store.apply({ put: parsed, delete: [], actor: req.actor, message, dryRun });
      logChange('applied', out);
      return { body: { ...out, warnings } satisfies ApplyResponse };
    });
  };

  const del = async (req: RouteRequest): Promise<RouteResult> => {
    const body = asObject(req.body);
    const keys = body.keys;
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) {
      throw bad('keys must be a non-empty list of resource keys (kind/namespace/name)');
    }
    if (new Set(keys).size !== keys.length) throw bad('keys must not repeat a key');
    const message = optString(body, 'message', 4096) ?? 'delete';
    return serial(async () => {
      const state = await currentState();
      const missing = (keys as string[]).filter((k) => !state.has(k));
      if (missing.length > 0) {
        throw new WeftError(
          'WEFT_RESOURCE_NOT_FOUND',
          `${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist; nothing was deleted`,
          { detail: { keys: missing } },
        );
      }
      for (const k of keys as string[]) state.delete(k);
      const warnings = checkState(state.values());
      const out = await store.apply({ put: [], delete: keys as string[], actor: req.actor, message });
      logChange('deleted', out);
      return { body: { ...out, warnings } satisfies ApplyResponse };
    });
  };

  const rollback = async (req: RouteRequest): Promise<RouteResult> => {
    const body = asObject(req.body);
    const rev = body.revision;
    if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0) {
      throw bad('revision must be a revision number (0 or more; see GET /v1/history)');
    }
    const message = optString(body, 'message', 4096) ?? `rollback to revision ${rev}`;
    return serial(async () => {
      const plan = await planRollback(store, rev);
      const warnings = checkState(plan.target);
      const out = await store.apply({
        put: plan.put,
        delete: plan.delete,
        actor: req.actor,
        message,
        keepCreationTimestamps: true,
      });
      logChange('rolled back', out);
      return { body: { ...out, warnings } satisfies ApplyResponse };
    });
  };

  const routes: Route[] = [
    compile('GET', '/v1/healthz', 'none', () => ({ body: { ok: true } })),
    compile('GET', '/v1/resources', 'admin', async ({ query }) => {
      const kind = query.get('kind') || undefined;
      const ns = query.get('namespace');
      const namespace = ns === null || ns === '' ? undefined : ns === '_' ? '' : ns;
      const revision = await store.revision();
      const items = await store.list({
        ...(kind !== undefined ? { kind } : {}),
        ...(namespace !== undefined ? { namespace } : {}),
      });
      return { body: { revision, items } };
    }),
    compile('GET', '/v1/resources/{kind}/{namespace}/{name}', 'admin', async ({ params }) => {
      const ns = params.namespace === '_' ? '' : params.namespace!;
      const key = `${params.kind}/${ns}/${params.name}`;
      const r = await store.get(key);
      if (!r) {
        throw new WeftError(
          'WEFT_RESOURCE_NOT_FOUND',
          `${params.kind} "${params.name}" not found${ns ? ` in namespace "${ns}"` : ''}`,
          { detail: { key } },
        );
      }
      return { body: r };
    }),
    compile('POST', '/v1/apply', 'admin', apply),
    compile('POST', '/v1/delete', 'admin', del),
    compile('GET', '/v1/history', 'admin', async ({ query }) => {
      const limit = intParam(query.get('limit'), 'limit', 1, 10_000);
      const before = intParam(query.get('before'), 'before', 1, Number.MAX_SAFE_INTEGER);
      const revisions = await store.history({
        ...(limit !== undefined ? { limit } : {}),
        ...(before !== undefined ? { before } : {}),
      });
      return { body: { revisions } };
    }),
    compile('GET', '/v1/revisions/{rev}', 'admin', async ({ params }) => {
      const revision = intParam(params.rev, 'revision', 0, Number.MAX_SAFE_INTEGER)!;
      return { body: { revision, resources: await store.revisionState(revision) } };
    }),
    compile('POST', '/v1/rollback', 'admin', rollback),
    compile('GET', '/v1/status', 'admin', async () => {
      const revision = await store.revision();
      const proxies = options.statusProvider ? await options.statusProvider() : [];
      return { body: { revision, proxies } };
    }),
    ...(options.extraRoutes ?? []).map((r) =>
      compile(r.method, r.path, r.auth ?? 'admin', (q) => r.handle(q)),
    ),
  ];

  const send = (res: ServerResponse, status: number, body: unknown, close = false) => {
    if (res.headersSent) return;
    const text = JSON.stringify(body) + '\n';
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...(close ? { connection: 'close' } : {}),
    });
    res.end(text);
  };

  const sendError = (res: ServerResponse, err: unknown, close = false) => {
    const status = statusOf(err);
    if (err instanceof WeftError && status < 500) {
      const { httpStatus: _s, ...detail } = err.detail ?? {};
      send(res, status, { ...detail, error: err.message, code: err.code }, close);
      return;
    }
    log.error('request failed', { err });
    const message =
      err instanceof WeftError ? err.message : 'internal error in the control plane; see its log for details';
    const code = err instanceof WeftError ? err.code : 'WEFT_API_INTERNAL';
    send(res, status, { error: message, code }, close);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://control.invalid');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw bad('the request path is not valid percent-encoding');
    }
    const candidates = routes.map((r) => ({ r, params: match(r, parts) })).filter((c) => c.params);
    const method = (req.method ?? 'GET').toUpperCase();
    const hit = candidates.find((c) => c.r.method === method);
    if (!hit) {
      if (candidates.length > 0) {
        res.setHeader('allow', [...new Set(candidates.map((c) => c.r.method))].join(', '));
        throw new WeftError('WEFT_API_METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`);
      }
      throw new WeftError('WEFT_API_NOT_FOUND', `no API route ${method} ${url.pathname}; see docs/api.md`);
    }
    if (hit.r.auth === 'admin') {
      const presented = bearerToken(req.headers.authorization);
      if (presented === undefined || !tokensEqual(presented, options.token)) {
        res.setHeader('www-authenticate', 'Bearer realm="weft"');
        throw new WeftError(
          'WEFT_API_UNAUTHORIZED',
          presented === undefined
            ? 'missing "Authorization: Bearer <token>" header; the admin token is in <state-dir>/token'
            : 'the bearer token is not valid for this control plane; use the one in its <state-dir>/token',
        );
      }
    }
    const body = hit.r.body ? await readJson(req, maxBody) : undefined;
    const routeReq: RouteRequest = {
      method,
      params: hit.params!,
      query: url.searchParams,
      headers: req.headers,
      body,
      actor: actorOf(req.headers, body),
      remoteAddress: req.socket.remoteAddress,
    };
    const result = await hit.r.handle(routeReq);
    send(res, result.status ?? 200, result.body);
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // The request body may be unread (401, 413): close the connection rather than drain it.
      const unread = !req.readableEnded;
      sendError(res, err, unread);
      if (unread) res.once('finish', () => req.destroy());
    });
  };
}

/** Read a JSON body of at most `max` bytes. Empty body → undefined. */
async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const tooLarge = () =>
    new WeftError(
      'WEFT_API_BODY_TOO_LARGE',
      `the request body is larger than ${max} bytes; split the change into smaller applies`,
      { detail: { limit: max } },
    );
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw tooLarge();
  // Events rather than for-await: leaving a for-await loop destroys the socket, and the client
  // would never see the 413.
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw bad(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Listen on `host:port` (default 127.0.0.1:0) and serve the API. */
export async function startControlServer(
  options: ControlServerOptions & ListenOptions,
): Promise<RunningControlServer> {
  const server = createServer(createControlHandler(options));
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
