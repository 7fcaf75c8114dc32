/**
 * Route hostnames (Gateway API HTTPRouteSpec.hostnames / GRPCRouteSpec.hostnames).
 *
 * - `*.example.com` is a suffix match: it matches `test.example.com` and `foo.test.example.com` but not
 *   `example.com`. Other names match exactly, case-insensitively (DNS names, RFC 4343).
 * - The port in the Host header is ignored ("Implementations MUST ignore any port value specified in
 *   the HTTP Host header while performing a match").
 * - Precedence between routes with intersecting hostnames goes to the largest number of characters in
 *   a matching non-wildcard hostname, then in a matching hostname. `hostnameScore` folds both into one
 *   number; a route without hostnames matches every host with score 0.
 */

/** Lower-case host without port and trailing dot. `[::1]:8080` → `[::1]`, `Example.COM.:80` → `example.com`. */
export function normalizeHost(host: string): string {
  let h = host;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1 && h.indexOf(':', colon + 1) === -1) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** Whether one route hostname matches a normalized request host. */
export function hostnameMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return pattern === host;
}

/**
 * -1 when no hostname of the route matches `host`; 0 for a route without hostnames; otherwise
 * `nonWildcardChars * 1024 + matchingChars` of its best matching hostname (hostnames are at most 253
 * characters, so the encoding preserves the spec's two-level order).
 */
export function hostnameScore(hostnames: readonly string[], host: string): number {
  if (hostnames.length === 0) return 0;
  let best = -1;
  for (const p of hostnames) {
    if (!hostnameMatches(p, host)) continue;
    const score = p.startsWith('*.') ? p.length : p.length * 1024 + p.length;
    if (score > best) best = score;
  }
  return best;
}

/** Whether two hostname lists can match a common host (empty list: any host). */
export function hostnamesIntersect(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  for (const x of a) {
    for (const y of b) {
      const xw = x.startsWith('*.');
      const yw = y.startsWith('*.');
      if (
        !xw && !yw
          ? x === y
          : xw && yw
            ? x.slice(1).endsWith(y.slice(1)) || y.slice(1).endsWith(x.slice(1))
            : xw
              ? hostnameMatches(x, y)
              : hostnameMatches(y, x)
      )
        return true;
    }
  }
  return false;
}
