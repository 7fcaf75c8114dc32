/**
 * Route matching (src/policy/routing): compile and match with 10 / 100 / 1,000 rules on one Service
 * port. Each rule has a PathPrefix `/api/v<i>` and every fifth one also a header match, so a request
 * for the lowest-precedence rule walks the whole precompiled order (the worst case); a request for the
 * highest-precedence rule stops at the first candidate.
 */
import type { RouteEntry, RouteRule } from '../../../src/api/index.ts';
import { compileRouter } from '../../../src/policy/index.ts';
import type { RouteRequest, Router } from '../../../src/policy/index.ts';
import type { MicroBenchmark } from '../harness.ts';

function routes(n: number): RouteEntry[] {
  const rules: RouteRule[] = [];
  for (let i = 0; i < n; i++) {
    rules.push({
      matches: [
        {
          path: { type: 'PathPrefix', value: `/api/v${i}` },
          ...(i % 5 === 0 ? { headers: [{ type: 'Exact' as const, name: 'x-canary', value: 'true' }] } : {}),
        },
      ],
      filters: [],
      backendRefs: [{ namespace: 'ns', name: `b${i % 7}`, weight: 1 }],
    });
  }
  // Split into routes of at most 16 rules, as the Gateway API allows.
  const out: RouteEntry[] = [];
  for (let r = 0; r * 16 < n; r++) {
    out.push({
      kind: 'HTTPRoute',
      namespace: 'ns',
      name: `r${String(r).padStart(4, '0')}`,
      creationTimestamp: '2026-01-01T00:00:00Z',
      parents: [{ namespace: 'ns', name: 'svc', port: 80 }],
      hostnames: [],
      rules: rules.slice(r * 16, r * 16 + 16),
    });
  }
  return out;
}

const headers: Record<string, string> = { 'x-canary': 'false', host: 'svc.ns' };
const request = (path: string): RouteRequest => ({
  method: 'GET',
  path,
  query: '',
  host: 'svc.ns',
  header: (n) => headers[n],
});

export const benchmarks: MicroBenchmark<{
  router: Router;
  first: RouteRequest;
  last: RouteRequest;
  miss: RouteRequest;
}>[] = [];
for (const n of [10, 100, 1000]) {
  const setup = () => {
    const router = compileRouter(routes(n), { namespace: 'ns', name: 'svc', port: 80 });
    // `/api/v1` shares the index node of `/api/v1`, `/api/v10`… only for its own segment; `/other` misses.
    const first = request(`/api/v${n - 1}/items`);
    const last = request('/api/v1/items');
    const miss = request('/other');
    if (!router.match(first) || !router.match(last) || router.match(miss))
      throw new Error('bench routes are wrong');
    return { router, first, last, miss };
  };
  benchmarks.push(
    { name: `route match, ${n} rules, first candidate`, setup, fn: (s) => s.router.match(s.first) },
    { name: `route match, ${n} rules, late candidate`, setup, fn: (s) => s.router.match(s.last) },
    { name: `route match, ${n} rules, no match (404)`, setup, fn: (s) => s.router.match(s.miss) },
  );
}
benchmarks.push({
  name: 'compileRouter, 1000 rules',
  setup: () => ({
    router: undefined as unknown as Router,
    first: request('/'),
    last: request('/'),
    miss: request('/'),
  }),
  fn: () => compileRouter(routes(1000), { namespace: 'ns', name: 'svc', port: 80 }),
});
