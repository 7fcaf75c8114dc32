/**
 * The AuthorizationPolicy part of the semantic table (shared by the engine's unit tests and the
 * end-to-end sample that drives real proxies). The semantic table: cases taken from the upstream documentation, each citing where it comes from,
 * run against the engine. Abbreviations:
 *   AP   Istio "Authorization Policy" reference (istio.io/latest/docs/reference/config/security/authorization-policy/)
 *   COND Istio "Authorization Policy Conditions" (…/security/conditions/)
 *   NORM Istio "Authorization Policy Normalization" (…/security/normalization/)
 *   TCP  Istio task "Authorization for TCP traffic" and AP's note on DENY rules for TCP
 *   PA   Istio "PeerAuthentication" reference (…/security/peer_authentication/)
 *   NP   Kubernetes "Network Policies" concept page and NetworkPolicySpec API reference
 *   WEFT Weft's documented differences (docs/authorization.md)
 */
import type { PolicyObject } from '../../api/wire/snapshot.ts';
import { ROOT, ap } from './fixtures.test-util.ts';
import type { ConnSpec, ReqSpec } from './fixtures.test-util.ts';

export interface AuthzCase {
  cite: string;
  name: string;
  policies: PolicyObject[];
  mode?: 'deny' | 'allow';
  target?: [string, string];
  conn?: ConnSpec;
  /** Omitted: an HTTP request with defaults. `'tcp'`: checkConnection. */
  req?: ReqSpec | 'tcp';
  allowed: boolean;
  policy?: string;
  rule?: number;
  audit?: boolean;
  reason?: RegExp;
}

const allowAll = (ns = 'foo', name = 'allow-all') => ap(ns, name, { rules: [{}] });
const allowNothing = (ns = 'foo', name = 'allow-nothing') => ap(ns, name, {});
export const src = (source: Record<string, unknown>) => ({ from: [{ source }] });
export const op = (operation: Record<string, unknown>) => ({ to: [{ operation }] });
export const when = (...c: Record<string, unknown>[]) => ({ when: c });

// AP introduction example, without its JWT condition (Weft has no request authentication).
const httpbin = ap('foo', 'httpbin', {
  action: 'ALLOW',
  rules: [
    {
      from: [
        { source: { principals: ['cluster.local/ns/default/sa/sleep'] } },
        { source: { namespaces: ['test'] } },
      ],
      to: [
        { operation: { methods: ['GET'], paths: ['/info*'] } },
        { operation: { methods: ['POST'], paths: ['/data'] } },
      ],
    },
  ],
});
const httpbinJwt = ap('foo', 'httpbin', {
  rules: [
    {
      from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }],
      to: [{ operation: { methods: ['GET'], paths: ['/info*'] } }],
      when: [{ key: 'request.auth.claims[iss]', values: ['https://accounts.google.com'] }],
    },
  ],
});
const denyDevPost = ap('foo', 'deny-dev', {
  action: 'DENY',
  rules: [{ ...src({ namespaces: ['dev'] }), ...op({ methods: ['POST'] }) }],
});
export const denyPost8080 = ap('foo', 'deny-8080', {
  action: 'DENY',
  rules: [op({ methods: ['POST'], ports: ['8080'] })],
});
const DEV = 'spiffe://cluster.local/ns/dev/sa/app';
const TEST = 'spiffe://cluster.local/ns/test/sa/anything';
export const denyAdmin = ap('foo', 'deny-admin', {
  action: 'DENY',
  rules: [op({ paths: ['/admin', '/admin/*'] })],
});

export const sel = (labels: Record<string, string>) => ({ selector: { matchLabels: labels } });

