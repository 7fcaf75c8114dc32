/**
 * Property tests (fast-check) for the invariants the analyser relies on: DENY always wins; a policy
 * that selects other workloads never changes a decision; a `not*` field negates its positive field
 * exactly; the explained decision equals the fast one; without L7 needs, the L4 and L7 checks agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PolicyObject } from '../../api/wire/snapshot.ts';
import { compileAuthorization } from './authorizer.ts';
import type { Decision } from './types.ts';
import { ROOT, WORKLOADS, ap, conn, req, security } from './fixtures.test-util.ts';
import type { ConnSpec, ReqSpec } from './fixtures.test-util.ts';

const VOCAB = {
  principals: ['cluster.local/ns/default/sa/sleep', 'cluster.local/ns/dev/*', '*/sa/admin', '*'],
  namespaces: ['default', 'dev', 'pro*', '*'],
  ipBlocks: ['10.0.0.0/24', '10.0.0.5', '192.168.0.0/16', '2001:db8::/32'],
  hosts: ['httpbin.foo', '*.example.com', 'API.example.com', '*'],
  methods: ['GET', 'POST', 'DELETE'],
  paths: ['/info*', '/admin', '/admin/*', '*/status', '/data'],
  ports: ['8000', '8080', '443'],
};
type Field = keyof typeof VOCAB;
const SOURCE_FIELDS: Field[] = ['principals', 'namespaces', 'ipBlocks'];
const OP_FIELDS: Field[] = ['hosts', 'methods', 'paths', 'ports'];

const fieldValues = (f: Field) => fc.subarray(VOCAB[f], { minLength: 1, maxLength: 2 });
const record = (fields: Field[]) =>
  fc
    .array(
      fc
        .tuple(fc.constantFrom(...fields), fc.boolean())
        .chain(([f, neg]) =>
          fieldValues(f).map((v) => [neg ? `not${f[0]!.toUpperCase()}${f.slice(1)}` : f, v] as const),
        ),
      { maxLength: 2 },
    )
    .map((entries) => Object.fromEntries(entries));

const condition = fc.oneof(
  fc.record({
    key: fc.constant('request.headers[x-team]'),
    values: fc.subarray(['a', 'b*', '*'], { minLength: 1 }),
  }),
  fc.record({
    key: fc.constant('source.ip'),
    notValues: fc.subarray(['10.0.0.0/8', '172.16.0.0/12'], { minLength: 1 }),
  }),
  fc.record({
    key: fc.constant('destination.port'),
    values: fc.subarray(['8000', '9000'], { minLength: 1 }),
  }),
);

