/**
 * Unit tests of the primitives: path normalisation (adversarial inputs, Istio "Authorization Policy
 * Normalization" and RFC 3986 §5.2.4/§6.2.2), CIDR parsing and matching, selectors, explanations and
 * compile errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWeftError } from '../../lib/index.ts';
import { cidrContains, parseCidr, parseIp } from './cidr.ts';
import { normalizePath } from './path.ts';
import { compileAuthorization } from './authorizer.ts';
import { prepareConnection } from './authorization.ts';
import { ROOT, WORKLOADS, ap, conn, np, pa, req, security } from './fixtures.test-util.ts';

const PATHS: [string, string | null][] = [
  ['/info', '/info'],
  ['/admin/../x', '/x'],
  ['//admin', '/admin'],
  ['///admin//x///', '/admin/x/'],
  ['/%2e%2e/admin', '/admin'],
  ['/%2E%2E/%2e/admin', '/admin'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/..', '/'],
  ['/../../etc/passwd', '/etc/passwd'],
  ['/admin%2Fsecret', '/admin/secret'],
  ['/admin%2fsecret', '/admin/secret'],
  ['/a%5C..%5Cadmin', '/admin'],
  ['\\admin\\x', '/admin/x'],
  ['/some%2fdata/%61%62%63', '/some/data/abc'], // NORM's own example
  ['/public/./data/abc/../xyz', '/public/data/xyz'], // NORM's own example
  ['/%7euser/%5f%2d', '/~user/_-'],
  ['/a%20b', '/a%20b'],
  ['/a%3fb', '/a%3Fb'],
  ['/%2561', '/%2561'],
  ['/x?y=/../admin', '/x'],
  ['/x#/../admin', '/x'],
  ['/bad%zz', '/bad%zz'],
  ['/trail%', '/trail%'],
  ['*', '*'],
  ['/a%00', null],
  ['/a\u0000b', null],
  ['admin', null],
  ['http://evil/admin', null],
  ['', null],
];

for (const [input, want] of PATHS) {
  void test(`normalizePath(${JSON.stringify(input)}) = ${want === null ? 'rejected' : JSON.stringify(want)}`, () => {
    const n = normalizePath(input);
    if (want === null) assert.equal(n.ok, false);
    else assert.deepEqual(n, { ok: true, path: want });
  });
}

void test('normalizePath is idempotent on its output', () => {
  for (const [input] of PATHS) {
    const n = normalizePath(input);
    if (n.ok) assert.deepEqual(normalizePath(n.path), n);
  }
});

void test('CIDR parsing and matching (IPv4, IPv6, mapped, host bits, bad input)', () => {
  const has = (c: string, ip: string) => cidrContains(parseCidr(c)!, parseIp(ip)!.words);
  assert.ok(has('10.0.0.0/8', '10.255.1.2'));
  assert.ok(!has('10.0.0.0/8', '11.0.0.1'));
  assert.ok(has('10.0.0.1/24', '10.0.0.200'), 'host bits are masked');
  assert.ok(has('0.0.0.0/0', '203.0.113.9'));
  assert.ok(!has('0.0.0.0/0', '2001:db8::1'), 'an IPv4 /0 does not cover IPv6');
  assert.ok(has('::/0', '10.0.0.1'), 'IPv6 /0 covers mapped IPv4');
  assert.ok(has('10.0.0.0/8', '::ffff:10.1.1.1'));
  assert.ok(has('2001:db8::/32', '2001:db8:ffff::1'));
  assert.ok(!has('2001:db8::/33', '2001:db8:8000::1'));
  assert.ok(has('fe80::1', 'fe80::1%eth0'));
  assert.ok(has('::1', '0:0:0:0:0:0:0:1'));
  assert.ok(has('2001:db8::/127', '2001:db8::1'));
  for (const bad of [
    '10.0.0.0/33',
    '256.0.0.1',
    '10.0.0',
    '1::2::3',
    'x',
    '10.0.0.0/-1',
    '::/129',
    '1:2:3:4:5:6:7:8:9',
  ]) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
});

void test('explain: every applicable policy is listed with the first failing field', () => {
  const a = compileAuthorization({
    security: security({
      authorizationPolicies: [
        ap('foo', 'a', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/x/sa/y'] } }] }] }),
        ap('foo', 'b', {
          rules: [{ to: [{ operation: { paths: ['/x'] } }] }, { to: [{ operation: { methods: ['POST'] } }] }],
        }),
        ap('foo', 'c', { action: 'DENY', rules: [{ to: [{ operation: { notPaths: ['/info'] } }] }] }),
        ap('foo', 'nothing', {}),
      ],
    }),
    mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
  });
  const d = a.forWorkload('foo', 'httpbin').checkRequest(conn(), req(), { explain: true });
  assert.equal(d.allowed, false);
  assert.equal(d.reason, 'default deny: no ALLOW policy matches');
  const by = Object.fromEntries(d.trace!.map((t) => [t.policy, t]));
  assert.deepEqual(by['foo/a']!.failures, [
    'rules[0].from[0].source.principals: "cluster.local/ns/default/sa/sleep" not in ["cluster.local/ns/x/sa/y"]',
  ]);
  assert.deepEqual(by['foo/b']!.failures, [
    'rules[0].to[0].operation.paths: "/info" not in ["/x"]',
    'rules[1].to[0].operation.methods: "GET" not in ["POST"]',
  ]);
  assert.deepEqual(by['foo/c']!.failures, ['rules[0].to[0].operation.notPaths: "/info" matches ["/info"]']);
  assert.deepEqual(by['foo/nothing']!.failures, ['no rules: the policy matches nothing']);
  assert.equal(by['foo/c']!.action, 'DENY');
  // Plaintext shows <none>; TCP explains why HTTP rules are skipped.
  const wa = a.forWorkload('foo', 'httpbin');
  const p = wa.checkRequest(conn({ principal: null }), req(), { explain: true });
  assert.match(p.trace!.find((t) => t.policy === 'foo/a')!.failures![0]!, /principals: <none> not in/);
  const t = wa.checkConnection(conn(), { explain: true });
  assert.match(t.trace!.find((x) => x.policy === 'foo/b')!.failures![0]!, /HTTP-only.*TCP/);
});

void test('fast path returns preallocated frozen decisions (no per-request decision objects)', () => {
  const a = compileAuthorization({
    security: security({
      authorizationPolicies: [ap('foo', 'a', { rules: [{ to: [{ operation: { paths: ['/info*'] } }] }] })],
    }),
    mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
  });
  const wa = a.forWorkload('foo', 'httpbin');
  const c = prepareConnection(conn());
  const d1 = wa.checkRequest(c, req());
  const d2 = wa.checkRequest(c, req({ path: '/info/2' }));
  assert.equal(d1, d2);
  assert.ok(Object.isFrozen(d1));
  assert.equal(wa.checkRequest(c, req({ path: '/x' })), wa.checkRequest(c, req({ path: '/y' })));
  assert.equal(a.forWorkload('foo', 'httpbin'), wa, 'authorizers are cached per workload');
});

void test('invalid connection addresses are denied, not thrown', () => {
  const a = compileAuthorization({
    security: security({ authorizationPolicies: [ap('foo', 'a', { rules: [{}] })] }),
    mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
  });
  const d = a.forWorkload('foo', 'httpbin').checkConnection(conn({ ip: 'not-an-ip' }));
  assert.equal(d.allowed, false);
  assert.match(d.reason, /invalid connection/);
});

void test('compile errors list every problem with its field path (WEFT_AUTHZ_INVALID_POLICY)', () => {
  const bad = () =>
    compileAuthorization({
      security: security({
        authorizationPolicies: [
          ap('foo', 'x', {
            action: 'CUSTOM',
            rules: [
              {
                from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }],
                to: [{ operation: { ports: ['http'], paths: ['/a/{*}'] } }],
                when: [{ key: 'experimental.envoy.filters.x[y]', values: ['1'] }, { key: 'source.ip' }],
              },
            ],
          }),
        ],
        networkPolicies: [np('foo', 'n', { ingress: [{ from: [{ ipBlock: { cidr: 'x' } }] }] })],
        peerAuthentications: [pa('foo', 'p', { mtls: { mode: 'SOMETIMES' } })],
      }),
      mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
      workloads: WORKLOADS,
    });
  assert.throws(bad, (e: unknown) => {
    assert.ok(isWeftError(e, 'WEFT_AUTHZ_INVALID_POLICY'));
    const problems = (e.detail as { problems: string[] }).problems;
    assert.deepEqual(problems, [
      'AuthorizationPolicy foo/x: spec.action: CUSTOM is not supported by Weft (no extension providers); use ALLOW or DENY',
      'AuthorizationPolicy foo/x: spec.rules[0].from[0].source.ipBlocks[0]: "10.0.0.0/33" is not an IP address or CIDR',
      'AuthorizationPolicy foo/x: spec.rules[0].to[0].operation.ports[0]: "http" is not a port (0-65535)',
      'AuthorizationPolicy foo/x: spec.rules[0].to[0].operation.paths[0]: path templates ({*}, {**}) are not supported by Weft; use a prefix or suffix match',
      'AuthorizationPolicy foo/x: spec.rules[0].when[0].key: "experimental.envoy.filters.x[y]" is not a supported condition key (request.headers[…], source.ip, remote.ip, source.namespace, source.principal, request.auth.*, destination.ip, destination.port, connection.sni)',
      'AuthorizationPolicy foo/x: spec.rules[0].when[1]: at least one of values or notValues must be set',
    ]);
    return true;
  });
  assert.throws(
    () =>
      compileAuthorization({
        security: security({
          networkPolicies: [np('foo', 'n', { ingress: [{ from: [{ ipBlock: { cidr: 'x' } }] }] })],
        }),
        mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
        workloads: WORKLOADS,
      }),
    /NetworkPolicy foo\/n: spec.ingress\[0\].from\[0\].ipBlock.cidr: "x" is not a CIDR/,
  );
  assert.throws(
    () =>
      compileAuthorization({
        security: security({ peerAuthentications: [pa('foo', 'p', { mtls: { mode: 'SOMETIMES' } })] }),
        mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
        workloads: WORKLOADS,
      }),
    /PeerAuthentication foo\/p: spec.mtls.mode: "SOMETIMES" is not one of/,
  );
});

void test('NetworkPolicy explain lists each selecting policy and why its rules fail', () => {
  const a = compileAuthorization({
    security: security({
      networkPolicies: [
        np('default', 'a', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }),
        np('default', 'b', {
          podSelector: {},
          ingress: [{ from: [{ podSelector: { matchLabels: { role: 'x' } } }] }],
        }),
      ],
    }),
    mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
  });
  const d = a.checkIngress(
    { namespace: 'default', name: 'db' },
    { ip: '10.0.0.1', namespace: 'default', labels: {} },
    81,
    'TCP',
    {
      explain: true,
    },
  );
  assert.equal(d.allowed, false);
  assert.match(d.reason, /isolated for ingress by NetworkPolicy default\/a, default\/b/);
  assert.deepEqual(
    d.trace!.map((t) => [t.policy, t.matched, t.failures]),
    [
      ['default/a', false, ['ingress[0].ports: TCP/81 is not listed']],
      ['default/b', false, ['ingress[0].from: peer labels do not match podSelector']],
    ],
  );
});

void test("servicesOf from the snapshot: targetRefs reach the Service's workloads", async () => {
  const { servicesOfFromSnapshot } = await import('./authorizer.ts');
  const servicesOf = servicesOfFromSnapshot([
    {
      namespace: 'foo',
      name: 'web',
      endpoints: [
        {
          instance: 'httpbin-0',
          namespace: 'foo',
          workload: 'httpbin',
          address: '127.1.0.1',
          node: 'n',
          spiffeId: '',
          labels: {},
          weight: 1,
          locality: '',
        },
        {
          instance: 'httpbin-1',
          namespace: 'foo',
          workload: 'httpbin',
          address: '127.1.0.2',
          node: 'n',
          spiffeId: '',
          labels: {},
          weight: 1,
          locality: '',
        },
      ],
    },
  ]);
  const a = compileAuthorization({
    security: security({
      authorizationPolicies: [
        ap('foo', 't', { targetRefs: [{ kind: 'Service', name: 'web' }], rules: [{}] }),
      ],
    }),
    mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
    servicesOf,
  });
  assert.equal(a.forWorkload('foo', 'httpbin').checkConnection(conn()).allowed, true);
  assert.equal(a.forWorkload('foo', 'other').checkConnection(conn()).allowed, false);
  assert.deepEqual(a.forWorkload('foo', 'httpbin').policies, ['foo/t']);
});
