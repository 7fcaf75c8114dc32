/**
 * The semantic table run against the engine: AuthorizationPolicy cases (authz-cases.test-util.ts,
 * also sampled end to end through real proxies by test/integration/authz-e2e.test.ts), needsL7,
 * PeerAuthentication and NetworkPolicy cases, each citing its source (abbreviations in
 * authz-cases.test-util.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject } from '../../api/wire/snapshot.ts';
import { compileAuthorization } from './authorizer.ts';
import type { PeerInfo } from './types.ts';
import { ROOT, WORKLOADS, ap, conn, np, pa, req, security } from './fixtures.test-util.ts';
import { AUTHZ, denyAdmin, denyPost8080, op, sel, src, when } from './authz-cases.test-util.ts';
import type { AuthzCase } from './authz-cases.test-util.ts';

const NEEDS_L7: { cite: string; name: string; policies: PolicyObject[]; port: number; expect: boolean }[] = [
  {
    cite: 'AP DENY POST 8080 example',
    name: 'methods scoped to 8080: 8080',
    policies: [denyPost8080],
    port: 8080,
    expect: true,
  },
  {
    cite: 'AP DENY POST 8080 example',
    name: 'methods scoped to 8080: 9000',
    policies: [denyPost8080],
    port: 9000,
    expect: false,
  },
  {
    cite: 'AP Operation.paths is HTTP only',
    name: 'paths on any port',
    policies: [denyAdmin],
    port: 1234,
    expect: true,
  },
  {
    cite: 'AP Source.principals works on TCP',
    name: 'principals only',
    policies: [ap('foo', 'a', { rules: [src({ principals: ['*'] })] })],
    port: 8000,
    expect: false,
  },
  {
    cite: 'COND destination.port scopes a header condition',
    name: 'when destination.port excludes',
    policies: [
      ap('foo', 'a', {
        rules: [
          when({ key: 'destination.port', values: ['80'] }, { key: 'request.headers[x]', values: ['1'] }),
        ],
      }),
    ],
    port: 81,
    expect: false,
  },
  {
    cite: 'COND',
    name: 'when destination.port includes',
    policies: [
      ap('foo', 'a', {
        rules: [
          when({ key: 'destination.port', values: ['80'] }, { key: 'request.headers[x]', values: ['1'] }),
        ],
      }),
    ],
    port: 80,
    expect: true,
  },
  {
    cite: 'AP scope: a policy on another workload',
    name: 'unrelated policy',
    policies: [ap('foo', 'a', { ...sel({ app: 'nope' }), rules: [op({ paths: ['/x'] })] })],
    port: 8000,
    expect: false,
  },
];

function decide(c: AuthzCase) {
  const a = compileAuthorization({
    security: security({ authorizationPolicies: c.policies }),
    mesh: { defaultPolicy: c.mode ?? 'deny', rootNamespace: ROOT },
    workloads: WORKLOADS,
    servicesOf: (w) => [{ namespace: w.namespace, name: w.labels['app'] ?? w.name }],
  });
  const [ns, name] = c.target ?? ['foo', 'httpbin'];
  const wa = a.forWorkload(ns, name);
  return c.req === 'tcp' ? wa.checkConnection(conn(c.conn)) : wa.checkRequest(conn(c.conn), req(c.req));
}

for (const c of AUTHZ) {
  void test(`AuthorizationPolicy [${c.cite}] ${c.name}`, () => {
    const d = decide(c);
    assert.equal(d.allowed, c.allowed, d.reason);
    if (c.policy !== undefined) assert.equal(d.policy, c.policy);
    if (c.rule !== undefined) assert.equal(d.rule, c.rule);
    if ('audit' in c) assert.equal(d.audit, c.audit);
    if (c.reason) assert.match(d.reason, c.reason);
    // The explained decision is the same decision.
    const a = compileAuthorization({
      security: security({ authorizationPolicies: c.policies }),
      mesh: { defaultPolicy: c.mode ?? 'deny', rootNamespace: ROOT },
      workloads: WORKLOADS,
      servicesOf: (w) => [{ namespace: w.namespace, name: w.labels['app'] ?? w.name }],
    });
    const [ns, name] = c.target ?? ['foo', 'httpbin'];
    const wa = a.forWorkload(ns, name);
    const e =
      c.req === 'tcp'
        ? wa.checkConnection(conn(c.conn), { explain: true })
        : wa.checkRequest(conn(c.conn), req(c.req), { explain: true });
    assert.equal(e.allowed, d.allowed);
    assert.equal(e.policy, d.policy);
    assert.equal(e.rule, d.rule);
    assert.equal(e.audit, d.audit);
  });
}

for (const c of NEEDS_L7) {
  void test(`needsL7 [${c.cite}] ${c.name}`, () => {
    const a = compileAuthorization({
      security: security({ authorizationPolicies: c.policies }),
      mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
      workloads: WORKLOADS,
    });
    assert.equal(a.forWorkload('foo', 'httpbin').needsL7(c.port), c.expect);
  });
}

// ---------------------------------------------------------------------------------------------------
// PeerAuthentication

const PA: {
  cite: string;
  name: string;
  policies: PolicyObject[];
  target: [string, string];
  port: number;
  expect: string;
}[] = [
  {
    cite: 'WEFT default STRICT (Istio: PERMISSIVE)',
    name: 'no policy',
    policies: [],
    target: ['foo', 'finance'],
    port: 80,
    expect: 'STRICT',
  },
  {
    cite: 'PA example 1 (namespace foo STRICT)',
    name: 'namespace STRICT',
    policies: [pa('foo', 'default', { mtls: { mode: 'STRICT' } })],
    target: ['foo', 'other'],
    port: 80,
    expect: 'STRICT',
  },
  ...((): {
    cite: string;
    name: string;
    policies: PolicyObject[];
    target: [string, string];
    port: number;
    expect: string;
  }[] => {
    const p = [
      pa('foo', 'default', { mtls: { mode: 'PERMISSIVE' } }),
      pa('foo', 'finance', { selector: { matchLabels: { app: 'finance' } }, mtls: { mode: 'STRICT' } }),
    ];
    return [
      {
        cite: 'PA example 2 (finance STRICT)',
        name: 'finance',
        policies: p,
        target: ['foo', 'finance'],
        port: 80,
        expect: 'STRICT',
      },
      {
        cite: 'PA example 2 (namespace PERMISSIVE)',
        name: 'other',
        policies: p,
        target: ['foo', 'other'],
        port: 80,
        expect: 'PERMISSIVE',
      },
    ];
  })(),
  ...((): {
    cite: string;
    name: string;
    policies: PolicyObject[];
    target: [string, string];
    port: number;
    expect: string;
  }[] => {
    const p = [
      pa('foo', 'default', {
        selector: { matchLabels: { app: 'finance' } },
        mtls: { mode: 'STRICT' },
        portLevelMtls: { 8080: { mode: 'DISABLE' } },
      }),
    ];
    return [
      {
        cite: 'PA example 3 (port 8080 DISABLE)',
        name: '8080',
        policies: p,
        target: ['foo', 'finance'],
        port: 8080,
        expect: 'DISABLE',
      },
      {
        cite: 'PA example 3',
        name: '9000',
        policies: p,
        target: ['foo', 'finance'],
        port: 9000,
        expect: 'STRICT',
      },
    ];
  })(),
  ...((): {
    cite: string;
    name: string;
    policies: PolicyObject[];
    target: [string, string];
    port: number;
    expect: string;
  }[] => {
    const p = [
      pa('foo', 'ns', { mtls: { mode: 'PERMISSIVE' } }),
      pa('foo', 'default', {
        selector: { matchLabels: { app: 'finance' } },
        mtls: { mode: 'UNSET' },
        portLevelMtls: { 8080: { mode: 'DISABLE' } },
      }),
    ];
    return [
      {
        cite: 'PA example 4 (UNSET inherits namespace)',
        name: 'inherits',
        policies: p,
        target: ['foo', 'finance'],
        port: 9000,
        expect: 'PERMISSIVE',
      },
      {
        cite: 'PA example 4 (port override)',
        name: 'port override',
        policies: p,
        target: ['foo', 'finance'],
        port: 8080,
        expect: 'DISABLE',
      },
    ];
  })(),
  {
    cite: 'PA "For mesh level, put the policy in root-namespace"',
    name: 'mesh PERMISSIVE',
    policies: [pa(ROOT, 'default', { mtls: { mode: 'PERMISSIVE' } })],
    target: ['bar', 'other'],
    port: 80,
    expect: 'PERMISSIVE',
  },
  {
    cite: 'PA namespace overrides mesh',
    name: 'namespace over mesh',
    policies: [
      pa(ROOT, 'default', { mtls: { mode: 'PERMISSIVE' } }),
      pa('bar', 'default', { mtls: { mode: 'STRICT' } }),
    ],
    target: ['bar', 'other'],
    port: 80,
    expect: 'STRICT',
  },
  {
    cite: 'PA UNSET namespace inherits mesh',
    name: 'namespace UNSET',
    policies: [
      pa(ROOT, 'default', { mtls: { mode: 'PERMISSIVE' } }),
      pa('bar', 'default', { mtls: { mode: 'UNSET' } }),
    ],
    target: ['bar', 'other'],
    port: 80,
    expect: 'PERMISSIVE',
  },
  {
    cite: 'PA "policies with workload selectors are ignored when deployed in the root namespace"',
    name: 'root selector ignored',
    policies: [pa(ROOT, 'sel', { selector: { matchLabels: { app: 'other' } }, mtls: { mode: 'DISABLE' } })],
    target: ['bar', 'other'],
    port: 80,
    expect: 'STRICT',
  },
  {
    cite: 'PA selector scope is the policy namespace',
    name: 'selector in another namespace',
    policies: [pa('foo', 'sel', { selector: { matchLabels: { app: 'other' } }, mtls: { mode: 'DISABLE' } })],
    target: ['bar', 'other'],
    port: 80,
    expect: 'STRICT',
  },
  {
    cite: 'PA port-level UNSET inherits',
    name: 'port UNSET',
    policies: [
      pa('foo', 'w', {
        selector: { matchLabels: { app: 'finance' } },
        mtls: { mode: 'PERMISSIVE' },
        portLevelMtls: { 80: { mode: 'UNSET' } },
      }),
    ],
    target: ['foo', 'finance'],
    port: 80,
    expect: 'PERMISSIVE',
  },
];

for (const c of PA) {
  void test(`PeerAuthentication [${c.cite}] ${c.name}`, () => {
    const a = compileAuthorization({
      security: security({ peerAuthentications: c.policies }),
      mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
      workloads: WORKLOADS,
    });
    assert.equal(a.mtlsMode(c.target[0], c.target[1], c.port), c.expect);
  });
}

// ---------------------------------------------------------------------------------------------------
// NetworkPolicy

interface NpCase {
  cite: string;
  name: string;
  policies: PolicyObject[];
  dir: 'ingress' | 'egress';
  self: [string, string];
  peer: PeerInfo;
  port: number;
  protocol?: string;
  allowed: boolean;
}

const NAMESPACES: { name: string; labels: Record<string, string> }[] = [
  { name: 'default', labels: {} },
  { name: 'myproject', labels: { project: 'myproject' } },
  { name: 'prod', labels: { env: 'prod', tier: 'gold' } },
  { name: 'dev', labels: { env: 'dev' } },
];

// NP concept page, "The NetworkPolicy resource" example (test-network-policy).
const testNetworkPolicy = np('default', 'test-network-policy', {
  podSelector: { matchLabels: { role: 'db' } },
  policyTypes: ['Ingress', 'Egress'],
  ingress: [
    {
      from: [
        { ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } },
        { namespaceSelector: { matchLabels: { project: 'myproject' } } },
        { podSelector: { matchLabels: { role: 'frontend' } } },
      ],
      ports: [{ protocol: 'TCP', port: 6379 }],
    },
  ],
  egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
});
const DB: [string, string] = ['default', 'db'];
const frontend: PeerInfo = {
  ip: '10.1.0.1',
  namespace: 'default',
  labels: { role: 'frontend' },
  name: 'frontend',
};
const backend: PeerInfo = {
  ip: '10.1.0.2',
  namespace: 'default',
  labels: { role: 'backend' },
  name: 'backend',
};
const external = (ip: string): PeerInfo => ({ ip });
const TNP = 'NP "The NetworkPolicy resource" example';

const nsAndPod = np('default', 'and', {
  podSelector: { matchLabels: { role: 'db' } },
  ingress: [
    {
      from: [
        {
          namespaceSelector: { matchLabels: { env: 'prod' } },
          podSelector: { matchLabels: { role: 'client' } },
        },
      ],
    },
  ],
});
const nsOrPod = np('default', 'or', {
  podSelector: { matchLabels: { role: 'db' } },
  ingress: [
    {
      from: [
        { namespaceSelector: { matchLabels: { env: 'prod' } } },
        { podSelector: { matchLabels: { role: 'client' } } },
      ],
    },
  ],
});
const exprs = np('default', 'exprs', {
  podSelector: { matchLabels: { role: 'db' } },
  ingress: [
    {
      from: [
        {
          namespaceSelector: {},
          podSelector: {
            matchExpressions: [
              { key: 'tier', operator: 'In', values: ['web', 'api'] },
              { key: 'env', operator: 'NotIn', values: ['dev'] },
              { key: 'team', operator: 'Exists' },
              { key: 'legacy', operator: 'DoesNotExist' },
            ],
          },
        },
      ],
    },
  ],
});
const endPort = np('default', 'range', {
  podSelector: { matchLabels: { role: 'db' } },
  ingress: [{ ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }] }],
});
const named = np('default', 'named', {
  podSelector: { matchLabels: { role: 'db' } },
  ingress: [{ ports: [{ port: 'http' }] }],
});
const namedEgress = np('default', 'named-egress', {
  podSelector: { matchLabels: { role: 'frontend' } },
  policyTypes: ['Egress'],
  egress: [{ ports: [{ port: 'http' }] }],
});
const pod = (ns: string, labels: Record<string, string>): PeerInfo => ({
  ip: '10.9.9.9',
  namespace: ns,
  labels,
});

const NP: NpCase[] = [
  {
    cite: TNP,
    name: 'frontend pod to 6379',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: frontend,
    port: 6379,
    allowed: true,
  },
  {
    cite: TNP,
    name: 'frontend pod to 80',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: frontend,
    port: 80,
    allowed: false,
  },
  {
    cite: TNP,
    name: 'pod in myproject namespace',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: pod('myproject', {}),
    port: 6379,
    allowed: true,
  },
  {
    cite: TNP,
    name: 'ipBlock 172.17.0.5',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: external('172.17.0.5'),
    port: 6379,
    allowed: true,
  },
  {
    cite: `${TNP} (except)`,
    name: 'ipBlock except 172.17.1.5',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: external('172.17.1.5'),
    port: 6379,
    allowed: false,
  },
  {
    cite: TNP,
    name: 'backend pod denied',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 6379,
    allowed: false,
  },
  {
    cite: `${TNP} (protocol TCP)`,
    name: 'UDP 6379 denied',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: DB,
    peer: frontend,
    port: 6379,
    protocol: 'UDP',
    allowed: false,
  },
  {
    cite: TNP,
    name: 'egress to 10.0.0.5:5978',
    policies: [testNetworkPolicy],
    dir: 'egress',
    self: DB,
    peer: external('10.0.0.5'),
    port: 5978,
    allowed: true,
  },
  {
    cite: TNP,
    name: 'egress to 10.0.0.5:80',
    policies: [testNetworkPolicy],
    dir: 'egress',
    self: DB,
    peer: external('10.0.0.5'),
    port: 80,
    allowed: false,
  },
  {
    cite: TNP,
    name: 'egress to 8.8.8.8:5978',
    policies: [testNetworkPolicy],
    dir: 'egress',
    self: DB,
    peer: external('8.8.8.8'),
    port: 5978,
    allowed: false,
  },
  {
    cite: 'NP "The two sorts of pod isolation"',
    name: 'unselected pod ingress',
    policies: [testNetworkPolicy],
    dir: 'ingress',
    self: ['default', 'other'],
    peer: backend,
    port: 1,
    allowed: true,
  },
  {
    cite: 'NP "The two sorts of pod isolation"',
    name: 'unselected pod egress',
    policies: [testNetworkPolicy],
    dir: 'egress',
    self: ['default', 'other'],
    peer: external('8.8.8.8'),
    port: 1,
    allowed: true,
  },
  {
    cite: 'NP "Default deny all ingress traffic"',
    name: 'ingress denied',
    policies: [np('default', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    dir: 'ingress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: false,
  },
  {
    cite: 'NP "Default deny all ingress traffic" (egress untouched)',
    name: 'egress allowed',
    policies: [np('default', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: true,
  },
  {
    cite: 'NP "Allow all ingress traffic"',
    name: 'ingress: [{}]',
    policies: [
      np('default', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
      np('default', 'all', { podSelector: {}, ingress: [{}] }),
    ],
    dir: 'ingress',
    self: ['default', 'frontend'],
    peer: external('1.2.3.4'),
    port: 80,
    allowed: true,
  },
  {
    cite: 'NP "Default deny all egress traffic"',
    name: 'egress denied',
    policies: [np('default', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: false,
  },
  {
    cite: 'NP "Default deny all egress traffic" (ingress untouched)',
    name: 'ingress allowed',
    policies: [np('default', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })],
    dir: 'ingress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: true,
  },
  {
    cite: 'NP "Allow all egress traffic"',
    name: 'egress: [{}]',
    policies: [
      np('default', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] }),
      np('default', 'all', { podSelector: {}, egress: [{}], policyTypes: ['Egress'] }),
    ],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: external('8.8.8.8'),
    port: 443,
    allowed: true,
  },
  {
    cite: 'NP "Default deny all ingress and all egress traffic"',
    name: 'both denied (egress)',
    policies: [np('default', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: false,
  },
  {
    cite: 'NetworkPolicySpec.policyTypes default: Egress only with egress rules',
    name: 'egress: [] does not isolate egress',
    policies: [np('default', 'p', { podSelector: {}, egress: [] })],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: true,
  },
  {
    cite: 'NetworkPolicySpec.policyTypes default: Ingress always',
    name: 'no ingress field isolates ingress',
    policies: [np('default', 'p', { podSelector: {} })],
    dir: 'ingress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: false,
  },
  {
    cite: 'NetworkPolicySpec.policyTypes default with egress rules',
    name: 'egress rules isolate egress',
    policies: [np('default', 'p', { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] })],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: backend,
    port: 80,
    allowed: false,
  },
  {
    cite: 'NetworkPolicyEgressRule.ports',
    name: 'egress DNS allowed',
    policies: [np('default', 'p', { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] })],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: external('10.96.0.10'),
    port: 53,
    protocol: 'udp',
    allowed: true,
  },
  {
    cite: 'NP "Behavior of to and from selectors" (AND)',
    name: 'client in prod',
    policies: [nsAndPod],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { role: 'client' }),
    port: 1,
    allowed: true,
  },
  {
    cite: 'NP "Behavior of to and from selectors" (AND)',
    name: 'other pod in prod',
    policies: [nsAndPod],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { role: 'x' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'NP "Behavior of to and from selectors" (AND)',
    name: 'client in dev',
    policies: [nsAndPod],
    dir: 'ingress',
    self: DB,
    peer: pod('dev', { role: 'client' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'NP "Behavior of to and from selectors" (OR)',
    name: 'any pod in prod',
    policies: [nsOrPod],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { role: 'x' }),
    port: 1,
    allowed: true,
  },
  {
    cite: 'NP "Behavior of to and from selectors" (OR, podSelector = own namespace)',
    name: 'client in default',
    policies: [nsOrPod],
    dir: 'ingress',
    self: DB,
    peer: pod('default', { role: 'client' }),
    port: 1,
    allowed: true,
  },
  {
    cite: "NP podSelector alone: the policy's namespace",
    name: 'client in dev',
    policies: [nsOrPod],
    dir: 'ingress',
    self: DB,
    peer: pod('dev', { role: 'client' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'NP "Targeting a Namespace by its name"',
    name: 'kubernetes.io/metadata.name',
    policies: [
      np('default', 'byname', {
        podSelector: {},
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } } }] },
        ],
      }),
    ],
    dir: 'ingress',
    self: DB,
    peer: pod('dev', {}),
    port: 1,
    allowed: true,
  },
  {
    cite: 'NP "Targeting a Namespace by its name"',
    name: 'namespace not listed still has its name label',
    policies: [
      np('default', 'byname', {
        podSelector: {},
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'qa' } } }] },
        ],
      }),
    ],
    dir: 'ingress',
    self: DB,
    peer: pod('qa', {}),
    port: 1,
    allowed: true,
  },
  {
    cite: 'LabelSelector matchExpressions (In, NotIn, Exists, DoesNotExist)',
    name: 'all requirements met',
    policies: [exprs],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { tier: 'web', env: 'prod', team: 'a' }),
    port: 1,
    allowed: true,
  },
  {
    cite: 'LabelSelector In',
    name: 'In fails',
    policies: [exprs],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { tier: 'db', env: 'prod', team: 'a' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'LabelSelector NotIn',
    name: 'NotIn fails',
    policies: [exprs],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { tier: 'web', env: 'dev', team: 'a' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'LabelSelector NotIn matches an absent key',
    name: 'NotIn absent',
    policies: [exprs],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { tier: 'web', team: 'a' }),
    port: 1,
    allowed: true,
  },
  {
    cite: 'LabelSelector Exists',
    name: 'Exists fails',
    policies: [exprs],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { tier: 'web' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'LabelSelector DoesNotExist',
    name: 'DoesNotExist fails',
    policies: [exprs],
    dir: 'ingress',
    self: DB,
    peer: pod('prod', { tier: 'web', team: 'a', legacy: 'y' }),
    port: 1,
    allowed: false,
  },
  {
    cite: 'NP "Targeting a range of ports"',
    name: 'port 32000',
    policies: [endPort],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 32000,
    allowed: true,
  },
  {
    cite: 'NP "Targeting a range of ports"',
    name: 'port 32768',
    policies: [endPort],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 32768,
    allowed: true,
  },
  {
    cite: 'NP "Targeting a range of ports"',
    name: 'port 32769',
    policies: [endPort],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 32769,
    allowed: false,
  },
  {
    cite: 'NP "Targeting a range of ports"',
    name: 'port 31999',
    policies: [endPort],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 31999,
    allowed: false,
  },
  {
    cite: 'NetworkPolicyPort named port (resolved on the destination)',
    name: 'named port http = 8080',
    policies: [named],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 8080,
    allowed: true,
  },
  {
    cite: 'NetworkPolicyPort named port',
    name: 'named port other number',
    policies: [named],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 9090,
    allowed: false,
  },
  {
    cite: 'NetworkPolicyPort named port on egress: resolved on the peer',
    name: 'egress to db http',
    policies: [namedEgress],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: { ip: '10.1.0.9', namespace: 'default', labels: { role: 'db' }, name: 'db' },
    port: 8080,
    allowed: true,
  },
  {
    cite: 'WEFT named port needs a known peer workload',
    name: 'egress to unknown peer by name',
    policies: [namedEgress],
    dir: 'egress',
    self: ['default', 'frontend'],
    peer: external('10.1.0.9'),
    port: 8080,
    allowed: false,
  },
  {
    cite: 'WEFT unknown peer labels fail closed',
    name: 'labels unknown',
    policies: [nsOrPod],
    dir: 'ingress',
    self: DB,
    peer: { ip: '10.1.0.3', namespace: 'default' },
    port: 1,
    allowed: false,
  },
  {
    cite: 'WEFT unknown peer namespace fail closed',
    name: 'namespace unknown',
    policies: [nsOrPod],
    dir: 'ingress',
    self: DB,
    peer: { ip: '10.1.0.3', labels: { role: 'client' } },
    port: 1,
    allowed: false,
  },
  {
    cite: 'NP policies are additive (union)',
    name: 'second policy allows',
    policies: [
      np('default', 'a', { podSelector: {}, ingress: [{ ports: [{ port: 1 }] }] }),
      np('default', 'b', { podSelector: {}, ingress: [{ ports: [{ port: 2 }] }] }),
    ],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 2,
    allowed: true,
  },
  {
    cite: 'NP podSelector scope: the policy namespace',
    name: 'policy in another namespace',
    policies: [np('prod', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 80,
    allowed: true,
  },
  {
    cite: 'NetworkPolicyPort.port missing: all ports',
    name: 'protocol only',
    policies: [np('default', 'p', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP' }] }] })],
    dir: 'ingress',
    self: DB,
    peer: backend,
    port: 65535,
    allowed: true,
  },
  {
    cite: 'NetworkPolicyPeer ipBlock IPv6',
    name: 'IPv6 ipBlock',
    policies: [
      np('default', 'p', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'fd00::/8' } }] }] }),
    ],
    dir: 'ingress',
    self: DB,
    peer: external('fd00::1'),
    port: 1,
    allowed: true,
  },
];

for (const c of NP) {
  void test(`NetworkPolicy [${c.cite}] ${c.name}`, () => {
    const a = compileAuthorization({
      security: security({ networkPolicies: c.policies, namespaces: NAMESPACES }),
      mesh: { defaultPolicy: 'deny', rootNamespace: ROOT },
      workloads: WORKLOADS,
      namedPort: (w, name) => (name === 'http' && w.name === 'db' ? 8080 : undefined),
    });
    const self = { namespace: c.self[0], name: c.self[1] };
    const d =
      c.dir === 'ingress'
        ? a.checkIngress(self, c.peer, c.port, c.protocol)
        : a.checkEgress(self, c.peer, c.port, c.protocol);
    assert.equal(d.allowed, c.allowed, d.reason);
    const e =
      c.dir === 'ingress'
        ? a.checkIngress(self, c.peer, c.port, c.protocol, { explain: true })
        : a.checkEgress(self, c.peer, c.port, c.protocol, { explain: true });
    assert.equal(e.allowed, d.allowed);
  });
}

void test('the semantic table has at least 150 cases', () => {
  assert.ok(
    AUTHZ.length + NEEDS_L7.length + PA.length + NP.length >= 150,
    String(AUTHZ.length + NEEDS_L7.length + PA.length + NP.length),
  );
});
