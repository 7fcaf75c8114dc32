/**
 * Route filters as pure functions over plain data (Gateway API v1 HTTPRouteFilter): header
 * modification, redirects and URL rewrites. The proxy applies them; the analyser can reason about
 * them with the same code.
 */
import type { HeaderModifier, PathModifier } from '../../api/index.ts';

/** A mutable header record with lower-case names (Node's IncomingHttpHeaders/OutgoingHttpHeaders shape). */
export type HeaderRecord = Record<string, string | string[] | number | undefined>;

/**
 * HTTPHeaderFilter: `set` overwrites, `add` appends to existing values ("my-header: foo" + add "bar,baz"
 * → "my-header: foo,bar,baz"), `remove` deletes. Names are case-insensitive. The spec permits one
 * action per header name, so the order set → add → remove only matters for invalid input.
 * Works for request (RequestHeaderModifier) and response (ResponseHeaderModifier) headers.
 */
export function applyHeaderModifier(headers: HeaderRecord, mod: HeaderModifier): void {
  if (mod.set) for (const h of mod.set) headers[h.name.toLowerCase()] = h.value;
  if (mod.add) {
    for (const h of mod.add) {
      const name = h.name.toLowerCase();
      const cur = headers[name];
      if (cur === undefined) headers[name] = h.value;
      else if (Array.isArray(cur)) headers[name] = [...cur, h.value];
      else headers[name] = `${cur},${h.value}`;
    }
  }
  if (mod.remove) for (const n of mod.remove) delete headers[n.toLowerCase()];
}

/** RequestHeaderModifier (Core). */
export const applyRequestHeaderModifier: (headers: HeaderRecord, mod: HeaderModifier) => void =
  applyHeaderModifier;
/** ResponseHeaderModifier (Extended). */
export const applyResponseHeaderModifier: (headers: HeaderRecord, mod: HeaderModifier) => void =
  applyHeaderModifier;

/**
 * HTTPPathModifier applied to `path` (without query).
 *
 * - ReplaceFullPath: the path becomes the value.
 * - ReplacePrefixMatch: the matched PathPrefix (element-wise, trailing `/` ignored) is replaced; the
 *   spec's table holds: `/foo/bar`,`/foo`,`/xyz` → `/xyz/bar`; `/foo/bar`,`/foo/`,`/xyz/` → `/xyz/bar`;
 *   `/foo/`,`/foo`,`/xyz` → `/xyz/`; `/foo/bar`,`/foo`,`` → `/bar`; `/foo`,`/foo`,`` → `/`;
 *   `/foo/`,`/foo`,`/` → `/`; and for the prefix `/`: `/`,`/`,`/v2` → `/v2`, `/a`,`/`,`/v2` → `/v2/a`. Without a matched prefix, or when `path` does not start with it, the
 *   path is returned unchanged (validation requires exactly one PathPrefix match for this modifier).
 */
export function rewritePath(path: string, matchedPrefix: string | undefined, mod: PathModifier): string {
  if (mod.type === 'ReplaceFullPath') return mod.replaceFullPath;
  if (matchedPrefix === undefined) return path;
  const prefix = trimTrailingSlashes(matchedPrefix);
  if (!path.startsWith(prefix) || (path.length > prefix.length && path.charCodeAt(prefix.length) !== 47)) {
    return path;
  }
  // '' or starts with '/'. For the prefix `/`, the path `/` is the whole match (as `/foo` is for `/foo`).
  const rest = prefix === '' && path === '/' ? '' : path.slice(prefix.length);
  const out = trimTrailingSlashes(mod.replacePrefixMatch) + rest;
  if (out === '') return '/';
  return out.charCodeAt(0) === 47 ? out : `/${out}`;
}

function trimTrailingSlashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 47) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** URLRewrite hostname: replaces the Host header value during forwarding; unchanged when unset. */
export function rewriteHost(host: string, urlRewrite: { hostname?: string }): string {
  return urlRewrite.hostname ?? host;
}

/** What a redirect needs to know about the request. */
export interface RedirectRequest {
  /** Scheme the request arrived with. */
  scheme: 'http' | 'https';
  /** Host header (a port in it is ignored; `port` says which port the request came in on). */
  host: string;
  /** The listener port the request arrived on (the Service port in mesh mode). */
  port: number;
  path: string;
  /** Raw query without `?` ('' when none); kept in the Location. */
  query: string;
}

export interface RequestRedirectFilter {
  scheme?: string;
  hostname?: string;
  path?: PathModifier;
  port?: number;
  statusCode?: number;
}

/**
 * HTTPRequestRedirectFilter → the response status and Location header.
 *
 * - statusCode defaults to 302;
 * - scheme: the request's when unset; hostname: the Host header's (without port) when unset;
 * - path: modified per `rewritePath`, else the request path; the query is kept;
 * - port: `port` when set; else, when `scheme` is set, its well-known port (http 80, https 443); else
 *   the listener port. The port is left out of Location for http:80 and https:443.
 */
export function computeRedirect(
  req: RedirectRequest,
  filter: RequestRedirectFilter,
  matchedPrefix: string | undefined,
): { status: number; location: string } {
  const scheme = filter.scheme ?? req.scheme;
  let host = filter.hostname ?? hostWithoutPort(req.host);
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const port =
    filter.port ??
    (filter.scheme === undefined
      ? req.port
      : filter.scheme === 'https'
        ? 443
        : filter.scheme === 'http'
          ? 80
          : req.port);
  const defaultPort = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const path = filter.path ? rewritePath(req.path, matchedPrefix, filter.path) : req.path;
  const query = req.query === '' ? '' : `?${req.query}`;
  return {
    status: filter.statusCode ?? 302,
    location: `${scheme}://${host}${defaultPort ? '' : `:${port}`}${path}${query}`,
  };
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon !== -1 && host.indexOf(':', colon + 1) === -1 ? host.slice(0, colon) : host;
}
