/**
 * Property: for random routes and requests, the router's choice is a candidate that matches and is
 * maximal under the Gateway API precedence order (HTTPRouteRule.matches), checked against a naive
 * reference written from the spec text here, independent of the router's precompiled order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RouteEntry, RouteMatch, RouteRule } from '../../api/index.ts';
import { compileRouter } from './router.ts';
import type { RouteRequest } from './router.ts';

const SEGMENTS = ['a', 'b', 'ab'];
const segPath = fc
  .array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 3 })
  .map((s) => '/' + s.join('/'));
const method = fc.constantFrom('GET', 'POST');
const headerName = fc.constantFrom('x-a', 'x-b');
const headerValue = fc.constantFrom('1', '2');
const queryName = fc.constantFrom('p', 'q');

const matchArb: fc.Arbitrary<RouteMatch> = fc.record(
  {
    path: fc.oneof(
      fc.record({ type: fc.constant('Exact' as const), value: segPath }),
      fc.record({
        type: fc.constant('PathPrefix' as const),
        value: fc.oneof(
          segPath,
          segPath.map((p) => (p === '/' ? p : p + '/')),
        ),
      }),
      fc.record({
        type: fc.constant('RegularExpression' as const),
        value: fc.constantFrom('/a.*', '/b/.*', '.*b'),
      }),
    ),
    method,
    headers: fc.uniqueArray(
      fc.record({ type: fc.constant('Exact' as const), name: headerName, value: headerValue }),
      {
        maxLength: 2,
        selector: (h) => h.name,
      },
    ),
    queryParams: fc.uniqueArray(
      fc.record({ type: fc.constant('Exact' as const), name: queryName, value: headerValue }),
      {
        maxLength: 2,
        selector: (h) => h.name,
      },
    ),
  },
  { requiredKeys: [] },
);

const ruleArb: fc.Arbitrary<RouteRule> = fc
  .array(matchArb, { maxLength: 3 })
  .map((matches) => ({ matches, filters: [], backendRefs: [{ namespace: 'ns', name: 'b', weight: 1 }] }));

const routesArb = fc
  .array(
    fc.record({
      name: fc.constantFrom('r1', 'r2', 'r3', 'r4'),
      namespace: fc.constantFrom('ns', 'zz'),
      day: fc.integer({ min: 1, max: 3 }),
      hostnames: fc.uniqueArray(
        fc.constantFrom('a.example.com', '*.example.com', 'b.example.com', '*.b.example.com'),
        { maxLength: 2 },
      ),
      rules: fc.array(ruleArb, { minLength: 1, maxLength: 4 }),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((rs) => {
    const seen = new Set<string>();
    const out: RouteEntry[] = [];
    for (const r of rs) {
      if (seen.has(`${r.namespace}/${r.name}`)) continue;
      seen.add(`${r.namespace}/${r.name}`);
      out.push({
        kind: 'HTTPRoute',
        namespace: r.namespace,
        name: r.name,
        creationTimestamp: `2026-01-0${r.day}T00:00:00Z`,
        parents: [{ namespace: 'ns', name: 'svc' }],
        hostnames: r.hostnames,
        rules: r.rules,
      });
    }
    return out;
  });

const requestArb = fc.record({
  host: fc.constantFrom('a.example.com', 'b.example.com', 'x.b.example.com', 'example.com', 'other.org'),
  path: segPath,
  method,
  headers: fc.dictionary(headerName, headerValue, { maxKeys: 2 }),
  query: fc
    .array(fc.tuple(queryName, headerValue), { maxLength: 3 })
    .map((kv) => kv.map(([k, v]) => `${k}=${v}`).join('&')),
});

/** Naive matching straight from the spec text. */
function refMatches(
  m: RouteMatch | undefined,
  r: { path: string; method: string; headers: Record<string, string>; query: string },
): boolean {
  const path = m?.path ?? { type: 'PathPrefix', value: '/' };
  if (path.type === 'Exact' && r.path !== path.value) return false;
  if (path.type === 'PathPrefix') {
    const pe = path.value.split('/').filter((s) => s !== '');
    const re = r.path.split('/').filter((s) => s !== '');
    if (pe.length > re.length || pe.some((s, i) => re[i] !== s)) return false;
  }
  if (path.type === 'RegularExpression' && !new RegExp(`^(?:${path.value})$`).test(r.path)) return false;
  if (m?.method !== undefined && m.method !== r.method) return false;
  for (const h of m?.headers ?? []) if (r.headers[h.name] !== h.value) return false;
  const params = new URLSearchParams(r.query);
  for (const q of m?.queryParams ?? []) if (params.get(q.name) !== q.value) return false;
  return true;
}

