/**
 * security.istio.io/v1 AuthorizationPolicy (https://istio.io/latest/docs/reference/config/security/authorization-policy/),
 * with Istio's value forms (exact, `prefix*`, `*suffix`, `*`) and its list of condition keys
 * (https://istio.io/latest/docs/reference/config/security/conditions/). Not yet in Weft: JWT
 * (requestPrincipals, request.auth.*) and CUSTOM (external authorizers); both are rejected clearly.
 */
import { isIP } from 'node:net';
import { dnsSubdomain, parseCidr } from '../manifest/formats.ts';
import {
  type Schema,
  type Seg,
  type Ctx,
  obj,
  list,
  str,
  req,
  dflt,
  oneOf,
  CODES,
} from '../manifest/schema.ts';
import { workloadSelector, type KindDef } from './common.ts';

export interface Source {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface Operation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRule {
  from?: { source: Source }[];
  to?: { operation: Operation }[];
  when?: Condition[];
}

export interface PolicyTargetReference {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  /** Default ALLOW. */
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  /** Rules are ORed; absent with ALLOW: matches nothing (denies all for the selected workloads). */
  rules?: AuthorizationRule[];
}

/** Istio string match: `*` may appear only as the whole value, a prefix or a suffix. */
export function wildcardProblem(v: string): string | undefined {
  if (v === '') return 'must not be empty';
  if (v === '*') return undefined;
  const inner = v.slice(1, -1);
  if (inner.includes('*') || (v.startsWith('*') && v.endsWith('*')))
    return `${JSON.stringify(v)}: '*' is only allowed as the whole value, a prefix ("abc*") or a suffix ("*abc")`;
  return undefined;
}

const wild = (): Schema<string> => str({ check: wildcardProblem });
const wildList = () => list(wild(), { min: 1 });

const ipBlock = (): Schema<string> =>
  str({
    check: (v) =>
      isIP(v) || parseCidr(v)
        ? undefined
        : `${JSON.stringify(v)} is not an IP address or CIDR (e.g. "10.0.0.1", "10.0.0.0/16")`,
  });

const portString = (): Schema<string> =>
  str({
    check: (v) =>
      /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535
        ? undefined
        : `${JSON.stringify(v)} is not a port number (1-65535, written as a string)`,
  });

const jwtUnsupported = (field: string): Schema<never> => ({
  expected: 'nothing',
  parse(_v, path, cx) {
    cx.error(
      path,
      `${field} needs JWT authentication, which Weft does not support yet`,
      CODES.unsupported,
      'key',
    );
    return undefined;
  },
});

function nonEmpty<T extends object>(what: string) {
  return (o: T, path: Seg[], cx: Ctx) => {
    if (Object.keys(o).length === 0) cx.error(path, `${what} must set at least one field`, CODES.required);
  };
}

const source = obj<Source>(
  {
    principals: wildList(),
    notPrincipals: wildList(),
    requestPrincipals: jwtUnsupported('requestPrincipals'),
    notRequestPrincipals: jwtUnsupported('notRequestPrincipals'),
    namespaces: wildList(),
    notNamespaces: wildList(),
    serviceAccounts: wildList(),
    notServiceAccounts: wildList(),
    ipBlocks: list(ipBlock(), { min: 1 }),
    notIpBlocks: list(ipBlock(), { min: 1 }),
    remoteIpBlocks: list(ipBlock(), { min: 1 }),
    notRemoteIpBlocks: list(ipBlock(), { min: 1 }),
  },
  { check: nonEmpty('source') },
);

const operation = obj<Operation>(
  {
    hosts: wildList(),
    notHosts: wildList(),
    ports: list(portString(), { min: 1 }),
    notPorts: list(portString(), { min: 1 }),
    methods: wildList(),
    notMethods: wildList(),
    paths: wildList(),
    notPaths: wildList(),
  },
  { check: nonEmpty('operation') },
);

/** Istio's condition keys, with the value check each needs. */
const CONDITION_KEYS: { test: (k: string) => boolean; name: string; value?: Schema<string> }[] = [
  { name: 'request.headers[<name>]', test: (k) => /^request\.headers\[[^\]]+\]$/.test(k) },
  { name: 'source.ip', test: (k) => k === 'source.ip', value: ipBlock() },
  { name: 'remote.ip', test: (k) => k === 'remote.ip', value: ipBlock() },
  { name: 'source.namespace', test: (k) => k === 'source.namespace' },
  { name: 'source.principal', test: (k) => k === 'source.principal' },
  { name: 'destination.ip', test: (k) => k === 'destination.ip', value: ipBlock() },
  { name: 'destination.port', test: (k) => k === 'destination.port', value: portString() },
  { name: 'connection.sni', test: (k) => k === 'connection.sni' },
  {
    name: 'experimental.envoy.filters.*',
    test: (k) => /^experimental\.envoy\.filters\.[^[]+\[[^\]]+\]$/.test(k),
  },
];
const KEY_NAMES = CONDITION_KEYS.map((k) => k.name);

