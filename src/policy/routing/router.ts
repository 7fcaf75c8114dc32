/**
 * The route matcher: which rule of which HTTPRoute/GRPCRoute a request to one Service port takes.
 *
 * It is the one evaluation engine shared by the proxy (enforcement) and the policy analyser
 * (reasoning), so it is pure and exact. Everything that does not depend on the request is done in
 * `compileRouter`: routes attached to the target are selected, regexes compiled, every
 * (route, rule, match) is sorted once by the Gateway API's precedence and indexed by its leading path
 * segments. `match()` walks the index along the request path and returns the highest-precedence
 * candidate whose conditions hold — no closures, no regex construction, no per-request objects beyond
 * the path-segment strings of the walk.
 *
 * Precedence, HTTPRoute (Gateway API v1, HTTPRouteRule.matches): "Across all rules specified on
 * applicable Routes, precedence must be given to the match having: "Exact" path match; "Prefix" path
 * match with largest number of characters; Method match; Largest number of header matches; Largest
 * number of query param matches. [...] If ties still exist across multiple Routes [...]: The oldest
 * Route based on creation timestamp; The Route appearing first in alphabetical order by
 * {namespace}/{name}. If ties still exist within an HTTPRoute, matching precedence MUST be granted to
 * the FIRST matching rule (in list order)". RegularExpression path matches are implementation-specific;
 * Weft ranks them below every Exact and PathPrefix match (as Istio does), with no order among regexes.
 * A match without `path` is the spec's default, PathPrefix `/`.
 *
 * Precedence, GRPCRoute (GRPCRouteRule.matches): largest number of characters in a matching
 * non-wildcard hostname; in a matching hostname; in a matching service; in a matching method; header
 * matches; then the same route-age/name/rule-order ties. A RegularExpression service or method counts
 * 0 characters. A rule without matches matches every request.
 *
 * Hostnames (HTTPRouteSpec.hostnames) come first for both kinds: among routes whose hostnames match
 * the request, the ones with the most specific hostname win; Weft treats this as the leading key of
 * the precedence order, so a request falls back to a less specific hostname's route when no rule of
 * the more specific one matches. In mesh mode (GAMMA) hostnames are usually empty and match every host.
 *
 * HTTPRoute and GRPCRoute are never merged ("Merging MUST not be done between GRPCRoutes and
 * HTTPRoutes"); when both kinds attach with intersecting hostnames, exactly one is accepted: the
 * oldest, then first by namespace/name (GRPCRouteSpec.hostnames). The other is listed in `rejected`.
 *
 * The proxy passes a normalized path (percent-decoding of unreserved characters, dot segments and
 * duplicate slashes resolved) without the query; matching is case-sensitive on the path.
 */
import type { RouteEntry, RouteMatch, RouteRule } from '../../api/index.ts';
import { compileBackends } from './backends.ts';
import type { WeightedBackends } from './backends.ts';
import { hostnameScore, hostnamesIntersect, normalizeHost } from './hostname.ts';
import { compileRe2 } from './regex.ts';

/** What the matcher needs of a request. `header(name)` takes a lower-case name. */
export interface RouteRequest {
  method: string;
  /** Path without the query, normalized by the proxy. */
  path: string;
  /** Raw query without the leading `?` ('' when none). */
  query: string;
  /** Host header (or :authority); a port is ignored. */
  host: string;
  header(name: string): string | undefined;
}

/** The Service port a router serves. */
export interface RouteTarget {
  namespace: string;
  name: string;
  port: number;
}

/** The chosen rule. Objects are created at compile time and shared between requests (frozen). */
export interface RouteMatchResult {
  readonly route: RouteEntry;
  readonly ruleIndex: number;
  readonly rule: RouteRule;
  /** Index into `rule.matches`; -1 when the rule has no matches (the default match). */
  readonly matchIndex: number;
  readonly match: RouteMatch | undefined;
  /** The PathPrefix value (as written) when the match is a PathPrefix match, for ReplacePrefixMatch. */
  readonly matchedPrefix: string | undefined;
  /** The rule's backends with precomputed cumulative weights (see pickWeighted). */
  readonly backends: WeightedBackends;
}