export const AUTHZ: AuthzCase[] = [
  // --- AP introduction example
  {
    cite: 'AP intro example',
    name: 'sleep GET /info',
    policies: [httpbin],
    allowed: true,
    policy: 'foo/httpbin',
    rule: 0,
  },
  {
    cite: 'AP intro example (prefix /info*)',
    name: 'sleep GET /info/x',
    policies: [httpbin],
    req: { path: '/info/x' },
    allowed: true,
  },
  {
    cite: 'AP intro example',
    name: 'sleep GET /inf',
    policies: [httpbin],
    req: { path: '/inf' },
    allowed: false,
  },
  {
    cite: 'AP intro example',
    name: 'sleep POST /data',
    policies: [httpbin],
    req: { method: 'POST', path: '/data' },
    allowed: true,
  },
  {
    cite: 'AP intro example (exact /data)',
    name: 'sleep POST /data/x',
    policies: [httpbin],
    req: { method: 'POST', path: '/data/x' },
    allowed: false,
  },
  {
    cite: 'AP intro example (to ORed, fields ANDed)',
    name: 'sleep GET /data',
    policies: [httpbin],
    req: { path: '/data' },
    allowed: false,
  },
  {
    cite: 'AP intro example (from ORed)',
    name: 'namespace test GET /info',
    policies: [httpbin],
    conn: { principal: TEST },
    allowed: true,
  },
  {
    cite: 'AP intro example',
    name: 'namespace dev GET /info',
    policies: [httpbin],
    conn: { principal: DEV },
    allowed: false,
  },
  {
    cite: 'AP Source.principals "requires mTLS"',
    name: 'plaintext GET /info',
    policies: [httpbin],
    conn: { principal: null },
    allowed: false,
  },
  {
    cite: 'AP intro example',
    name: 'sleep PUT /info',
    policies: [httpbin],
    req: { method: 'PUT' },
    allowed: false,
  },
  {
    cite: 'AP intro example with JWT condition; WEFT no request authentication',
    name: 'JWT claim never present',
    policies: [httpbinJwt],
    allowed: false,
  },
  {
    cite: 'TCP: ALLOW rule with HTTP-only fields is ignored',
    name: 'intro example on TCP',
    policies: [httpbin],
    req: 'tcp',
    allowed: false,
  },

  // --- AP DENY example: dev may not POST
  {
    cite: 'AP DENY example (dev, POST)',
    name: 'dev POST denied',
    policies: [denyDevPost, allowAll()],
    conn: { principal: DEV },
    req: { method: 'POST' },
    allowed: false,
    policy: 'foo/deny-dev',
    rule: 0,
  },
  {
    cite: 'AP DENY example',
    name: 'dev GET allowed',
    policies: [denyDevPost, allowAll()],
    conn: { principal: DEV },
    allowed: true,
    policy: 'foo/allow-all',
  },
  {
    cite: 'AP DENY example',
    name: 'default POST allowed',
    policies: [denyDevPost, allowAll()],
    req: { method: 'POST' },
    allowed: true,
  },
  {
    cite: 'AP Source.namespaces "requires mTLS"',
    name: 'plaintext POST not matched by namespaces',
    policies: [denyDevPost, allowAll()],
    conn: { principal: null },
    req: { method: 'POST' },
    allowed: true,
  },
  {
    cite: 'TCP: DENY drops HTTP-only fields',
    name: 'dev TCP denied',
    policies: [denyDevPost, allowAll()],
    conn: { principal: DEV },
    req: 'tcp',
    allowed: false,
    policy: 'foo/deny-dev',
  },
  {
    cite: 'TCP: DENY drops HTTP-only fields, from still applies',
    name: 'default TCP allowed',
    policies: [denyDevPost, allowAll()],
    req: 'tcp',
    allowed: true,
  },

  // --- AP DENY example: POST on 8080
  {
    cite: 'AP DENY POST 8080 example',
    name: 'POST on 8080',
    policies: [denyPost8080, allowAll()],
    conn: { port: 8080 },
    req: { method: 'POST' },
    allowed: false,
  },
  {
    cite: 'AP DENY POST 8080 example',
    name: 'GET on 8080',
    policies: [denyPost8080, allowAll()],
    conn: { port: 8080 },
    allowed: true,
  },
  {
    cite: 'AP DENY POST 8080 example',
    name: 'POST on 9000',
    policies: [denyPost8080, allowAll()],
    conn: { port: 9000 },
    req: { method: 'POST' },
    allowed: true,
  },
  {
    cite: 'AP note: "all TCP traffic on port 8080 would be denied"',
    name: 'TCP on 8080',
    policies: [denyPost8080, allowAll()],
    conn: { port: 8080 },
    req: 'tcp',
    allowed: false,
  },
  {
    cite: 'AP note (scoped by port)',
    name: 'TCP on 9000',
    policies: [denyPost8080, allowAll()],
    conn: { port: 9000 },
    req: 'tcp',
    allowed: true,
  },

  // --- AP AUDIT example
  {
    cite: 'AP AUDIT example',
    name: 'GET /user/profile/x audited',
    policies: [
      ap('ns1', 'anyname', {
        ...sel({ app: 'myapi' }),
        action: 'AUDIT',
        rules: [op({ methods: ['GET'], paths: ['/user/profile/*'] })],
      }),
      allowAll('ns1'),
    ],
    target: ['ns1', 'myapi'],
    req: { path: '/user/profile/x' },
    allowed: true,
    audit: true,
  },
  {
    cite: 'AP AUDIT example',
    name: 'POST /user/profile/x not audited',
    policies: [
      ap('ns1', 'anyname', {
        ...sel({ app: 'myapi' }),
        action: 'AUDIT',
        rules: [op({ methods: ['GET'], paths: ['/user/profile/*'] })],
      }),
      allowAll('ns1'),
    ],
    target: ['ns1', 'myapi'],
    req: { method: 'POST', path: '/user/profile/x' },
    allowed: true,
    audit: undefined,
  },
  {
    cite: 'AP "AUDIT policies do not affect whether requests are allowed or denied"',
    name: 'audit with deny',
    policies: [
      ap('ns1', 'audit', { action: 'AUDIT', rules: [{}] }),
      ap('ns1', 'deny', { action: 'DENY', rules: [{}] }),
    ],
    target: ['ns1', 'myapi'],
    allowed: false,
    audit: true,
  },
  {
    cite: 'AP "AUDIT policies do not affect…"',
    name: 'audit alone does not allow under default deny',
    policies: [ap('ns1', 'audit', { action: 'AUDIT', rules: [{}] })],
    target: ['ns1', 'myapi'],
    allowed: false,
    audit: true,
  },

  // --- AP scope examples
  {
    cite: 'AP allow-nothing example',
    name: 'allow-nothing denies',
    policies: [allowNothing()],
    mode: 'allow',
    allowed: false,
  },
  {
    cite: 'AP allow-nothing example',
    name: 'allow-nothing denies TCP',
    policies: [allowNothing()],
    mode: 'allow',
    req: 'tcp',
    allowed: false,
  },
  { cite: 'AP allow-all example', name: 'allow-all allows', policies: [allowAll()], allowed: true },
  {
    cite: 'AP allow-all example',
    name: 'allow-all allows TCP',
    policies: [allowAll()],
    req: 'tcp',
    allowed: true,
  },
  {
    cite: 'AP allow-all example ("An empty rule is always matched")',
    name: 'allow-all allows plaintext',
    policies: [allowAll()],
    conn: { principal: null },
    allowed: true,
  },
  {
    cite: 'AP allow-nothing for app: httpbin in bar',
    name: 'selected workload denied',
    policies: [ap('bar', 'allow-nothing', sel({ app: 'httpbin' }))],
    mode: 'allow',
    target: ['bar', 'httpbin'],
    allowed: false,
  },
  {
    cite: 'AP allow-nothing for app: httpbin in bar',
    name: 'unselected workload falls to default allow',
    policies: [ap('bar', 'allow-nothing', sel({ app: 'httpbin' }))],
    mode: 'allow',
    target: ['bar', 'other'],
    allowed: true,
  },
  {
    cite: 'WEFT default deny',
    name: 'unselected workload falls to default deny',
    policies: [ap('bar', 'allow-nothing', sel({ app: 'httpbin' }))],
    target: ['bar', 'other'],
    allowed: false,
    reason: /^default deny: no ALLOW policy matches$/,
  },
  {
    cite: 'AP root namespace example (version: v1, all namespaces)',
    name: 'root policy selects v1 in foo',
    policies: [ap(ROOT, 'allow-nothing', sel({ version: 'v1' }))],
    mode: 'allow',
    allowed: false,
  },
  {
    cite: 'AP root namespace example',
    name: 'root policy does not select v2',
    policies: [ap(ROOT, 'allow-nothing', sel({ version: 'v1' }))],
    mode: 'allow',
    target: ['foo', 'other'],
    allowed: true,
  },
  {
    cite: 'AP scope: root namespace applies to all namespaces',
    name: 'mesh-wide allow-all',
    policies: [ap(ROOT, 'allow-all', { rules: [{}] })],
    target: ['bar', 'other'],
    allowed: true,
    policy: `${ROOT}/allow-all`,
  },
  {
    cite: 'AP scope: metadata/namespace',
    name: 'policy of another namespace does not apply',
    policies: [allowAll('bar')],
    allowed: false,
  },
  {
    cite: 'AP selector: matches workloads in the same namespace',
    name: 'selector not matching',
    policies: [ap('foo', 'p', { ...sel({ app: 'nope' }), rules: [{}] })],
    allowed: false,
  },
  {
    cite: 'AP selector: matchLabels subset',
    name: 'selector matching a subset of labels',
    policies: [ap('foo', 'p', { ...sel({ app: 'httpbin' }), rules: [{}] })],
    allowed: true,
  },
  {
    cite: 'AP selector: all labels ANDed',
    name: 'selector with two labels, one differs',
    policies: [ap('foo', 'p', { ...sel({ app: 'httpbin', version: 'v2' }), rules: [{}] })],
    allowed: false,
  },

  // --- AP evaluation rules 1-5
  {
    cite: 'AP evaluation rule 2 (DENY before ALLOW)',
    name: 'deny beats allow',
    policies: [ap('foo', 'deny', { action: 'DENY', rules: [{}] }), allowAll()],
    allowed: false,
    policy: 'foo/deny',
  },
  {
    cite: 'AP evaluation rules 2 and 4',
    name: 'deny not matching, allow matching',
    policies: [ap('foo', 'deny', { action: 'DENY', rules: [op({ paths: ['/x'] })] }), allowAll()],
    allowed: true,
  },
  {
    cite: 'AP evaluation rule 3',
    name: 'no policies, defaultPolicy allow',
    policies: [],
    mode: 'allow',
    allowed: true,
  },
  {
    cite: 'WEFT default deny replaces AP rule 3',
    name: 'no policies, defaultPolicy deny',
    policies: [],
    allowed: false,
    reason: /^default deny: no ALLOW policy matches$/,
  },
  {
    cite: 'AP evaluation rule 3 (only DENY policies)',
    name: 'non-matching deny only, mode allow',
    policies: [ap('foo', 'deny', { action: 'DENY', rules: [op({ paths: ['/x'] })] })],
    mode: 'allow',
    allowed: true,
  },
  {
    cite: 'WEFT default deny',
    name: 'non-matching deny only, mode deny',
    policies: [ap('foo', 'deny', { action: 'DENY', rules: [op({ paths: ['/x'] })] })],
    allowed: false,
  },
  {
    cite: 'AP evaluation rule 5',
    name: 'allow present but not matching, mode allow',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['/x'] })] })],
    mode: 'allow',
    allowed: false,
  },
  {
    cite: 'AP evaluation rule 4 (any ALLOW)',
    name: 'second ALLOW policy matches',
    policies: [
      ap('foo', 'a', { rules: [op({ paths: ['/x'] })] }),
      ap('foo', 'b', { rules: [op({ paths: ['/info'] })] }),
    ],
    allowed: true,
    policy: 'foo/b',
  },
  {
    cite: 'AP rules: "If not set, the match will never occur"',
    name: 'ALLOW with rules: []',
    policies: [ap('foo', 'a', { rules: [] })],
    mode: 'allow',
    allowed: false,
  },
  {
    cite: 'AP rules unset for DENY: matches nothing',
    name: 'DENY without rules denies nothing',
    policies: [ap('foo', 'd', { action: 'DENY' }), allowAll()],
    allowed: true,
  },
  {
    cite: 'AP "An empty rule is always matched" (DENY)',
    name: 'DENY rules: [{}] denies everything',
    policies: [ap('foo', 'd', { action: 'DENY', rules: [{}] }), allowAll()],
    allowed: false,
  },
  {
    cite: 'AP Rule: rules ORed',
    name: 'second rule matches',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['/x'] }), op({ paths: ['/info'] })] })],
    allowed: true,
    rule: 1,
  },
  {
    cite: 'AP action default ALLOW',
    name: 'no action is ALLOW',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['/info'] })] })],
    allowed: true,
    policy: 'foo/a',
  },

  // --- String match forms on principals (AP Rule: exact, prefix, suffix, presence)
  {
    cite: 'AP Source.principals exact',
    name: 'exact principal',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['cluster.local/ns/default/sa/sleep'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.principals exact',
    name: 'exact principal mismatch',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['cluster.local/ns/default/sa/other'] })] })],
    allowed: false,
  },
  {
    cite: 'AP Rule prefix match',
    name: 'prefix principal',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['cluster.local/ns/default/*'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Rule prefix match',
    name: 'prefix principal other ns',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['cluster.local/ns/default/*'] })] })],
    conn: { principal: DEV },
    allowed: false,
  },
  {
    cite: 'AP Rule suffix match',
    name: 'suffix principal',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['*/sa/sleep'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Rule suffix match',
    name: 'suffix principal mismatch',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['*/sa/sleepy'] })] })],
    allowed: false,
  },
  {
    cite: 'AP Rule presence match',
    name: 'presence principal with mTLS',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['*'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Rule presence ("value is not empty"); plaintext has no principal',
    name: 'presence principal plaintext',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['*'] })] })],
    conn: { principal: null },
    allowed: false,
  },
  {
    cite: 'AP Source.principals format "<TRUST_DOMAIN>/ns/…" (no spiffe://)',
    name: 'principal written with spiffe:// does not match',
    policies: [
      ap('foo', 'a', { rules: [src({ principals: ['spiffe://cluster.local/ns/default/sa/sleep'] })] }),
    ],
    allowed: false,
  },
  {
    cite: 'AP notPrincipals ["*"] denies plaintext (mTLS-only idiom)',
    name: 'plaintext denied',
    policies: [ap('foo', 'd', { action: 'DENY', rules: [src({ notPrincipals: ['*'] })] }), allowAll()],
    conn: { principal: null },
    allowed: false,
  },
  {
    cite: 'AP notPrincipals ["*"]',
    name: 'mTLS passes',
    policies: [ap('foo', 'd', { action: 'DENY', rules: [src({ notPrincipals: ['*'] })] }), allowAll()],
    allowed: true,
  },
  {
    cite: 'AP Source.notPrincipals',
    name: 'ALLOW notPrincipals excludes sleep',
    policies: [ap('foo', 'a', { rules: [src({ notPrincipals: ['cluster.local/ns/default/sa/sleep'] })] })],
    allowed: false,
  },
  {
    cite: 'AP Source.notPrincipals',
    name: 'ALLOW notPrincipals admits other',
    policies: [ap('foo', 'a', { rules: [src({ notPrincipals: ['cluster.local/ns/default/sa/sleep'] })] })],
    conn: { principal: DEV },
    allowed: true,
  },
  {
    cite: 'AP principals: values ORed',
    name: 'second principal value',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['x', 'cluster.local/ns/default/sa/sleep'] })] })],
    allowed: true,
  },

  // --- namespaces
  {
    cite: 'AP Source.namespaces',
    name: 'namespace match',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['default'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.namespaces',
    name: 'namespace mismatch',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['prod'] })] })],
    allowed: false,
  },
  {
    cite: 'AP Rule presence on namespaces',
    name: 'namespace presence mTLS',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['*'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.namespaces requires mTLS',
    name: 'namespace presence plaintext',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['*'] })] })],
    conn: { principal: null },
    allowed: false,
  },
  {
    cite: 'AP Rule prefix on namespaces',
    name: 'namespace prefix',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['def*'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Rule suffix on namespaces',
    name: 'namespace suffix',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['*ault'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.notNamespaces',
    name: 'notNamespaces admits other',
    policies: [ap('foo', 'a', { rules: [src({ notNamespaces: ['prod'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.notNamespaces',
    name: 'notNamespaces excludes default',
    policies: [ap('foo', 'a', { rules: [src({ notNamespaces: ['default'] })] })],
    allowed: false,
  },
  {
    cite: 'WEFT agent identities (…/ns/<ns>/agent/<name>)',
    name: 'agent namespace',
    policies: [ap('foo', 'a', { rules: [src({ namespaces: ['agents'] })] })],
    conn: { principal: 'spiffe://cluster.local/ns/agents/agent/bot' },
    allowed: true,
  },

  // --- ipBlocks
  {
    cite: 'AP Source.ipBlocks CIDR',
    name: 'source in CIDR',
    policies: [ap('foo', 'a', { rules: [src({ ipBlocks: ['10.0.0.0/24'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.ipBlocks CIDR',
    name: 'source outside CIDR',
    policies: [ap('foo', 'a', { rules: [src({ ipBlocks: ['10.0.0.0/24'] })] })],
    conn: { ip: '10.0.1.5' },
    allowed: false,
  },
  {
    cite: 'AP Source.ipBlocks single IP',
    name: 'single IP',
    policies: [ap('foo', 'a', { rules: [src({ ipBlocks: ['10.0.0.5'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.ipBlocks IPv6',
    name: 'IPv6 in CIDR',
    policies: [ap('foo', 'a', { rules: [src({ ipBlocks: ['2001:db8::/32'] })] })],
    conn: { ip: '2001:db8::1' },
    allowed: true,
  },
  {
    cite: 'AP Source.ipBlocks IPv6',
    name: 'IPv6 outside CIDR',
    policies: [ap('foo', 'a', { rules: [src({ ipBlocks: ['2001:db8::/32'] })] })],
    conn: { ip: '2001:db9::1' },
    allowed: false,
  },
  {
    cite: 'WEFT IPv4-mapped addresses match IPv4 blocks',
    name: 'mapped IPv4',
    policies: [ap('foo', 'a', { rules: [src({ ipBlocks: ['10.0.0.0/24'] })] })],
    conn: { ip: '::ffff:10.0.0.5' },
    allowed: true,
  },
  {
    cite: 'AP Source example notIpBlocks 203.0.113.4',
    name: 'notIpBlocks excludes',
    policies: [ap('foo', 'a', { rules: [src({ notIpBlocks: ['203.0.113.4'] })] })],
    conn: { ip: '203.0.113.4' },
    allowed: false,
  },
  {
    cite: 'AP Source example notIpBlocks',
    name: 'notIpBlocks admits other',
    policies: [ap('foo', 'a', { rules: [src({ notIpBlocks: ['203.0.113.4'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.remoteIpBlocks',
    name: 'remote IP from XFF',
    policies: [ap('foo', 'a', { rules: [src({ remoteIpBlocks: ['198.51.100.0/24'] })] })],
    conn: { remoteIp: '198.51.100.7' },
    allowed: true,
  },
  {
    cite: 'AP Source.remoteIpBlocks defaults to the peer address',
    name: 'remote IP absent',
    policies: [ap('foo', 'a', { rules: [src({ remoteIpBlocks: ['10.0.0.0/8'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Source.remoteIpBlocks',
    name: 'notRemoteIpBlocks',
    policies: [ap('foo', 'a', { rules: [src({ notRemoteIpBlocks: ['198.51.100.0/24'] })] })],
    conn: { remoteIp: '198.51.100.7' },
    allowed: false,
  },

  // --- requestPrincipals (no JWT in Weft)
  {
    cite: 'AP Source.requestPrincipals; WEFT no JWT',
    name: 'requestPrincipals * without JWT',
    policies: [ap('foo', 'a', { rules: [src({ requestPrincipals: ['*'] })] })],
    allowed: false,
  },
  {
    cite: 'AP notRequestPrincipals ["*"] (require-JWT idiom)',
    name: 'request without JWT denied',
    policies: [ap('foo', 'd', { action: 'DENY', rules: [src({ notRequestPrincipals: ['*'] })] }), allowAll()],
    allowed: false,
  },
  {
    cite: 'AP Source.requestPrincipals',
    name: 'request principal supplied',
    policies: [ap('foo', 'a', { rules: [src({ requestPrincipals: ['issuer.example.com/*'] })] })],
    req: { requestPrincipal: 'issuer.example.com/subject' },
    allowed: true,
  },

  // --- Operation: hosts
  {
    cite: 'AP Operation.hosts',
    name: 'host exact',
    policies: [ap('foo', 'a', { rules: [op({ hosts: ['httpbin.foo'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Operation.hosts "case-insensitive"',
    name: 'host upper-case request',
    policies: [ap('foo', 'a', { rules: [op({ hosts: ['httpbin.foo'] })] })],
    req: { host: 'HTTPBIN.Foo' },
    allowed: true,
  },
  {
    cite: 'AP Operation.hosts "case-insensitive"',
    name: 'host upper-case policy',
    policies: [ap('foo', 'a', { rules: [op({ hosts: ['HttpBin.FOO'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Operation example hosts *.example.com',
    name: 'host suffix',
    policies: [ap('foo', 'a', { rules: [op({ hosts: ['*.example.com'] })] })],
    req: { host: 'api.example.com' },
    allowed: true,
  },
  {
    cite: 'Istio security best practices: host with port is a different value',
    name: 'host with port',
    policies: [ap('foo', 'a', { rules: [op({ hosts: ['httpbin.foo'] })] })],
    req: { host: 'httpbin.foo:8000' },
    allowed: false,
  },
  {
    cite: 'AP Operation.notHosts',
    name: 'notHosts',
    policies: [ap('foo', 'a', { rules: [op({ notHosts: ['httpbin.foo'] })] })],
    allowed: false,
  },

  // --- ports
  {
    cite: 'AP Operation.ports',
    name: 'port match',
    policies: [ap('foo', 'a', { rules: [op({ ports: ['8000'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Operation.ports',
    name: 'port mismatch',
    policies: [ap('foo', 'a', { rules: [op({ ports: ['8000'] })] })],
    conn: { port: 9000 },
    allowed: false,
  },
  {
    cite: 'AP Operation.notPorts',
    name: 'notPorts',
    policies: [ap('foo', 'a', { rules: [op({ notPorts: ['8000'] })] })],
    allowed: false,
  },
  {
    cite: 'TCP: ports are a TCP attribute',
    name: 'ports-only ALLOW on TCP',
    policies: [ap('foo', 'a', { rules: [op({ ports: ['8000'] })] })],
    req: 'tcp',
    allowed: true,
  },

  // --- methods
  {
    cite: 'AP Operation.methods',
    name: 'method match',
    policies: [ap('foo', 'a', { rules: [op({ methods: ['GET'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Operation.methods',
    name: 'method mismatch',
    policies: [ap('foo', 'a', { rules: [op({ methods: ['GET'] })] })],
    req: { method: 'HEAD' },
    allowed: false,
  },
  {
    cite: 'NORM "Method not in upper case": rejected',
    name: 'lower-case method',
    policies: [allowAll()],
    req: { method: 'get' },
    allowed: false,
    reason: /upper-case/,
  },
  {
    cite: 'AP Operation.notMethods',
    name: 'notMethods DELETE',
    policies: [ap('foo', 'a', { rules: [op({ notMethods: ['DELETE'] })] })],
    req: { method: 'DELETE' },
    allowed: false,
  },
  {
    cite: 'AP Operation.notMethods',
    name: 'notMethods admits GET',
    policies: [ap('foo', 'a', { rules: [op({ notMethods: ['DELETE'] })] })],
    allowed: true,
  },
  {
    cite: 'AP Operation.methods "For gRPC service, this will always be POST"',
    name: 'gRPC POST path',
    policies: [ap('foo', 'a', { rules: [op({ methods: ['POST'], paths: ['/pkg.Svc/Method'] })] })],
    req: { method: 'POST', path: '/pkg.Svc/Method' },
    allowed: true,
  },

  // --- paths
  {
    cite: 'AP Operation.paths exact',
    name: 'exact path',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['/data'] })] })],
    req: { path: '/data' },
    allowed: true,
  },
  {
    cite: 'AP Operation.paths prefix',
    name: 'prefix path',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['/info*'] })] })],
    req: { path: '/information' },
    allowed: true,
  },
  {
    cite: 'AP Operation.paths suffix',
    name: 'suffix path',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['*/status'] })] })],
    req: { path: '/a/b/status' },
    allowed: true,
  },
  {
    cite: 'AP Operation.paths presence',
    name: 'presence path',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['*'] })] })],
    req: { path: '/' },
    allowed: true,
  },
  {
    cite: 'NORM "Path with query": query removed',
    name: 'query ignored',
    policies: [ap('foo', 'a', { rules: [op({ paths: ['/data'] })] })],
    req: { path: '/data?x=1' },
    allowed: true,
  },
  {
    cite: 'AP Operation example notPaths /admin*',
    name: 'notPaths excludes /admin',
    policies: [ap('foo', 'a', { rules: [op({ notPaths: ['/admin*'] })] })],
    req: { path: '/admin/x' },
    allowed: false,
  },
  {
    cite: 'AP Operation example notPaths /admin*',
    name: 'notPaths admits /public',
    policies: [ap('foo', 'a', { rules: [op({ notPaths: ['/admin*'] })] })],
    req: { path: '/public' },
    allowed: true,
  },

  // --- AP Operation example: fields ANDed
  ...((): AuthzCase[] => {
    const p = [
      ap('foo', 'op', {
        rules: [op({ hosts: ['*.example.com'], methods: ['GET', 'HEAD'], notPaths: ['/admin*'] })],
      }),
    ];
    const c = 'AP Operation example (hosts, methods, notPaths ANDed)';
    return [
      {
        cite: c,
        name: 'GET api.example.com /x',
        policies: p,
        req: { host: 'api.example.com', path: '/x' },
        allowed: true,
      },
      {
        cite: c,
        name: 'HEAD api.example.com /x',
        policies: p,
        req: { method: 'HEAD', host: 'api.example.com', path: '/x' },
        allowed: true,
      },
      {
        cite: c,
        name: 'POST api.example.com /x',
        policies: p,
        req: { method: 'POST', host: 'api.example.com', path: '/x' },
        allowed: false,
      },
      {
        cite: c,
        name: 'GET api.example.com /admin',
        policies: p,
        req: { host: 'api.example.com', path: '/admin' },
        allowed: false,
      },
      {
        cite: c,
        name: 'GET other.com /x',
        policies: p,
        req: { host: 'other.com', path: '/x' },
        allowed: false,
      },
    ];
  })(),

  // --- AP Source example: fields ANDed
  ...((): AuthzCase[] => {
    const p = [
      ap('foo', 'src', {
        rules: [
          src({
            principals: ['*/sa/admin', '*/sa/dev'],
            namespaces: ['prod', 'test'],
            notIpBlocks: ['203.0.113.4'],
          }),
        ],
      }),
    ];
    const c = 'AP Source example (principals, namespaces, notIpBlocks ANDed)';
    return [
      {
        cite: c,
        name: 'admin in prod',
        policies: p,
        conn: { principal: 'spiffe://cluster.local/ns/prod/sa/admin' },
        allowed: true,
      },
      {
        cite: c,
        name: 'dev in test',
        policies: p,
        conn: { principal: 'spiffe://cluster.local/ns/test/sa/dev' },
        allowed: true,
      },
      {
        cite: c,
        name: 'admin in staging',
        policies: p,
        conn: { principal: 'spiffe://cluster.local/ns/staging/sa/admin' },
        allowed: false,
      },
      {
        cite: c,
        name: 'admin in prod from 203.0.113.4',
        policies: p,
        conn: { principal: 'spiffe://cluster.local/ns/prod/sa/admin', ip: '203.0.113.4' },
        allowed: false,
      },
      {
        cite: c,
        name: 'ops in prod',
        policies: p,
        conn: { principal: 'spiffe://cluster.local/ns/prod/sa/ops' },
        allowed: false,
      },
    ];
  })(),

  // --- Conditions
  {
    cite: 'COND request.headers example',
    name: 'User-Agent prefix',
    policies: [
      ap('foo', 'a', { rules: [when({ key: 'request.headers[User-Agent]', values: ['Mozilla/*'] })] }),
    ],
    req: { headers: { 'user-agent': 'Mozilla/5.0' } },
    allowed: true,
  },
  {
    cite: 'COND request.headers',
    name: 'User-Agent mismatch',
    policies: [
      ap('foo', 'a', { rules: [when({ key: 'request.headers[User-Agent]', values: ['Mozilla/*'] })] }),
    ],
    req: { headers: { 'user-agent': 'curl/8' } },
    allowed: false,
  },
  {
    cite: 'COND request.headers',
    name: 'header absent',
    policies: [
      ap('foo', 'a', { rules: [when({ key: 'request.headers[User-Agent]', values: ['Mozilla/*'] })] }),
    ],
    allowed: false,
  },
  {
    cite: 'NORM header names compared case-insensitively',
    name: 'lower-case key',
    policies: [ap('foo', 'a', { rules: [when({ key: 'request.headers[user-agent]', values: ['curl/*'] })] })],
    req: { headers: { 'User-Agent': 'curl/8' } },
    allowed: true,
  },
  {
    cite: 'AP Condition.notValues',
    name: 'notValues header present',
    policies: [ap('foo', 'a', { rules: [when({ key: 'request.headers[x-debug]', notValues: ['*'] })] })],
    req: { headers: { 'x-debug': '1' } },
    allowed: false,
  },
  {
    cite: 'AP Condition.notValues',
    name: 'notValues header absent',
    policies: [ap('foo', 'a', { rules: [when({ key: 'request.headers[x-debug]', notValues: ['*'] })] })],
    allowed: true,
  },
  {
    cite: 'COND source.ip example',
    name: 'source.ip CIDR',
    policies: [ap('foo', 'a', { rules: [when({ key: 'source.ip', values: ['10.1.2.3', '10.2.0.0/16'] })] })],
    conn: { ip: '10.2.3.4' },
    allowed: true,
  },
  {
    cite: 'COND source.ip',
    name: 'source.ip mismatch',
    policies: [ap('foo', 'a', { rules: [when({ key: 'source.ip', values: ['10.1.2.3', '10.2.0.0/16'] })] })],
    allowed: false,
  },
  {
    cite: 'COND remote.ip',
    name: 'remote.ip',
    policies: [ap('foo', 'a', { rules: [when({ key: 'remote.ip', values: ['198.51.100.0/24'] })] })],
    conn: { remoteIp: '198.51.100.1' },
    allowed: true,
  },
  {
    cite: 'COND source.namespace',
    name: 'source.namespace',
    policies: [ap('foo', 'a', { rules: [when({ key: 'source.namespace', values: ['default'] })] })],
    allowed: true,
  },
  {
    cite: 'COND source.principal example',
    name: 'source.principal',
    policies: [
      ap('foo', 'a', {
        rules: [when({ key: 'source.principal', values: ['cluster.local/ns/default/sa/productpage'] })],
      }),
    ],
    conn: { principal: 'spiffe://cluster.local/ns/default/sa/productpage' },
    allowed: true,
  },
  {
    cite: 'COND destination.ip',
    name: 'destination.ip',
    policies: [ap('foo', 'a', { rules: [when({ key: 'destination.ip', values: ['10.0.1.0/24'] })] })],
    allowed: true,
  },
  {
    cite: 'COND destination.port example',
    name: 'destination.port 443',
    policies: [ap('foo', 'a', { rules: [when({ key: 'destination.port', values: ['80', '443'] })] })],
    conn: { port: 443 },
    allowed: true,
  },
  {
    cite: 'COND destination.port',
    name: 'destination.port 8000',
    policies: [ap('foo', 'a', { rules: [when({ key: 'destination.port', values: ['80', '443'] })] })],
    allowed: false,
  },
  {
    cite: 'COND connection.sni example',
    name: 'sni',
    policies: [ap('foo', 'a', { rules: [when({ key: 'connection.sni', values: ['www.example.com'] })] })],
    conn: { sni: 'www.example.com' },
    allowed: true,
  },
  {
    cite: 'COND connection.sni',
    name: 'sni absent',
    policies: [ap('foo', 'a', { rules: [when({ key: 'connection.sni', values: ['*'] })] })],
    allowed: false,
  },
  {
    cite: 'COND request.auth.principal; WEFT no JWT',
    name: 'request.auth.principal absent',
    policies: [ap('foo', 'a', { rules: [when({ key: 'request.auth.principal', values: ['*'] })] })],
    allowed: false,
  },
  {
    cite: 'AP Condition values and notValues ANDed',
    name: 'values and notValues pass',
    policies: [
      ap('foo', 'a', { rules: [when({ key: 'request.headers[x-v]', values: ['a*'], notValues: ['ab'] })] }),
    ],
    req: { headers: { 'x-v': 'ac' } },
    allowed: true,
  },
  {
    cite: 'AP Condition values and notValues ANDed',
    name: 'values and notValues fail',
    policies: [
      ap('foo', 'a', { rules: [when({ key: 'request.headers[x-v]', values: ['a*'], notValues: ['ab'] })] }),
    ],
    req: { headers: { 'x-v': 'ab' } },
    allowed: false,
  },
  {
    cite: 'AP Rule.when: conditions ANDed',
    name: 'one of two conditions fails',
    policies: [
      ap('foo', 'a', {
        rules: [
          when({ key: 'source.namespace', values: ['default'] }, { key: 'destination.port', values: ['1'] }),
        ],
      }),
    ],
    allowed: false,
  },
  {
    cite: 'COND request.headers is HTTP only; TCP ALLOW ignored',
    name: 'header condition on TCP (ALLOW)',
    policies: [ap('foo', 'a', { rules: [when({ key: 'request.headers[x]', values: ['*'] })] })],
    req: 'tcp',
    allowed: false,
  },
  {
    cite: 'COND source.ip supports TCP',
    name: 'source.ip condition on TCP',
    policies: [ap('foo', 'a', { rules: [when({ key: 'source.ip', values: ['10.0.0.0/8'] })] })],
    req: 'tcp',
    allowed: true,
  },
  {
    cite: 'TCP: DENY with HTTP-only condition denies the connection',
    name: 'header condition on TCP (DENY)',
    policies: [
      ap('foo', 'd', { action: 'DENY', rules: [when({ key: 'request.headers[x]', values: ['*'] })] }),
      allowAll(),
    ],
    req: 'tcp',
    allowed: false,
  },

  // --- TCP rules
  {
    cite: 'TCP: rule-level skipping (ALLOW)',
    name: 'HTTP rule skipped, TCP rule allows',
    policies: [ap('foo', 'a', { rules: [op({ methods: ['GET'] }), src({ namespaces: ['default'] })] })],
    req: 'tcp',
    allowed: true,
    rule: 1,
  },
  {
    cite: 'TCP: DENY keeps TCP fields',
    name: 'DENY from dev + path: TCP from default',
    policies: [
      ap('foo', 'd', {
        action: 'DENY',
        rules: [{ ...src({ namespaces: ['dev'] }), ...op({ paths: ['/admin'] }) }],
      }),
      allowAll(),
    ],
    req: 'tcp',
    allowed: true,
  },
  {
    cite: 'TCP: DENY keeps TCP fields',
    name: 'DENY from dev + path: TCP from dev',
    policies: [
      ap('foo', 'd', {
        action: 'DENY',
        rules: [{ ...src({ namespaces: ['dev'] }), ...op({ paths: ['/admin'] }) }],
      }),
      allowAll(),
    ],
    conn: { principal: DEV },
    req: 'tcp',
    allowed: false,
  },
  {
    cite: 'TCP: requestPrincipals is HTTP only',
    name: 'ALLOW requestPrincipals on TCP',
    policies: [ap('foo', 'a', { rules: [src({ requestPrincipals: ['*'] })] })],
    req: 'tcp',
    allowed: false,
  },

  // --- targetRefs
  {
    cite: "AP targetRefs (Service); WEFT applies to the Service's workloads",
    name: 'targetRef Service selects httpbin',
    policies: [
      ap('foo', 't', {
        targetRefs: [{ kind: 'Service', group: '', name: 'httpbin' }],
        action: 'DENY',
        rules: [{}],
      }),
      allowAll(),
    ],
    allowed: false,
    policy: 'foo/t',
  },
  {
    cite: 'AP targetRefs (Service)',
    name: 'targetRef other Service',
    policies: [ap('foo', 't', { targetRefs: [{ kind: 'Service', group: '', name: 'other' }] })],
    mode: 'allow',
    allowed: true,
  },
  {
    cite: 'AP targetRef (Gateway); WEFT no gateways',
    name: 'targetRef Gateway selects nothing',
    policies: [
      ap('foo', 't', { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' } }),
    ],
    mode: 'allow',
    allowed: true,
  },
  {
    cite: 'AP targetRef with rules',
    name: 'targetRef Service ALLOW rule',
    policies: [
      ap('foo', 't', {
        targetRefs: [{ kind: 'Service', name: 'httpbin' }],
        rules: [op({ paths: ['/info'] })],
      }),
    ],
    allowed: true,
    policy: 'foo/t',
  },
  {
    cite: 'WEFT fail closed',
    name: 'unknown workload',
    policies: [allowAll()],
    target: ['foo', 'ghost'],
    allowed: false,
    reason: /unknown workload/,
  },

  // --- Path normalisation (NORM; WEFT uses DECODE_AND_MERGE_SLASHES)
  ...((): AuthzCase[] => {
    const p = [denyAdmin, allowAll()];
    const d = (path: string, allowed: boolean, cite: string): AuthzCase => ({
      cite,
      name: `path ${JSON.stringify(path)}`,
      policies: p,
      req: { path },
      allowed,
    });
    return [
      d('/admin', false, 'AP Operation.paths exact'),
      d('/admin/users', false, 'AP Operation.paths prefix'),
      d('//admin', false, 'NORM multiple slashes; WEFT merges by default'),
      d('/x/../admin', false, 'NORM dot segments (RFC 3986 §5.2.4)'),
      d('/./admin', false, 'NORM dot segments'),
      d('/%61dmin', false, 'NORM %61-%7a decoded'),
      d('/%2e%2e/admin', false, 'NORM %2e decoded then dots resolved'),
      d('/public/%2E%2E/admin', false, 'NORM %2E (case-insensitive hex)'),
      d('/admin%2Fsecret', false, 'NORM %2f; WEFT decodes it (DECODE_AND_MERGE_SLASHES)'),
      d('/admin%2fsecret', false, 'NORM %2f lower-case hex'),
      d('\\admin', false, 'NORM backslash becomes /'),
      d('/public%5C..%5Cadmin', false, 'NORM %5c; WEFT decodes it'),
      d('/admin?x=1', false, 'NORM query removed'),
      d('/admin#frag', false, 'WEFT fragment removed'),
      d('/admin%00', false, 'NORM %00 rejected'),
      d('/ADMIN', true, 'AP paths are case-sensitive'),
      d('/public', true, 'AP Operation.paths'),
      d('/%2561dmin', true, 'NORM "no double decoding"'),
      d('/adminx', true, 'AP exact /admin and prefix /admin/*'),
      d('admin', false, 'WEFT non-origin-form path rejected'),
    ];
  })(),
];
