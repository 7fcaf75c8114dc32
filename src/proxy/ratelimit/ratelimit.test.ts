import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/index.ts';
import type { RateLimitPolicySpec } from '../../api/index.ts';
import { TokenBucketLimiter } from './token-bucket.ts';
import { gcraStep } from './gcra.ts';
import { rateLimitHeaders } from './decision.ts';
import { RateLimiter, type RateLimitRequest } from './rate-limiter.ts';
import { encodeCommand, parseReply, RespError } from './resp-client.ts';
import type { GlobalRateLimitStore } from './redis-store.ts';

void test('token bucket: burst of limit, then refill at limit/period', () => {
  const clock = new FakeClock();
  const tb = new TokenBucketLimiter(clock);
  const got = Array.from({ length: 6 }, () => tb.take('k', 5, 1000));
  assert.deepEqual(
    got.map((d) => [d.allowed, d.remaining]),
    [
      [true, 4],
      [true, 3],
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ],
  );
  assert.equal(got[5]!.retryAfterMs, 200);
  clock.advance(199);
  assert.equal(tb.take('k', 5, 1000).allowed, false);
  clock.advance(1);
  assert.equal(tb.take('k', 5, 1000).allowed, true);
  assert.equal(tb.take('other', 5, 1000).remaining, 4, 'keys are independent');
});

void test('token bucket: the number of keys is bounded', () => {
  const tb = new TokenBucketLimiter(new FakeClock(), 3);
  for (let i = 0; i < 10; i++) tb.take(`k${i}`, 1, 1000);
  assert.equal(tb.size, 3);
});

void test('GCRA: burst of limit, then one per emission interval; retry-after exact', () => {
  let tat: number | undefined;
  const step = (now: number) => {
    const r = gcraStep(tat, now, 4, 1000);
    if (r.allowed) tat = r.tat;
    return r;
  };
  assert.deepEqual(
    [0, 0, 0, 0].map((t) => step(t).remaining),
    [3, 2, 1, 0],
  );
  const denied = step(100);
  assert.equal(denied.allowed, false);
  assert.equal(denied.retryAfterMs, 150);
  assert.equal(step(249).allowed, false);
  assert.equal(step(250).allowed, true);
  // After a full idle period the burst is back.
  assert.equal(step(5000).remaining, 3);
  // Fractional intervals do not lose a request to rounding (3 per second: T = 333.33…).
  tat = undefined;
  const r = [0, 0, 0].map(() => {
    const x = gcraStep(tat, 0, 3, 1000);
    tat = x.tat;
    return x.allowed;
  });
  assert.deepEqual(r, [true, true, true]);
});

void test('headers: limit, remaining, reset in seconds; retry-after only when refused', () => {
  assert.deepEqual(
    rateLimitHeaders({ allowed: true, limit: 10, remaining: 3, resetMs: 1500, retryAfterMs: 0 }),
    [
      ['x-ratelimit-limit', '10'],
      ['x-ratelimit-remaining', '3'],
      ['x-ratelimit-reset', '2'],
    ],
  );
  assert.deepEqual(
    rateLimitHeaders({ allowed: false, limit: 10, remaining: 0, resetMs: 60_000, retryAfterMs: 10 }).at(-1),
    ['retry-after', '1'],
  );
});

const request = (
  r: Partial<RateLimitRequest> & { headers?: Record<string, string> } = {},
): RateLimitRequest => ({
  sourceIdentity: r.sourceIdentity ?? 'spiffe://td/ns/a/sa/x',
  path: r.path ?? '/',
  route: r.route ?? '',
  header: (n) => r.headers?.[n],
});

const policy = (
  rules: RateLimitPolicySpec['rules'],
  extra: Partial<RateLimitPolicySpec> = {},
): RateLimitPolicySpec => ({
  targetRef: { group: '', kind: 'Service', name: 's' },
  mode: 'local',
  failureMode: 'open',
  rules,
  ...extra,
});