const rule = fc.record(
  {
    from: fc.array(
      record(SOURCE_FIELDS).map((source) => ({ source })),
      { maxLength: 2 },
    ),
    to: fc.array(
      record(OP_FIELDS).map((operation) => ({ operation })),
      { maxLength: 2 },
    ),
    when: fc.array(condition, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

let counter = 0;
const policyArb = (ns: fc.Arbitrary<string>, selector: fc.Arbitrary<Record<string, string> | undefined>) =>
  fc
    .record({
      ns,
      selector,
      action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT', undefined),
      rules: fc.option(fc.array(rule, { maxLength: 3 }), { nil: undefined }),
    })
    .map(({ ns: n, selector: s, action, rules }) =>
      ap(n, `p${counter++}`, {
        ...(s ? { selector: { matchLabels: s } } : {}),
        ...(action ? { action } : {}),
        ...(rules ? { rules } : {}),
      }),
    );

const applicablePolicies = fc.array(
  policyArb(
    fc.constantFrom('foo', ROOT),
    fc.constantFrom<Record<string, string> | undefined>(undefined, { app: 'httpbin' }, { version: 'v1' }),
  ),
  { maxLength: 5 },
);
const unrelatedPolicy = policyArb(
  fc.constantFrom('bar', 'ns1', 'foo'),
  fc.constantFrom<Record<string, string> | undefined>({ app: 'nope' }, { app: 'finance' }, { version: 'v9' }),
).filter((p) => p.metadata.namespace !== 'foo' || p.spec['selector'] !== undefined);

const connArb: fc.Arbitrary<ConnSpec> = fc.record({
  principal: fc.constantFrom(
    'spiffe://cluster.local/ns/default/sa/sleep',
    'spiffe://cluster.local/ns/dev/sa/admin',
    'spiffe://cluster.local/ns/prod/sa/x',
    null,
  ),
  ip: fc.constantFrom('10.0.0.5', '192.168.1.1', '2001:db8::7', '172.16.0.1'),
  port: fc.constantFrom(8000, 8080, 443, 9000),
});
const reqArb: fc.Arbitrary<ReqSpec> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE'),
  path: fc.constantFrom(
    '/info',
    '/info/x',
    '/admin',
    '//admin',
    '/x/../admin/y',
    '/a/status',
    '/data?q=1',
    '/%61dmin',
  ),
  host: fc.constantFrom('httpbin.foo', 'api.example.com', 'HTTPBIN.FOO', 'other'),
  headers: fc.constantFrom<Record<string, string>>({}, { 'x-team': 'a' }, { 'x-team': 'bee' }),
});

function engine(policies: PolicyObject[], mode: 'deny' | 'allow' = 'deny') {
  return compileAuthorization({
    security: security({ authorizationPolicies: policies }),
    mesh: { defaultPolicy: mode, rootNamespace: ROOT },
    workloads: WORKLOADS,
  }).forWorkload('foo', 'httpbin');
}

function same(a: Decision, b: Decision): void {
  assert.equal(a.allowed, b.allowed);
  assert.equal(a.policy, b.policy);
  assert.equal(a.rule, b.rule);
  assert.equal(a.audit, b.audit);
  assert.equal(a.reason, b.reason);
}

const mode = fc.constantFrom<'deny' | 'allow'>('deny', 'allow');

void test('property: when any DENY policy matches, the decision is deny (L7 and L4)', () => {
  fc.assert(
    fc.property(applicablePolicies, connArb, reqArb, mode, (ps, c, r, m) => {
      const wa = engine(ps, m);
      for (const d of [
        wa.checkRequest(conn(c), req(r), { explain: true }),
        wa.checkConnection(conn(c), { explain: true }),
      ]) {
        if (d.trace!.some((t) => t.action === 'DENY' && t.matched)) assert.equal(d.allowed, false);
      }
    }),
    { numRuns: 400 },
  );
});

void test('property: adding a DENY policy with rules [{}] denies everything', () => {
  fc.assert(
    fc.property(applicablePolicies, connArb, reqArb, mode, (ps, c, r, m) => {
      const wa = engine([...ps, ap('foo', 'zz-deny-all', { action: 'DENY', rules: [{}] })], m);
      assert.equal(wa.checkRequest(conn(c), req(r)).allowed, false);
      assert.equal(wa.checkConnection(conn(c)).allowed, false);
    }),
    { numRuns: 200 },
  );
});

void test('property: adding a policy that selects other workloads never changes a decision', () => {
  fc.assert(
    fc.property(
      applicablePolicies,
      fc.array(unrelatedPolicy, { minLength: 1, maxLength: 4 }),
      connArb,
      reqArb,
      mode,
      (ps, extra, c, r, m) => {
        const a = engine(ps, m);
        const b = engine([...ps, ...extra], m);
        same(a.checkRequest(conn(c), req(r)), b.checkRequest(conn(c), req(r)));
        same(a.checkConnection(conn(c)), b.checkConnection(conn(c)));
        assert.deepEqual(a.policies, b.policies);
      },
    ),
    { numRuns: 300 },
  );
});

void test('property: a not* field matches exactly when its positive field does not', () => {
  const allFields = [...SOURCE_FIELDS, ...OP_FIELDS];
  fc.assert(
    fc.property(fc.constantFrom(...allFields), connArb, reqArb, (f, c, r) => {
      const values = VOCAB[f];
      const where = SOURCE_FIELDS.includes(f) ? 'from' : 'to';
      const wrap = (name: string) =>
        where === 'from'
          ? { from: [{ source: { [name]: values } }] }
          : { to: [{ operation: { [name]: values } }] };
      const neg = `not${f[0]!.toUpperCase()}${f.slice(1)}`;
      const pos = engine([ap('foo', 'p', { rules: [wrap(f)] })]).checkRequest(conn(c), req(r));
      const not = engine([ap('foo', 'p', { rules: [wrap(neg)] })]).checkRequest(conn(c), req(r));
      assert.notEqual(pos.allowed, not.allowed, `${f}: ${pos.reason} / ${not.reason}`);
    }),
    { numRuns: 400 },
  );
});

void test('property: explained decisions equal fast decisions', () => {
  fc.assert(
    fc.property(applicablePolicies, connArb, reqArb, mode, (ps, c, r, m) => {
      const wa = engine(ps, m);
      const fast = wa.checkRequest(conn(c), req(r));
      const slow = wa.checkRequest(conn(c), req(r), { explain: true });
      same(fast, { ...slow, reason: slow.reason });
      same(wa.checkConnection(conn(c)), wa.checkConnection(conn(c), { explain: true }));
      assert.equal(slow.trace!.length, wa.policies.length);
    }),
    { numRuns: 300 },
  );
});

void test('property: when a port needs no L7, the L4 decision equals every L7 decision', () => {
  fc.assert(
    fc.property(applicablePolicies, connArb, reqArb, mode, (ps, c, r, m) => {
      const wa = engine(ps, m);
      fc.pre(!wa.needsL7(c.port ?? 8000));
      // A request rejected by normalisation never reaches policy evaluation; those are L7-only.
      fc.pre(!/^[^/]/.test(r.path ?? '/'));
      const l4 = wa.checkConnection(conn(c));
      const l7 = wa.checkRequest(conn(c), req(r));
      assert.equal(l4.allowed, l7.allowed);
      assert.equal(l4.policy, l7.policy);
    }),
    { numRuns: 400 },
  );
});