export interface Router {
  readonly target: RouteTarget;
  /** False when no route attaches to the target: the proxy sends traffic to the Service itself. */
  readonly hasRoutes: boolean;
  /** The routes in effect, sorted by age then namespace/name. */
  readonly routes: readonly RouteEntry[];
  /** Routes that attach to the target but were not accepted, with the reason. */
  readonly rejected: readonly { route: RouteEntry; reason: string }[];
  /** Every candidate in static precedence order (hostname precedence is applied per request). */
  readonly order: readonly RouteMatchResult[];
  /**
   * The highest-precedence rule whose match holds, or undefined. When `hasRoutes` is true, undefined
   * means 404 (HTTPRouteRule: "When no rules matching a request have been successfully attached to
   * the parent a request is coming from, a HTTP 404 status code MUST be returned").
   */
  match(req: RouteRequest): RouteMatchResult | undefined;
}

const PATH_NONE = 0;
const PATH_EXACT = 1;
const PATH_PREFIX = 2;
const PATH_REGEX = 3;

interface NameValueMatcher {
  name: string;
  exact: string | undefined;
  re: RegExp | undefined;
}

interface CompiledMatch {
  routeIndex: number;
  grpcKind: boolean;
  pathKind: number;
  /** Exact value, or prefix without trailing slash ('' for `/`). */
  pathValue: string;
  pathRe: RegExp | undefined;
  method: string | undefined;
  headers: NameValueMatcher[];
  query: NameValueMatcher[];
  hasGrpcMethod: boolean;
  svcExact: string | undefined;
  methodExact: string | undefined;
  svcRe: RegExp | undefined;
  methodRe: RegExp | undefined;
  /** Static precedence, compared lexicographically, larger first. */
  rank: number[];
  created: number;
  key: string;
  ruleIndex: number;
  matchIndex: number;
  /** Position in the static precedence order (smaller first). */
  ordinal: number;
  /** Path segments every matching request path starts with (the index key); [] when unconstrained. */
  segments: string[];
  result: RouteMatchResult;
}

/**
 * Candidates indexed by leading path segments: an Exact or PathPrefix match (and a gRPC match with an
 * exact service) can only hold for paths whose first segments equal its own, since PathPrefix matches
 * whole path elements. A request walks down the trie along its own segments and only looks at the
 * candidates on that walk, each list in precedence order.
 */
interface TrieNode {
  children: Map<string, TrieNode> | undefined;
  list: CompiledMatch[];
}

/** Whether a parent reference attaches the route to the target (no port: every port). */
function attaches(route: RouteEntry, t: RouteTarget): boolean {
  for (const p of route.parents) {
    if (p.namespace === t.namespace && p.name === t.name && (p.port === undefined || p.port === t.port))
      return true;
  }
  return false;
}