void test('local policy: per-identity counters, header and path descriptors, value matches', () => {
  const clock = new FakeClock();
  const rl = new RateLimiter(
    'ns/p',
    policy([
      {
        name: 'per-caller',
        descriptors: [{ key: 'SourceIdentity' }],
        limit: { requests: 2, unit: 'second' },
      },
      {
        name: 'api-user',
        descriptors: [
          { key: 'Header', header: 'X-User' },
          { key: 'Path', value: '/api' },
        ],
        limit: { requests: 1, unit: 'minute' },
      },
    ]),
    clock,
  );
  const a = request({ sourceIdentity: 'a' });
  assert.equal((rl.check(a) as { allowed: boolean }).allowed, true);
  assert.equal((rl.check(a) as { allowed: boolean }).allowed, true);
  const third = rl.check(a) as {
    allowed: boolean;
    status: number;
    rule: string;
    headers: [string, string][];
  };
  assert.deepEqual([third.allowed, third.status, third.rule], [false, 429, 'per-caller']);
  assert.equal(new Map(third.headers).get('retry-after'), '1');
  assert.equal((rl.check(request({ sourceIdentity: 'b' })) as { allowed: boolean }).allowed, true);
  // api-user applies only under /api with the header; /apix does not match the prefix.
  const u = (path: string, user?: string) =>
    rl.check(
      request({
        sourceIdentity: `c-${path}-${user}`,
        path,
        ...(user ? { headers: { 'x-user': user } } : {}),
      }),
    ) as {
      allowed: boolean;
      rule: string;
    };
  assert.equal(u('/api/x', 'ann').allowed, true);
  const second = rl.check(
    request({ sourceIdentity: 'other', path: '/api', headers: { 'x-user': 'ann' } }),
  ) as {
    allowed: boolean;
    rule: string;
  };
  assert.deepEqual([second.allowed, second.rule], [false, 'api-user']);
  assert.equal(u('/api/x', 'bob').allowed, true, 'another user');
  assert.equal(u('/apix', 'ann').allowed, true, 'prefix on segment boundaries');
  assert.equal(u('/api/y').allowed, true, 'no header: rule does not apply');
  assert.deepEqual(rl.stats, { allowed: 7, limited: 2, storeErrors: 0, failedOpen: 0, failedClosed: 0 });
});

void test('no applicable rule: allowed without headers', () => {
  const rl = new RateLimiter(
    'ns/p',
    policy([
      { name: 'r', descriptors: [{ key: 'Route', value: 'checkout' }], limit: { requests: 1, unit: 'hour' } },
    ]),
    new FakeClock(),
  );
  const r = rl.check(request({ route: 'browse' })) as { allowed: boolean; headers: unknown[] };
  assert.deepEqual([r.allowed, r.headers.length], [true, 0]);
});

void test('global policy: store decisions, and failureMode when the store throws', async () => {
  let fail = false;
  const calls: string[] = [];
  const store: GlobalRateLimitStore = {
    check(key, limit) {
      calls.push(key);
      if (fail) return Promise.reject(new Error('down'));
      return Promise.resolve({ allowed: false, limit, remaining: 0, resetMs: 1000, retryAfterMs: 2500 });
    },
  };
  const rules: RateLimitPolicySpec['rules'] = [
    { name: 'all', descriptors: [], limit: { requests: 5, unit: 'second' } },
  ];
  const open = new RateLimiter(
    'ns/p',
    policy(rules, { mode: 'global', failureMode: 'open' }),
    new FakeClock(),
    store,
  );
  const closed = new RateLimiter(
    'ns/p',
    policy(rules, { mode: 'global', failureMode: 'closed' }),
    new FakeClock(),
    store,
  );
  const r = await open.check(request());
  assert.deepEqual([r.allowed, new Map(r.headers).get('retry-after')], [false, '3']);
  assert.deepEqual(calls, ['ns/p/all']);
  fail = true;
  assert.deepEqual(
    [(await open.check(request())).allowed, (await closed.check(request())).allowed],
    [true, false],
  );
  assert.deepEqual(open.stats, { allowed: 1, limited: 1, storeErrors: 1, failedOpen: 1, failedClosed: 0 });
  assert.equal(closed.stats.failedClosed, 1);
  const noStore = new RateLimiter('ns/p', policy(rules, { mode: 'global' }), new FakeClock());
  assert.equal(noStore.mode, 'local', 'without a store a global policy is enforced per proxy');
});

void test('RESP: encoding and incremental parsing of every reply type', () => {
  assert.equal(encodeCommand(['GET', 'k', 1]).toString(), '*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\n1\r\n');
  const wire = Buffer.from(
    '+OK\r\n-NOSCRIPT x\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*3\r\n:1\r\n$1\r\na\r\n*1\r\n+b\r\n',
  );
  const out: unknown[] = [];
  let at = 0;
  for (let i = 0; i < 10; i++) {
    const r = parseReply(wire, at);
    if (!r) break;
    out.push(r[0]);
    at = r[1];
  }
  assert.equal(at, wire.length);
  assert.deepEqual(out, ['OK', new RespError('NOSCRIPT x'), 42, 'hello', null, [1, 'a', ['b']]]);
  // Any prefix of the nested array is incomplete until its last byte arrives.
  const arr = wire.subarray(wire.indexOf('*3'));
  for (let cut = 0; cut < arr.length; cut++)
    assert.equal(parseReply(arr.subarray(0, cut)), undefined, String(cut));
  assert.deepEqual(parseReply(arr)?.[0], [1, 'a', ['b']]);
  assert.equal(parseReply(Buffer.from('$5\r\nhel')), undefined);
  assert.throws(() => parseReply(Buffer.from('?x\r\n')), /bad RESP type/);
});
