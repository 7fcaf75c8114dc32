/** Route filters against the Gateway API spec's own examples (apis/v1/httproute_types.go) and conformance-style redirect/rewrite cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyRequestHeaderModifier,
  applyResponseHeaderModifier,
  computeRedirect,
  rewriteHost,
  rewritePath,
} from './filters.ts';
import type { HeaderRecord } from './filters.ts';

void test('HTTPHeaderFilter examples: set overwrites, add appends with a comma, remove deletes (case-insensitive)', () => {
  const set: HeaderRecord = { 'my-header': 'foo' };
  applyRequestHeaderModifier(set, { set: [{ name: 'my-header', value: 'bar' }] });
  assert.deepEqual(set, { 'my-header': 'bar' });
  const add: HeaderRecord = { 'my-header': 'foo' };
  applyRequestHeaderModifier(add, {
    add: [
      { name: 'My-Header', value: 'bar,baz' },
      { name: 'new', value: '1' },
    ],
  });
  assert.deepEqual(add, { 'my-header': 'foo,bar,baz', new: '1' });
  const remove: HeaderRecord = { 'my-header1': 'foo', 'my-header2': 'bar', 'my-header3': 'baz' };
  applyRequestHeaderModifier(remove, { remove: ['my-header1', 'My-Header3'] });
  assert.deepEqual(remove, { 'my-header2': 'bar' });
  const resp: HeaderRecord = { 'set-cookie': ['a=1'], 'content-length': 3 };
  applyResponseHeaderModifier(resp, {
    add: [
      { name: 'set-cookie', value: 'b=2' },
      { name: 'content-length', value: '4' },
    ],
  });
  assert.deepEqual(resp, { 'set-cookie': ['a=1', 'b=2'], 'content-length': '3,4' });
});

void test('ReplacePrefixMatch: every row of the spec table (HTTPPathModifier.replacePrefixMatch)', () => {
  const rows: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
  ];
  for (const [path, prefix, replace, want] of rows) {
    assert.equal(
      rewritePath(path, prefix, { type: 'ReplacePrefixMatch', replacePrefixMatch: replace }),
      want,
      `${path} ${prefix} ${replace}`,
    );
  }
});

void test('conformance-style URL rewrites (httproute-rewrite-path): prefix, full path, strip prefix, host', () => {
  const p = (path: string, prefix: string, r: string) =>
    rewritePath(path, prefix, { type: 'ReplacePrefixMatch', replacePrefixMatch: r });
  assert.equal(p('/prefix/one/two', '/prefix/one', '/one'), '/one/two');
  assert.equal(p('/strip-prefix/three', '/strip-prefix', '/'), '/three');
  assert.equal(p('/strip-prefix', '/strip-prefix', '/'), '/');
  assert.equal(p('/', '/', '/v2'), '/v2');
  assert.equal(p('/a', '/', '/v2'), '/v2/a');
  assert.equal(
    rewritePath('/full/one/two', '/full', { type: 'ReplaceFullPath', replaceFullPath: '/one' }),
    '/one',
  );
  assert.equal(p('/other', '/foo', '/x'), '/other', 'a path outside the prefix is left alone');
  assert.equal(rewriteHost('svc.ns:80', { hostname: 'one.example.org' }), 'one.example.org');
  assert.equal(rewriteHost('svc.ns:80', {}), 'svc.ns:80');
});

void test('redirect defaults: 302, same scheme, host and port (HTTPRequestRedirectFilter)', () => {
  const base = { scheme: 'http' as const, host: 'svc.ns:8080', port: 8080, path: '/a', query: 'x=1' };
  assert.deepEqual(computeRedirect(base, {}, undefined), {
    status: 302,
    location: 'http://svc.ns:8080/a?x=1',
  });
  assert.deepEqual(computeRedirect({ ...base, host: 'svc.ns', port: 80 }, { statusCode: 301 }, undefined), {
    status: 301,
    location: 'http://svc.ns/a?x=1',
  });
});

void test('redirect port rules: scheme implies its well-known port, which is then omitted; explicit port kept', () => {
  const base = { scheme: 'http' as const, host: 'example.org', port: 80, path: '/', query: '' };
  assert.equal(computeRedirect(base, { scheme: 'https' }, undefined).location, 'https://example.org/');
  assert.equal(
    computeRedirect({ ...base, port: 8080 }, { scheme: 'https' }, undefined).location,
    'https://example.org/',
  );
  assert.equal(
    computeRedirect(base, { scheme: 'https', port: 8443 }, undefined).location,
    'https://example.org:8443/',
  );
  assert.equal(computeRedirect(base, { port: 8080 }, undefined).location, 'http://example.org:8080/');
  assert.equal(
    computeRedirect({ ...base, scheme: 'https', port: 443 }, { scheme: 'http' }, undefined).location,
    'http://example.org/',
  );
  assert.equal(computeRedirect({ ...base, host: '[::1]:80' }, {}, undefined).location, 'http://[::1]/');
});

void test('conformance-style redirect paths (httproute-redirect-path): prefix, full path, with host and status', () => {
  const r = (path: string) => ({ scheme: 'http' as const, host: 'example.com', port: 80, path, query: '' });
  assert.equal(
    computeRedirect(
      r('/original-prefix/lemon'),
      { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replacement-prefix' } },
      '/original-prefix',
    ).location,
    'http://example.com/replacement-prefix/lemon',
  );
  assert.equal(
    computeRedirect(
      r('/full/path/original'),
      { path: { type: 'ReplaceFullPath', replaceFullPath: '/full-path-replacement' } },
      '/full',
    ).location,
    'http://example.com/full-path-replacement',
  );
  assert.deepEqual(
    computeRedirect(
      r('/path-and-host'),
      {
        hostname: 'example.org',
        statusCode: 301,
        path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replacement-prefix' },
      },
      '/path-and-host',
    ),
    { status: 301, location: 'http://example.org/replacement-prefix' },
  );
});