const condition = obj<Condition>(
  { key: req(str({ min: 1 })), values: list(wild(), { min: 1 }), notValues: list(wild(), { min: 1 }) },
  {
    check: (c, path, cx) => {
      if (c.values === undefined && c.notValues === undefined)
        cx.error(path, 'at least one of values or notValues must be set', CODES.required);
      if (c.key.startsWith('request.auth.')) {
        cx.error(
          [...path, 'key'],
          `${JSON.stringify(c.key)} needs JWT authentication, which Weft does not support yet`,
          CODES.unsupported,
        );
        return;
      }
      const k = CONDITION_KEYS.find((x) => x.test(c.key));
      if (!k) {
        cx.error(
          [...path, 'key'],
          `unknown condition key ${JSON.stringify(c.key)}: use one of ${KEY_NAMES.join(', ')}`,
          CODES.enum,
        );
        return;
      }
      if (k.value) {
        for (const f of ['values', 'notValues'] as const)
          (c[f] ?? []).forEach((v, i) => k.value!.parse(v, [...path, f, i], cx));
      }
    },
  },
);

const rule = obj<AuthorizationRule>({
  from: list(obj({ source: req(source) }), { min: 1 }),
  to: list(obj({ operation: req(operation) }), { min: 1 }),
  when: list(condition, { min: 1 }),
});

const targetRef = obj<PolicyTargetReference>(
  {
    group: dflt(str(), ''),
    kind: req(str({ min: 1 })),
    name: req(dnsSubdomain()),
    namespace: dnsSubdomain(),
  },
  {
    check: (t, path, cx) => {
      if (t.kind !== 'Service' || t.group !== '')
        cx.error(
          [...path, 'kind'],
          `target ${t.group || 'core'}/${t.kind} is not supported: Weft policies target Services (group: "", kind: Service) or select workloads`,
          CODES.unsupported,
        );
    },
  },
);

export const authorizationPolicySpec: Schema<AuthorizationPolicySpec> = obj<AuthorizationPolicySpec>(
  {
    selector: workloadSelector(),
    targetRef,
    targetRefs: list(targetRef, { min: 1 }),
    action: dflt(
      {
        expected: 'an action',
        parse(v, path, cx) {
          if (v === 'CUSTOM') {
            cx.error(
              path,
              'action CUSTOM (external authorization) is not supported yet; use ALLOW, DENY or AUDIT',
              CODES.unsupported,
            );
            return undefined;
          }
          return oneOf(['ALLOW', 'DENY', 'AUDIT'] as const).parse(v, path, cx);
        },
      },
      'ALLOW',
    ),
    provider: {
      expected: 'nothing',
      parse(_v, path, cx) {
        cx.error(
          path,
          'provider is only used with action CUSTOM, which Weft does not support yet',
          CODES.unsupported,
          'key',
        );
        return undefined;
      },
    },
    rules: list(rule),
  },
  { atMostOne: [['selector', 'targetRef', 'targetRefs']] },
);

export const authorizationPolicyKind: KindDef<AuthorizationPolicySpec> = {
  kind: 'AuthorizationPolicy',
  apiVersion: 'security.istio.io/v1',
  apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: authorizationPolicySpec,
  specRequired: false,
};