/** -1 when no hostname matches; else [non-wildcard chars, chars] of the best matching hostname (HTTPRouteSpec.hostnames). */
function refHost(route: RouteEntry, host: string): [number, number] | undefined {
  if (route.hostnames.length === 0) return [0, 0];
  let best: [number, number] | undefined;
  for (const h of route.hostnames) {
    const ok = h.startsWith('*.') ? host.endsWith(h.slice(1)) && host.length > h.length - 1 : h === host;
    if (!ok) continue;
    const k: [number, number] = h.startsWith('*.') ? [0, h.length] : [h.length, h.length];
    if (!best || k[0] > best[0] || (k[0] === best[0] && k[1] > best[1])) best = k;
  }
  return best;
}

/** The precedence key from the spec, larger is better, compared lexicographically. */
function refKey(m: RouteMatch | undefined, route: RouteEntry, ruleIndex: number, host: string): number[] {
  const path = m?.path ?? { type: 'PathPrefix', value: '/' };
  const prefixLen = path.type === 'PathPrefix' ? path.value.replace(/\/+$/, '').length : 0;
  const hk = refHost(route, host)!;
  return [
    hk[0],
    hk[1],
    path.type === 'Exact' ? 1 : 0,
    path.type === 'PathPrefix' ? 1 : 0,
    prefixLen,
    m?.method !== undefined ? 1 : 0,
    m?.headers?.length ?? 0,
    m?.queryParams?.length ?? 0,
    -Date.parse(route.creationTimestamp),
    // alphabetical namespace/name: smaller string is better; encoded as a rank below.
    0,
    -ruleIndex,
  ];
}

function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

void test('property: the chosen match holds and no other holding candidate has higher precedence (hostnames included)', () => {
  fc.assert(
    fc.property(routesArb, requestArb, (routes, r) => {
      const router = compileRouter(routes, { namespace: 'ns', name: 'svc', port: 80 });
      const request: RouteRequest = {
        method: r.method,
        path: r.path,
        query: r.query,
        host: r.host,
        header: (n) => r.headers[n],
      };
      const names = routes.map((x) => `${x.namespace}/${x.name}`).sort();
      const candidates: { key: number[]; route: RouteEntry; ruleIndex: number }[] = [];
      for (const route of routes) {
        if (!refHost(route, r.host)) continue;
        route.rules.forEach((rule, ruleIndex) => {
          const ms = rule.matches.length === 0 ? [undefined] : rule.matches;
          for (const m of ms) {
            if (!refMatches(m, r)) continue;
            const key = refKey(m, route, ruleIndex, r.host);
            key[9] = -names.indexOf(`${route.namespace}/${route.name}`);
            candidates.push({ key, route, ruleIndex });
          }
        });
      }
      const got = router.match(request);
      if (candidates.length === 0) {
        assert.equal(got, undefined);
        return;
      }
      assert.ok(got, 'a candidate holds, so the router must choose one');
      assert.ok(refMatches(got.match, r) && refHost(got.route, r.host), 'the chosen match holds');
      const gotKey = refKey(got.match, got.route, got.ruleIndex, r.host);
      gotKey[9] = -names.indexOf(`${got.route.namespace}/${got.route.name}`);
      for (const c of candidates) {
        assert.ok(
          cmp(gotKey, c.key) >= 0,
          `chosen ${JSON.stringify(gotKey)} < candidate ${JSON.stringify(c.key)}`,
        );
      }
    }),
    { numRuns: 3000, seed: 20260101 },
  );
});
