/**
 * The route matcher against the Gateway API specification (apis/v1/httproute_types.go,
 * grpcroute_types.go) and conformance-style cases modelled on the conformance suite
 * (conformance/tests/httproute-*.yaml, grpcroute-*.yaml): each test names what it transcribes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteEntry, RouteMatch, RouteRule } from '../../api/index.ts';
import { compileRouter, firstQueryValue } from './router.ts';
import type { RouteRequest, Router } from './router.ts';

const TARGET = { namespace: 'ns', name: 'svc', port: 80 };

function rule(backend: string, ...matches: RouteMatch[]): RouteRule {
  return { matches, filters: [], backendRefs: [{ namespace: 'ns', name: backend, weight: 1 }] };
}

function route(name: string, rules: RouteRule[], extra: Partial<RouteEntry> = {}): RouteEntry {
  return {
    kind: 'HTTPRoute',
    namespace: 'ns',
    name,
    creationTimestamp: '2026-01-01T00:00:00Z',
    parents: [{ namespace: 'ns', name: 'svc' }],
    hostnames: [],
    rules,
    ...extra,
  };
}

function req(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; host?: string } = {},
): RouteRequest {
  const q = path.indexOf('?');
  const headers = opts.headers ?? {};
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return {
    method: opts.method ?? 'GET',
    path: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? '' : path.slice(q + 1),
    host: opts.host ?? 'svc.ns',
    header: (n) => lower[n],
  };
}

/** The backend name the request goes to, or 404. */
function to(router: Router, r: RouteRequest): string {
  const m = router.match(r);
  if (!m) return '404';
  return m.rule.backendRefs[0]?.name ?? 'none';
}

const exact = (value: string): RouteMatch => ({ path: { type: 'Exact', value } });
const prefix = (value: string): RouteMatch => ({ path: { type: 'PathPrefix', value } });

void test('PathPrefix matches by path element, trailing slash in the prefix ignored (PathMatchPathPrefix)', () => {
  const r = compileRouter([route('r', [rule('abc', prefix('/abc'))])], TARGET);
  for (const p of ['/abc', '/abc/', '/abc/def']) assert.equal(to(r, req(p)), 'abc', p);
  for (const p of ['/abcd', '/ab', '/', '/xabc']) assert.equal(to(r, req(p)), '404', p);
  const slash = compileRouter([route('r', [rule('foo', prefix('/foo/'))])], TARGET);
  for (const p of ['/foo', '/foo/', '/foo/bar']) assert.equal(to(slash, req(p)), 'foo', p);
  assert.equal(to(slash, req('/foobar')), '404');
});

void test('Exact matches the path exactly and case-sensitively: /abc matches only /abc (PathMatchExact)', () => {
  const r = compileRouter([route('r', [rule('abc', exact('/abc'))])], TARGET);
  assert.equal(to(r, req('/abc')), 'abc');
  for (const p of ['/abc/', '/Abc', '/abcd']) assert.equal(to(r, req(p)), '404', p);
});

void test('conformance HTTPRouteMatching: Exact /v2 beats PathPrefix /; longer prefix is not implied', () => {
  const r = compileRouter([route('matching', [rule('v1', prefix('/')), rule('v2', exact('/v2'))])], TARGET);
  assert.equal(to(r, req('/')), 'v1');
  assert.equal(to(r, req('/example')), 'v1');
  assert.equal(to(r, req('/v2')), 'v2');
  assert.equal(to(r, req('/v2/example')), 'v1');
  assert.equal(to(r, req('/foo/v2/example')), 'v1');
});

void test('a match without path is the default PathPrefix / and a rule without matches matches all', () => {
  const r = compileRouter([route('r', [rule('all')])], TARGET);
  assert.equal(to(r, req('/anything/at/all')), 'all');
  assert.equal(r.match(req('/x'))?.matchIndex, -1);
  assert.equal(r.match(req('/x'))?.matchedPrefix, '/');
});