function createdMs(route: RouteEntry): number {
  const ms = Date.parse(route.creationTimestamp);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

function routeKey(r: RouteEntry): string {
  return `${r.namespace}/${r.name}`;
}

function compareRoutes(a: RouteEntry, b: RouteEntry): number {
  const ta = createdMs(a);
  const tb = createdMs(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = routeKey(a);
  const kb = routeKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Compile the routes that attach to `target` into a Router. Throws WEFT_ROUTE_REGEX_INVALID when a
 * regular expression does not compile (the config is rejected whole, never half-applied).
 */
export function compileRouter(routes: readonly RouteEntry[], target: RouteTarget): Router {
  const attached = routes.filter((r) => attaches(r, target)).sort(compareRoutes);
  const accepted: RouteEntry[] = [];
  const rejected: { route: RouteEntry; reason: string }[] = [];
  for (const r of attached) {
    const clash = accepted.find((a) => a.kind !== r.kind && hostnamesIntersect(a.hostnames, r.hostnames));
    if (clash) {
      rejected.push({
        route: r,
        reason:
          `${r.kind} ${routeKey(r)} and ${clash.kind} ${routeKey(clash)} attach to the same Service port ` +
          `with intersecting hostnames; the older route (${routeKey(clash)}) is kept`,
      });
    } else {
      accepted.push(r);
    }
  }

  const compiled: CompiledMatch[] = [];
  for (let ri = 0; ri < accepted.length; ri++) {
    const route = accepted[ri]!;
    for (let ui = 0; ui < route.rules.length; ui++) {
      const rule = route.rules[ui]!;
      const backends = compileBackends(rule.backendRefs);
      if (rule.matches.length === 0) {
        compiled.push(compileMatch(route, ri, rule, ui, -1, undefined, backends));
      } else {
        for (let mi = 0; mi < rule.matches.length; mi++) {
          compiled.push(compileMatch(route, ri, rule, ui, mi, rule.matches[mi], backends));
        }
      }
    }
  }
  compiled.sort(compareCompiled);
  const root: TrieNode = { children: undefined, list: [] };
  for (let i = 0; i < compiled.length; i++) {
    const c = compiled[i]!;
    c.ordinal = i;
    let node = root;
    for (const seg of c.segments) {
      node.children ??= new Map();
      let next = node.children.get(seg);
      if (next === undefined) {
        next = { children: undefined, list: [] };
        node.children.set(seg, next);
      }
      node = next;
    }
    node.list.push(c);
  }

  const hostnameLists = accepted.map((r) => r.hostnames.map((h) => h.toLowerCase()));
  const anyHostnames = hostnameLists.some((h) => h.length > 0);
  const scores = new Int32Array(accepted.length);
  const order = Object.freeze(compiled.map((c) => c.result));

  const match = (req: RouteRequest): RouteMatchResult | undefined => {
    let maxScore = 0;
    if (anyHostnames) {
      const host = normalizeHost(req.host);
      maxScore = -1;
      for (let i = 0; i < hostnameLists.length; i++) {
        const s = hostnameScore(hostnameLists[i]!, host);
        scores[i] = s;
        if (s > maxScore) maxScore = s;
      }
      if (maxScore < 0) return undefined;
    }
    // Walk the trie along the request path's segments; in each list keep the best candidate that
    // holds: the highest hostname score, then the smallest ordinal (static precedence).
    const path = req.path;
    let best: CompiledMatch | undefined;
    let bestScore = -1;
    let node: TrieNode | undefined = root;
    let start = 1;
    for (let depth = 0; node !== undefined && depth <= path.length; depth++) {
      const list = node.list;
      for (let i = 0; i < list.length; i++) {
        const c = list[i]!;
        const s = anyHostnames ? scores[c.routeIndex]! : 0;
        if (s < bestScore || (best !== undefined && s === bestScore && c.ordinal > best.ordinal)) {
          if (!anyHostnames) break; // lists are in ordinal order: nothing later can win
          continue;
        }
        if (s < 0 || !matches(c, req)) continue;
        best = c;
        bestScore = s;
        if (!anyHostnames || s === maxScore) break;
      }
      if (node.children === undefined || start > path.length) break;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      node = node.children.get(path.slice(start, end));
      start = end + 1;
    }
    return best?.result;
  };

  return Object.freeze({
    target: Object.freeze({ namespace: target.namespace, name: target.name, port: target.port }),
    hasRoutes: accepted.length > 0,
    routes: Object.freeze(accepted),
    rejected: Object.freeze(rejected),
    order,
    match,
  });
}

function where(route: RouteEntry, ui: number, mi: number, field: string): string {
  return `${route.kind} ${routeKey(route)} rules[${ui}].matches[${mi}].${field}`;
}

/** Header/query matchers; only the first entry of an equivalent name counts (HTTPHeaderMatch.name). */
function compileNameValues(
  list: RouteMatch['headers'],
  caseInsensitiveNames: boolean,
  route: RouteEntry,
  ui: number,
  mi: number,
  field: string,
): NameValueMatcher[] {
  const out: NameValueMatcher[] = [];
  if (!list) return out;
  for (let i = 0; i < list.length; i++) {
    const h = list[i]!;
    const name = caseInsensitiveNames ? h.name.toLowerCase() : h.name;
    if (out.some((o) => o.name === name)) continue;
    if (h.type === 'RegularExpression') {
      out.push({
        name,
        exact: undefined,
        re: compileRe2(h.value, where(route, ui, mi, `${field}[${i}].value`)),
      });
    } else {
      out.push({ name, exact: h.value, re: undefined });
    }
  }
  return out;
}

function compileMatch(
  route: RouteEntry,
  routeIndex: number,
  rule: RouteRule,
  ruleIndex: number,
  matchIndex: number,
  m: RouteMatch | undefined,
  backends: WeightedBackends,
): CompiledMatch {
  const grpcKind = route.kind === 'GRPCRoute';
  let pathKind = PATH_NONE;
  let pathValue = '';
  let pathRe: RegExp | undefined;
  let matchedPrefix: string | undefined;
  const gm = grpcKind ? m?.grpcMethod : undefined;
  // A GRPCRoute match is evaluated on its grpcMethod; `path` (the translator's normalised form) is
  // used only when grpcMethod is absent. An HTTPRoute match without path is PathPrefix `/`.
  const path = gm
    ? undefined
    : (m?.path ?? (grpcKind ? undefined : { type: 'PathPrefix' as const, value: '/' }));
  if (path) {
    if (path.type === 'Exact') {
      pathKind = PATH_EXACT;
      pathValue = path.value;
    } else if (path.type === 'PathPrefix') {
      pathKind = PATH_PREFIX;
      pathValue = path.value.endsWith('/') ? path.value.replace(/\/+$/, '') : path.value;
      matchedPrefix = path.value;
    } else {
      pathKind = PATH_REGEX;
      pathRe = compileRe2(path.value, where(route, ruleIndex, matchIndex, 'path.value'));
    }
  }
  let svcExact: string | undefined;
  let methodExact: string | undefined;
  let svcRe: RegExp | undefined;
  let methodRe: RegExp | undefined;
  if (gm) {
    const svc = gm.service === '' ? undefined : gm.service;
    const meth = gm.method === '' ? undefined : gm.method;
    if (gm.type === 'RegularExpression') {
      if (svc !== undefined) svcRe = compileRe2(svc, where(route, ruleIndex, matchIndex, 'method.service'));
      if (meth !== undefined)
        methodRe = compileRe2(meth, where(route, ruleIndex, matchIndex, 'method.method'));
    } else {
      svcExact = svc;
      methodExact = meth;
    }
  }
  let segments: string[] = [];
  if (pathKind === PATH_EXACT || pathKind === PATH_PREFIX) {
    segments = pathValue.split('/').slice(1);
    while (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  } else if (svcExact !== undefined) {
    segments = [svcExact];
  }
  const headers = compileNameValues(m?.headers, true, route, ruleIndex, matchIndex, 'headers');
  const query = compileNameValues(m?.queryParams, false, route, ruleIndex, matchIndex, 'queryParams');
  const method = grpcKind ? undefined : m?.method?.toUpperCase();
  const rank = grpcKind
    ? [svcExact?.length ?? 0, methodExact?.length ?? 0, headers.length]
    : [
        pathKind === PATH_EXACT ? 3 : pathKind === PATH_PREFIX ? 2 : pathKind === PATH_REGEX ? 1 : 0,
        pathKind === PATH_PREFIX ? pathValue.length : 0,
        method !== undefined ? 1 : 0,
        headers.length,
        query.length,
      ];
  const result: RouteMatchResult = Object.freeze({
    route,
    ruleIndex,
    rule,
    matchIndex,
    match: m,
    matchedPrefix: matchedPrefix ?? (m === undefined && !grpcKind ? '/' : undefined),
    backends,
  });
  return {
    routeIndex,
    grpcKind,
    pathKind,
    pathValue,
    pathRe,
    method,
    headers,
    query,
    hasGrpcMethod: gm !== undefined,
    svcExact,
    methodExact,
    svcRe,
    methodRe,
    rank,
    created: createdMs(route),
    key: routeKey(route),
    ruleIndex,
    matchIndex,
    ordinal: 0,
    segments,
    result,
  };
}

function compareCompiled(a: CompiledMatch, b: CompiledMatch): number {
  if (a.grpcKind !== b.grpcKind) return a.grpcKind ? 1 : -1;
  const n = Math.min(a.rank.length, b.rank.length);
  for (let i = 0; i < n; i++) {
    const d = b.rank[i]! - a.rank[i]!;
    if (d !== 0) return d;
  }
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.ruleIndex !== b.ruleIndex) return a.ruleIndex - b.ruleIndex;
  return a.matchIndex - b.matchIndex;
}

function matches(c: CompiledMatch, req: RouteRequest): boolean {
  const path = req.path;
  switch (c.pathKind) {
    case PATH_EXACT:
      if (path !== c.pathValue) return false;
      break;
    case PATH_PREFIX: {
      const v = c.pathValue;
      if (
        v.length > 0 &&
        !(path.startsWith(v) && (path.length === v.length || path.charCodeAt(v.length) === 47))
      ) {
        return false;
      }
      break;
    }
    case PATH_REGEX:
      if (!c.pathRe!.test(path)) return false;
      break;
  }
  if (c.hasGrpcMethod && !grpcMethodMatches(c, path)) return false;
  if (c.method !== undefined && req.method !== c.method) return false;
  const hs = c.headers;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    const v = req.header(h.name);
    if (v === undefined) return false;
    if (h.exact !== undefined ? v !== h.exact : !h.re!.test(v)) return false;
  }
  const qs = c.query;
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    const v = firstQueryValue(req.query, q.name);
    if (v === undefined) return false;
    if (q.exact !== undefined ? v !== q.exact : !q.re!.test(v)) return false;
  }
  return true;
}

/** gRPC `:path` is `/<package.Service>/<Method>` (gRPC over HTTP/2, "Path → ":path" "/" Service-Name "/" {method name}"). */
function grpcMethodMatches(c: CompiledMatch, path: string): boolean {
  if (path.charCodeAt(0) !== 47) return false;
  const slash = path.indexOf('/', 1);
  if (slash <= 1 || slash === path.length - 1 || path.indexOf('/', slash + 1) !== -1) return false;
  if (c.svcExact !== undefined) {
    if (slash !== c.svcExact.length + 1 || !path.startsWith(c.svcExact, 1)) return false;
  }
  if (c.methodExact !== undefined) {
    if (path.length - slash - 1 !== c.methodExact.length || !path.endsWith(c.methodExact)) return false;
  }
  if (c.svcRe !== undefined && !c.svcRe.test(path.slice(1, slash))) return false;
  if (c.methodRe !== undefined && !c.methodRe.test(path.slice(slash + 1))) return false;
  return true;
}

/**
 * The first value of query parameter `name` in a raw query string, decoded as
 * application/x-www-form-urlencoded (WHATWG URL: `+` is a space, percent-escapes decoded; a malformed
 * escape is kept as written). HTTPQueryParamMatch recommends matching "the first value of the param".
 * A parameter without `=` has the value ''.
 */
export function firstQueryValue(query: string, name: string): string | undefined {
  const len = query.length;
  let start = 0;
  while (start <= len) {
    let end = query.indexOf('&', start);
    if (end === -1) end = len;
    if (end > start) {
      let eq = query.indexOf('=', start);
      if (eq === -1 || eq > end) eq = end;
      if (segmentEquals(query, start, eq, name)) {
        return eq === end ? '' : decodeFormComponent(query.slice(eq + 1, end));
      }
    }
    start = end + 1;
  }
  return undefined;
}

function segmentEquals(query: string, start: number, end: number, name: string): boolean {
  let raw = true;
  for (let i = start; i < end; i++) {
    const ch = query.charCodeAt(i);
    if (ch === 37 || ch === 43) {
      raw = false;
      break;
    }
  }
  if (raw) return end - start === name.length && query.startsWith(name, start);
  return decodeFormComponent(query.slice(start, end)) === name;
}

function decodeFormComponent(s: string): string {
  let t = s;
  if (t.includes('+')) t = t.replaceAll('+', ' ');
  if (!t.includes('%')) return t;
  try {
    return decodeURIComponent(t);
  } catch {
    return t;
  }
}