void test('spec example: matches are ORed, conditions ANDed (HTTPRouteRule.matches)', () => {
  // matches: [{path: /foo, headers: version=v2}, {path: /v2/foo}]
  const r = compileRouter(
    [
      route('r', [
        rule(
          'hit',
          {
            path: { type: 'PathPrefix', value: '/foo' },
            headers: [{ type: 'Exact', name: 'version', value: 'v2' }],
          },
          prefix('/v2/foo'),
        ),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/foo/x', { headers: { version: 'v2' } })), 'hit');
  assert.equal(to(r, req('/foo/x')), '404');
  assert.equal(to(r, req('/v2/foo')), 'hit');
});

void test('precedence: Exact, then longest PathPrefix, then regex, then method, headers, query params', () => {
  const r = compileRouter(
    [
      route('r', [
        rule('query', {
          path: { type: 'PathPrefix', value: '/' },
          queryParams: [{ type: 'Exact', name: 'q', value: '1' }],
        }),
        rule('headers2', {
          headers: [
            { type: 'Exact', name: 'a', value: '1' },
            { type: 'Exact', name: 'b', value: '1' },
          ],
        }),
        rule('headers1', {
          headers: [{ type: 'Exact', name: 'a', value: '1' }],
          queryParams: [{ type: 'Exact', name: 'q', value: '1' }],
        }),
        rule('method', { method: 'POST' }),
        rule('regex', { path: { type: 'RegularExpression', value: '/re/.*' } }),
        rule('short', prefix('/re')),
        rule('long', prefix('/re/long')),
        rule('exact', exact('/re/long/x')),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/re/long/x', { method: 'POST' })), 'exact');
  assert.equal(to(r, req('/re/long/y', { method: 'POST' })), 'long');
  assert.equal(to(r, req('/re/other', { method: 'POST' })), 'short');
  // The regex ranks below PathPrefix `/` too: with no prefix but `/`, POST wins via method, then regex.
  const r2 = compileRouter(
    [
      route('r', [
        rule('method', { method: 'POST' }),
        rule('regex', { path: { type: 'RegularExpression', value: '/re/.*' } }),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r2, req('/re/x', { method: 'POST' })), 'method');
  assert.equal(to(r2, req('/re/x', { method: 'GET' })), 'regex');
  assert.equal(to(r, req('/x?q=1', { method: 'POST', headers: { a: '1', b: '1' } })), 'method');
  assert.equal(to(r, req('/x?q=1', { headers: { a: '1', b: '1' } })), 'headers2');
  assert.equal(to(r, req('/x?q=1', { headers: { a: '1' } })), 'headers1');
  assert.equal(to(r, req('/x?q=1')), 'query');
  assert.equal(to(r, req('/x')), '404');
});

void test('ties across routes: oldest creationTimestamp, then namespace/name; within a route the first rule', () => {
  const m = prefix('/a');
  const older = route('zzz', [rule('older', m)], { creationTimestamp: '2025-01-01T00:00:00Z' });
  const newer = route('aaa', [rule('newer', m)], { creationTimestamp: '2026-06-01T00:00:00Z' });
  assert.equal(to(compileRouter([newer, older], TARGET), req('/a')), 'older');
  const sameA = route('a', [rule('a', m)]);
  const sameB = route('b', [rule('b', m)]);
  assert.equal(to(compileRouter([sameB, sameA], TARGET), req('/a')), 'a');
  const otherNs = { ...route('a', [rule('other-ns', m)]), namespace: 'aa' };
  assert.equal(to(compileRouter([sameA, otherNs], TARGET), req('/a')), 'other-ns');
  const two = compileRouter([route('r', [rule('first', m), rule('second', m)])], TARGET);
  assert.equal(to(two, req('/a')), 'first');
  assert.equal(two.match(req('/a'))?.ruleIndex, 0);
});

void test('conformance HTTPRouteMethodMatching: method combinations and precedence', () => {
  const hv = (value: string) => [{ type: 'Exact' as const, name: 'version', value }];
  const r = compileRouter(
    [
      route('method-matching', [
        rule('v1', { method: 'POST' }),
        rule('v2', { method: 'GET' }),
        rule('v1', { path: { type: 'PathPrefix', value: '/path1' }, method: 'GET' }),
        rule('v2', { headers: hv('one'), method: 'PUT' }),
        rule('v3', { path: { type: 'PathPrefix', value: '/path2' }, headers: hv('two'), method: 'POST' }),
        rule(
          'v1',
          { path: { type: 'PathPrefix', value: '/path3' }, method: 'PATCH' },
          { path: { type: 'PathPrefix', value: '/path4' }, headers: hv('three'), method: 'DELETE' },
        ),
        rule('v1', prefix('/path5')),
        rule('v2', { method: 'PATCH' }),
        rule('v3', { headers: hv('four') }),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/', { method: 'POST' })), 'v1');
  assert.equal(to(r, req('/', { method: 'GET' })), 'v2');
  assert.equal(to(r, req('/', { method: 'HEAD' })), '404');
  assert.equal(to(r, req('/path1', { method: 'GET' })), 'v1');
  assert.equal(to(r, req('/', { method: 'PUT', headers: { version: 'one' } })), 'v2');
  assert.equal(to(r, req('/path2', { method: 'POST', headers: { version: 'two' } })), 'v3');
  assert.equal(to(r, req('/path3', { method: 'PATCH' })), 'v1');
  assert.equal(to(r, req('/path4', { method: 'DELETE', headers: { version: 'three' } })), 'v1');
  assert.equal(to(r, req('/', { method: 'PUT' })), '404');
  assert.equal(to(r, req('/path4', { method: 'DELETE' })), '404');
  assert.equal(to(r, req('/path5', { method: 'PATCH' })), 'v1');
  assert.equal(to(r, req('/', { method: 'PATCH', headers: { version: 'four' } })), 'v2');
});

void test('conformance-style header matching: names case-insensitive, values exact, AND semantics, regex', () => {
  const h = (name: string, value: string, type: 'Exact' | 'RegularExpression' = 'Exact') => ({
    type,
    name,
    value,
  });
  const r = compileRouter(
    [
      route('header-matching', [
        rule('v1', { headers: [h('Version', 'one')] }),
        rule('v2', { headers: [h('version', 'two')] }),
        rule('v1', { headers: [h('version', 'two'), h('color', 'orange')] }),
        rule('v1', { headers: [h('color', 'blue')] }, { headers: [h('color', 'green')] }),
        rule('v2', { headers: [h('color', 'red')] }, { headers: [h('color', 'yellow')] }),
        rule('re', { headers: [h('x-build', 'v[0-9]+', 'RegularExpression')] }),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/', { headers: { version: 'one' } })), 'v1');
  assert.equal(to(r, req('/', { headers: { VERSION: 'one' } })), 'v1');
  assert.equal(to(r, req('/', { headers: { version: 'One' } })), '404');
  assert.equal(to(r, req('/', { headers: { version: 'two' } })), 'v2');
  assert.equal(to(r, req('/', { headers: { version: 'two', color: 'orange' } })), 'v1');
  assert.equal(to(r, req('/', { headers: { version: 'two', color: 'blue' } })), 'v2'); // equal count: first rule
  assert.equal(to(r, req('/', { headers: { color: 'green' } })), 'v1');
  assert.equal(to(r, req('/', { headers: { color: 'yellow' } })), 'v2');
  assert.equal(to(r, req('/', { headers: { 'x-build': 'v12' } })), 're');
  assert.equal(to(r, req('/', { headers: { 'x-build': 'v12-rc' } })), '404', 'regex is a full match');
  assert.equal(to(r, req('/', { headers: {} })), '404');
});

void test('only the first entry of an equivalent header name counts (HTTPHeaderMatch.name)', () => {
  const r = compileRouter(
    [
      route('r', [
        rule('hit', {
          headers: [
            { type: 'Exact', name: 'X-A', value: '1' },
            { type: 'Exact', name: 'x-a', value: '2' },
          ],
        }),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/', { headers: { 'x-a': '1' } })), 'hit');
  assert.equal(to(r, req('/', { headers: { 'x-a': '2' } })), '404');
});

void test('conformance-style query param matching: exact, case-sensitive names and values, first value', () => {
  const q = (name: string, value: string, type: 'Exact' | 'RegularExpression' = 'Exact') => ({
    type,
    name,
    value,
  });
  const r = compileRouter(
    [
      route('query-param-matching', [
        rule('v1', { queryParams: [q('animal', 'whale')] }),
        rule('v2', { queryParams: [q('animal', 'dolphin')] }),
        rule('v3', { queryParams: [q('animal', 'dolphin'), q('color', 'blue')] }),
        rule('v3', { queryParams: [q('ANIMAL', 'Whale')] }),
        rule('re', { queryParams: [q('id', '[0-9]{3}', 'RegularExpression')] }),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/?animal=whale')), 'v1');
  assert.equal(to(r, req('/?animal=dolphin')), 'v2');
  assert.equal(to(r, req('/?animal=dolphin&color=blue')), 'v3');
  assert.equal(to(r, req('/?color=blue&animal=dolphin')), 'v3');
  assert.equal(to(r, req('/?animal=dolphin&color=yellow')), 'v2');
  assert.equal(to(r, req('/?ANIMAL=Whale')), 'v3');
  assert.equal(to(r, req('/?animal=Whale')), '404');
  assert.equal(to(r, req('/?animal=whale&animal=dolphin')), 'v1', 'the first value counts');
  assert.equal(to(r, req('/?id=123')), 're');
  assert.equal(to(r, req('/?id=1234')), '404');
  assert.equal(to(r, req('/?animal=wh%61le')), 'v1', 'percent-decoded');
});

void test('firstQueryValue decodes application/x-www-form-urlencoded like URLSearchParams', () => {
  for (const raw of ['a=1&b=2', 'b=x+y&a=3', 'a', 'a=&a=2', '%61=%7E', 'x=1&&a=%zz', 'a=1=2', '']) {
    const expected = new URLSearchParams(raw).get('a') ?? undefined;
    const got = firstQueryValue(raw, 'a');
    if (raw.includes('%zz')) assert.equal(got, '%zz');
    else assert.equal(got, expected, raw);
  }
});

void test('regular expressions are RE2-style: full match, (?i) flag, backreferences and lookaround rejected', () => {
  const mk = (value: string) =>
    compileRouter([route('r', [rule('re', { path: { type: 'RegularExpression', value } })])], TARGET);
  assert.equal(to(mk('(?i)/api/v[0-9]+'), req('/API/V2')), 're');
  assert.equal(to(mk('/api/v[0-9]+'), req('/api/v2/x')), '404');
  assert.equal(to(mk('/(?P<name>[a-z]+)'), req('/abc')), 're');
  for (const bad of ['/(a)\\1', '/(?=a)', '/(?<!a)b', '/[']) {
    assert.throws(
      () => mk(bad),
      (e: Error & { code?: string }) =>
        e.code === 'WEFT_ROUTE_REGEX_INVALID' && e.message.includes('rules[0].matches[0].path.value'),
    );
  }
});

void test('parents: a parent without port applies to every port; other services do not attach', () => {
  const anyPort = route('any', [rule('any', prefix('/'))]);
  const port81 = route('p81', [rule('p81', exact('/x'))], {
    parents: [{ namespace: 'ns', name: 'svc', port: 81 }],
  });
  const other = route('other', [rule('other', exact('/y'))], {
    parents: [{ namespace: 'ns', name: 'other' }],
  });
  const r80 = compileRouter([anyPort, port81, other], TARGET);
  assert.equal(to(r80, req('/x')), 'any');
  assert.equal(to(r80, req('/y')), 'any');
  const r81 = compileRouter([anyPort, port81, other], { ...TARGET, port: 81 });
  assert.equal(to(r81, req('/x')), 'p81');
  const none = compileRouter([other], TARGET);
  assert.equal(none.hasRoutes, false);
  assert.equal(none.match(req('/')), undefined);
  const noMatch = compileRouter([port81], { ...TARGET, port: 81 });
  assert.equal(noMatch.hasRoutes, true);
  assert.equal(noMatch.match(req('/nope')), undefined, 'routes but no match: the proxy answers 404');
});

void test('hostnames: wildcard suffix match, port ignored, most specific hostname wins (HTTPRouteSpec.hostnames)', () => {
  const wild = route('wild', [rule('wild', prefix('/'))], { hostnames: ['*.example.com'] });
  const exactHost = route('exact', [rule('exact', prefix('/'))], { hostnames: ['test.example.com'] });
  const any = route('any', [rule('any', prefix('/'))], { creationTimestamp: '2020-01-01T00:00:00Z' });
  const r = compileRouter([any, wild, exactHost], TARGET);
  assert.equal(to(r, req('/', { host: 'test.example.com' })), 'exact');
  assert.equal(to(r, req('/', { host: 'TEST.example.com:8080' })), 'exact');
  assert.equal(to(r, req('/', { host: 'foo.test.example.com' })), 'wild');
  assert.equal(to(r, req('/', { host: 'example.com' })), 'any');
  const only = compileRouter([wild], TARGET);
  assert.equal(to(only, req('/', { host: 'example.com' })), '404');
  assert.equal(to(only, req('/', { host: 'a.example.com.' })), 'wild');
});

void test('hostname precedence falls back to a less specific hostname when the specific route has no match', () => {
  const exactHost = route('exact', [rule('exact', exact('/only'))], { hostnames: ['a.example.com'] });
  const wild = route('wild', [rule('wild', prefix('/'))], { hostnames: ['*.example.com'] });
  const r = compileRouter([exactHost, wild], TARGET);
  assert.equal(to(r, req('/only', { host: 'a.example.com' })), 'exact');
  assert.equal(to(r, req('/other', { host: 'a.example.com' })), 'wild');
});

function grpcRoute(name: string, rules: RouteRule[], extra: Partial<RouteEntry> = {}): RouteEntry {
  return route(name, rules, { kind: 'GRPCRoute', ...extra });
}
const gm = (
  service?: string,
  method?: string,
  type: 'Exact' | 'RegularExpression' = 'Exact',
): RouteMatch => ({
  grpcMethod: {
    type,
    ...(service === undefined ? {} : { service }),
    ...(method === undefined ? {} : { method }),
  },
});

void test('conformance-style GRPCRoute exact method matching and precedence (GRPCRouteRule.matches)', () => {
  const r = compileRouter(
    [
      grpcRoute('exact-matching', [
        rule('v1', gm('gateway_api_conformance.echo_basic.grpcecho.GrpcEcho', 'Echo')),
        rule('v2', gm('gateway_api_conformance.echo_basic.grpcecho.GrpcEcho', 'EchoTwo')),
        rule('svc', gm('gateway_api_conformance.echo_basic.grpcecho.GrpcEcho')),
        rule('meth', gm(undefined, 'EchoThree')),
        rule('re', gm('.*Echo', 'Echo.*', 'RegularExpression')),
      ]),
    ],
    TARGET,
  );
  const svc = '/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';
  assert.equal(to(r, req(`${svc}/Echo`, { method: 'POST' })), 'v1');
  assert.equal(to(r, req(`${svc}/EchoTwo`, { method: 'POST' })), 'v2');
  assert.equal(
    to(r, req(`${svc}/EchoThree`, { method: 'POST' })),
    'svc',
    'a matching service outranks a method',
  );
  assert.equal(to(r, req('/other.Svc/EchoThree', { method: 'POST' })), 'meth');
  assert.equal(to(r, req('/x.GrpcEcho/EchoFour', { method: 'POST' })), 're');
  assert.equal(to(r, req('/other.Svc/Nope', { method: 'POST' })), '404');
  assert.equal(to(r, req(`${svc}/Echo/extra`, { method: 'POST' })), '404');
});

void test('GRPCRoute: longer service, then longer method, then more header matches', () => {
  const h = [{ type: 'Exact' as const, name: 'env', value: 'canary' }];
  const r = compileRouter(
    [
      grpcRoute('g', [
        rule('headers', { headers: h }),
        rule('short', gm('a.S')),
        rule('long', gm('a.b.S')),
        rule('method', gm('a.b.S', 'Get')),
        rule('method-headers', { ...gm('a.b.S', 'Get'), headers: h }),
        rule('any'),
      ]),
    ],
    TARGET,
  );
  assert.equal(to(r, req('/a.S/Get')), 'short');
  assert.equal(to(r, req('/a.b.S/Put')), 'long');
  assert.equal(to(r, req('/a.b.S/Get')), 'method');
  assert.equal(to(r, req('/a.b.S/Get', { headers: { env: 'canary' } })), 'method-headers');
  assert.equal(to(r, req('/z.S/Get', { headers: { env: 'canary' } })), 'headers');
  assert.equal(to(r, req('/z.S/Get')), 'any');
});

void test('HTTPRoute and GRPCRoute on one Service port are not merged: the older is accepted', () => {
  const h = route('http', [rule('http', prefix('/'))], { creationTimestamp: '2026-02-01T00:00:00Z' });
  const g = grpcRoute('grpc', [rule('grpc')], { creationTimestamp: '2026-01-01T00:00:00Z' });
  const r = compileRouter([h, g], TARGET);
  assert.deepEqual(
    r.routes.map((x) => x.name),
    ['grpc'],
  );
  assert.equal(r.rejected.length, 1);
  assert.equal(r.rejected[0]?.route.name, 'http');
  assert.equal(to(r, req('/a.S/M')), 'grpc');
  // Disjoint hostnames: both accepted, each answers its own host.
  const h2 = { ...h, hostnames: ['web.example.com'] };
  const g2 = { ...g, hostnames: ['rpc.example.com'] };
  const r2 = compileRouter([h2, g2], TARGET);
  assert.equal(r2.rejected.length, 0);
  assert.equal(to(r2, req('/a.S/M', { host: 'web.example.com' })), 'http');
  assert.equal(to(r2, req('/a.S/M', { host: 'rpc.example.com' })), 'grpc');
});

void test('results are shared, frozen objects carrying the rule and its precomputed backends', () => {
  const r = compileRouter([route('r', [rule('b', prefix('/p'))])], TARGET);
  const a = r.match(req('/p'));
  const b = r.match(req('/p/q'));
  assert.ok(a && b);
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
  assert.equal(a.matchedPrefix, '/p');
  assert.equal(a.backends.total, 1);
  assert.equal(r.order.length, 1);
});
