/**
 * The AuthorizationPolicy engine (security.istio.io/v1), compiled once per snapshot and evaluated per
 * connection and per request by the node proxy; the policy analyser reasons about this same code.
 *
 * Semantics follow the Istio AuthorizationPolicy reference:
 * - Scope ("Authorization Policy scope (target) is determined by metadata/namespace and an optional
 *   selector"): a policy selects workloads of its namespace by `selector.matchLabels`; no selector
 *   selects the whole namespace; policies in the root namespace apply mesh-wide. `targetRef(s)` of
 *   kind Service selects the workloads the Service selects (other kinds select no workload in Weft).
 * - Evaluation (reference, rules 1-5): CUSTOM (rejected here: Weft has no extension providers), then
 *   DENY ("If there are any DENY policies that match the request, deny"), then ALLOW ("If there are no
 *   ALLOW policies for the workload, allow" — Weft's `defaultPolicy: deny` turns this into deny; "If any
 *   of the ALLOW policies match the request, allow"; otherwise deny). AUDIT only marks the decision.
 * - Matching ("Rule"): rules are ORed; within a rule `from`, `to` and `when` are ANDed; entries of
 *   `from` (and of `to`) are ORed; fields of a Source/Operation are ANDed; values of a field are ORed;
 *   `not*` fields match when no value matches. Empty/unset means any. `rules` unset matches nothing;
 *   `rules: [{}]` matches everything.
 * - TCP ("Authorization Policy for TCP Ports" and the reference note on DENY): on a connection checked
 *   without HTTP, a rule with HTTP-only fields is ignored in an ALLOW policy (matches nothing), while in
 *   a DENY or AUDIT policy the HTTP-only fields are dropped ("missing attributes are treated as
 *   matches"), which makes the deny wider — the same effect as Istio's generator skipping the rule
 *   for ALLOW and the attribute for DENY.
 * - Principals are matched without `spiffe://` (`cluster.local/ns/default/sa/x`); `source.namespace`
 *   comes from the principal (Istio matches `.*\/ns/<ns>/.*` on it); both need mTLS: a plaintext peer
 *   has neither, so `principals: ["*"]` does not match it and `notPrincipals: ["*"]` does.
 *
 * Cost: policies are indexed by namespace, by one label they require and by Service target, so a
 * workload's authorizer only holds the policies that select it; unrelated policies cost nothing per
 * request. Decisions without `explain` are preallocated frozen objects.
 */
import { WeftError } from '../../lib/index.ts';
import type { MeshSettings, PolicyObject, SecurityEntry } from '../../api/wire/snapshot.ts';
import { cidrContains, parseCidr, parseIp } from './cidr.ts';
import type { Cidr, IpWords } from './cidr.ts';
import { compileGlob, compileString, indexKey, matchAny, matchSelector, compileSelector } from './match.ts';
import type { LabelSelector, StringMatcher } from './match.ts';
import { normalizePath } from './path.ts';
import type {
  CheckOptions,
  ConnectionInfo,
  Decision,
  PolicyAction,
  RequestInfo,
  ServiceRef,
  TraceEntry,
  WorkloadInfo,
} from './types.ts';

// ---------------------------------------------------------------------------------------------------
// Compiled form

const A_PRINCIPAL = 0;
const A_NAMESPACE = 1;
const A_SOURCE_IP = 2;
const A_REMOTE_IP = 3;
const A_REQ_PRINCIPAL = 4;
const A_HOST = 5;
const A_METHOD = 6;
const A_PATH = 7;
const A_PORT = 8;
const A_DEST_IP = 9;
const A_SNI = 10;
const A_HEADER = 11;
const A_ABSENT = 12; // request.auth.audiences/presenter/claims: Weft has no JWT authentication

/** One field of a Source, Operation or Condition: a set of values, positive or negated. */
interface Field {
  readonly path: string;
  readonly attr: number;
  readonly neg: boolean;
  /** HTTP-only attribute (Istio conditions table: "HTTP only"). */
  readonly http: boolean;
  readonly strings: readonly StringMatcher[];
  readonly cidrs: readonly Cidr[];
  readonly ports: readonly number[];
  /** Lower-case header name for A_HEADER. */
  readonly header: string;
}

interface Rule {
  readonly index: number;
  /** Each entry: the fields of one Source, ANDed. */
  readonly from: readonly (readonly Field[])[];
  readonly to: readonly (readonly Field[])[];
  readonly when: readonly Field[];
  /** Path of the first HTTP-only field, or '' when the rule has none. */
  readonly httpField: string;
}

const ALLOW = 0;
const DENY = 1;
const AUDIT = 2;
const ACTION_NAMES: readonly PolicyAction[] = ['ALLOW', 'DENY', 'AUDIT'];

interface CompiledPolicy {
  readonly key: string;
  readonly namespace: string;
  readonly action: number;
  readonly rules: readonly Rule[];
  /** null when the policy uses targetRefs. */
  readonly selector: LabelSelector | null;
  readonly targets: readonly ServiceRef[];
}

// ---------------------------------------------------------------------------------------------------
// Compilation

const SOURCE_FIELDS: Record<string, number> = {
  principals: A_PRINCIPAL,
  notPrincipals: A_PRINCIPAL,
  requestPrincipals: A_REQ_PRINCIPAL,
  notRequestPrincipals: A_REQ_PRINCIPAL,
  namespaces: A_NAMESPACE,
  notNamespaces: A_NAMESPACE,
  ipBlocks: A_SOURCE_IP,
  notIpBlocks: A_SOURCE_IP,
  remoteIpBlocks: A_REMOTE_IP,
  notRemoteIpBlocks: A_REMOTE_IP,
};
const OPERATION_FIELDS: Record<string, number> = {
  hosts: A_HOST,
  notHosts: A_HOST,
  ports: A_PORT,
  notPorts: A_PORT,
  methods: A_METHOD,
  notMethods: A_METHOD,
  paths: A_PATH,
  notPaths: A_PATH,
};
const HTTP_ATTRS = new Set([A_REQ_PRINCIPAL, A_HOST, A_METHOD, A_PATH, A_HEADER, A_ABSENT]);

/** Istio "Authorization Policy Conditions": the supported `when` keys. */
function conditionAttr(key: string): { attr: number; header: string } | undefined {
  const h = /^request\.headers\[(.+)\]$/.exec(key);
  if (h) return { attr: A_HEADER, header: (h[1] ?? '').toLowerCase() };
  switch (key) {
    case 'source.ip':
      return { attr: A_SOURCE_IP, header: '' };
    case 'remote.ip':
      return { attr: A_REMOTE_IP, header: '' };
    case 'source.namespace':
      return { attr: A_NAMESPACE, header: '' };
    case 'source.principal':
      return { attr: A_PRINCIPAL, header: '' };
    case 'request.auth.principal':
      return { attr: A_REQ_PRINCIPAL, header: '' };
    case 'request.auth.audiences':
    case 'request.auth.presenter':
      return { attr: A_ABSENT, header: '' };
    case 'destination.ip':
      return { attr: A_DEST_IP, header: '' };
    case 'destination.port':
      return { attr: A_PORT, header: '' };
    case 'connection.sni':
      return { attr: A_SNI, header: '' };
    default:
      if (/^request\.auth\.claims\[.+\]$/.test(key)) return { attr: A_ABSENT, header: '' };
      return undefined;
  }
}

function stringList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return undefined;
  return v.map((x) => String(x));
}

function compileField(
  attr: number,
  neg: boolean,
  values: readonly string[],
  path: string,
  header: string,
  problems: string[],
): Field {
  const strings: StringMatcher[] = [];
  const cidrs: Cidr[] = [];
  const ports: number[] = [];
  values.forEach((v, i) => {
    const at = `${path}[${i}]`;
    switch (attr) {
      case A_SOURCE_IP:
      case A_REMOTE_IP:
      case A_DEST_IP: {
        const c = parseCidr(v);
        if (c === undefined) problems.push(`${at}: ${JSON.stringify(v)} is not an IP address or CIDR`);
        else cidrs.push(c);
        break;
      }
      case A_PORT: {
        if (!/^\d{1,5}$/.test(v) || Number(v) > 65535)
          problems.push(`${at}: ${JSON.stringify(v)} is not a port (0-65535)`);
        else ports.push(Number(v));
        break;
      }
      case A_NAMESPACE:
        strings.push(compileGlob(v));
        break;
      case A_HOST:
        strings.push(compileString(v, true));
        break;
      case A_PATH:
        if (v.includes('{')) {
          problems.push(
            `${at}: path templates ({*}, {**}) are not supported by Weft; use a prefix or suffix match`,
          );
        }
        strings.push(compileString(v));
        break;
      default:
        strings.push(compileString(v));
    }
  });
  return { path, attr, neg, http: HTTP_ATTRS.has(attr), strings, cidrs, ports, header };
}

function compileFields(
  obj: unknown,
  table: Record<string, number>,
  path: string,
  problems: string[],
): Field[] {
  const fields: Field[] = [];
  if (obj === undefined || obj === null) return fields;
  if (typeof obj !== 'object') {
    problems.push(`${path}: must be an object`);
    return fields;
  }
  for (const [name, raw] of Object.entries(obj as Record<string, unknown>)) {
    const attr = table[name];
    if (attr === undefined) {
      problems.push(`${path}.${name}: unknown field`);
      continue;
    }
    const values = stringList(raw);
    if (values === undefined) {
      problems.push(`${path}.${name}: must be a list of strings`);
      continue;
    }
    if (values.length === 0) continue; // an empty list is unset (proto3 repeated)
    fields.push(compileField(attr, name.startsWith('not'), values, `${path}.${name}`, '', problems));
  }
  return fields;
}

function compileRule(raw: unknown, index: number, problems: string[]): Rule {
  const base = `spec.rules[${index}]`;
  const r = (raw ?? {}) as { from?: unknown; to?: unknown; when?: unknown };
  const from: Field[][] = [];
  const to: Field[][] = [];
  const when: Field[] = [];
  if (Array.isArray(r.from)) {
    r.from.forEach((f: unknown, i: number) => {
      const src = (f as { source?: unknown } | null)?.source;
      from.push(compileFields(src, SOURCE_FIELDS, `rules[${index}].from[${i}].source`, problems));
    });
  } else if (r.from !== undefined && r.from !== null) problems.push(`${base}.from: must be a list`);
  if (Array.isArray(r.to)) {
    r.to.forEach((t: unknown, i: number) => {
      const op = (t as { operation?: unknown } | null)?.operation;
      to.push(compileFields(op, OPERATION_FIELDS, `rules[${index}].to[${i}].operation`, problems));
    });
  } else if (r.to !== undefined && r.to !== null) problems.push(`${base}.to: must be a list`);
  if (Array.isArray(r.when)) {
    r.when.forEach((c: unknown, i: number) => {
      const p = `rules[${index}].when[${i}]`;
      const cond = (c ?? {}) as { key?: unknown; values?: unknown; notValues?: unknown };
      if (typeof cond.key !== 'string') {
        problems.push(`spec.${p}.key: required`);
        return;
      }
      const a = conditionAttr(cond.key);
      if (a === undefined) {
        problems.push(
          `spec.${p}.key: ${JSON.stringify(cond.key)} is not a supported condition key (request.headers[…], source.ip, remote.ip, source.namespace, source.principal, request.auth.*, destination.ip, destination.port, connection.sni)`,
        );
        return;
      }
      const values = stringList(cond.values) ?? [];
      const notValues = stringList(cond.notValues) ?? [];
      if (values.length === 0 && notValues.length === 0) {
        problems.push(`spec.${p}: at least one of values or notValues must be set`);
        return;
      }
      if (values.length > 0)
        when.push(compileField(a.attr, false, values, `${p}.values`, a.header, problems));
      if (notValues.length > 0)
        when.push(compileField(a.attr, true, notValues, `${p}.notValues`, a.header, problems));
    });
  } else if (r.when !== undefined && r.when !== null) problems.push(`${base}.when: must be a list`);
  let httpField = '';
  for (const f of [...from.flat(), ...to.flat(), ...when]) {
    if (f.http) {
      httpField = f.path;
      break;
    }
  }
  return { index, from, to, when, httpField };
}

function compilePolicy(p: PolicyObject, problems: string[]): CompiledPolicy {
  const key = `${p.metadata.namespace}/${p.metadata.name}`;
  const spec = p.spec as {
    action?: unknown;
    rules?: unknown;
    selector?: unknown;
    targetRef?: unknown;
    targetRefs?: unknown;
  };
  const local: string[] = [];
  let action = ALLOW;
  switch (spec.action ?? 'ALLOW') {
    case 'ALLOW':
      break;
    case 'DENY':
      action = DENY;
      break;
    case 'AUDIT':
      action = AUDIT;
      break;
    case 'CUSTOM':
      local.push('spec.action: CUSTOM is not supported by Weft (no extension providers); use ALLOW or DENY');
      break;
    default:
      local.push(`spec.action: ${JSON.stringify(spec.action)} is not one of ALLOW, DENY, AUDIT`);
  }
  const rules: Rule[] = [];
  if (Array.isArray(spec.rules))
    spec.rules.forEach((r: unknown, i: number) => rules.push(compileRule(r, i, local)));
  else if (spec.rules !== undefined && spec.rules !== null) local.push('spec.rules: must be a list');

  const refs: unknown[] = [];
  if (spec.targetRef !== undefined && spec.targetRef !== null) refs.push(spec.targetRef);
  if (Array.isArray(spec.targetRefs)) refs.push(...(spec.targetRefs as unknown[]));
  let selector: LabelSelector | null = null;
  const targets: ServiceRef[] = [];
  if (refs.length > 0) {
    for (const ref of refs) {
      const r = (ref ?? {}) as { kind?: unknown; group?: unknown; name?: unknown; namespace?: unknown };
      const group = r.group ?? '';
      if (r.kind === 'Service' && (group === '' || group === 'core') && typeof r.name === 'string') {
        targets.push({ namespace: p.metadata.namespace, name: r.name });
      }
      // Gateway, GatewayClass, ServiceEntry: no Weft workload is one of these; the ref selects nothing.
    }
  } else {
    const raw = spec.selector as { matchLabels?: unknown } | undefined | null;
    const sel = compileSelector(raw ? { matchLabels: raw.matchLabels } : undefined, 'spec.selector');
    if (typeof sel === 'string') local.push(sel);
    else selector = sel;
  }
  for (const pr of local) {
    problems.push(`AuthorizationPolicy ${key}: ${pr.startsWith('rules[') ? `spec.${pr}` : pr}`);
  }
  return { key, namespace: p.metadata.namespace, action, rules, selector, targets };
}

// ---------------------------------------------------------------------------------------------------
// Connections, prepared once

const PREPARED = Symbol('weft.authz.prepared');
const NO_IP: IpWords = [0, 0, 0, 0];

/** A connection with its addresses parsed and its principal split once, reused for every request on it. */
export interface PreparedConnection {
  readonly [PREPARED]: true;
  readonly info: ConnectionInfo;
  /** Principal without `spiffe://`, or undefined for plaintext. */
  readonly principal: string | undefined;
  /** Namespace from the principal (`<td>/ns/<ns>/…`), or undefined. */
  readonly namespace: string | undefined;
  readonly sourceIp: IpWords;
  readonly remoteIp: IpWords;
  readonly destIp: IpWords;
  readonly port: number;
  readonly sni: string | undefined;
  /** Why the connection cannot be evaluated (an unparseable address), or ''. */
  readonly invalid: string;
}

function namespaceOf(principal: string): string | undefined {
  const parts = principal.split('/');
  return parts.length >= 3 && parts[1] === 'ns' && parts[2] !== '' ? parts[2] : undefined;
}

/** Parses a connection once (the proxy calls this when a connection is accepted). */
export function prepareConnection(c: ConnectionInfo): PreparedConnection {
  const raw = c.source.principal;
  const principal =
    raw === undefined || raw === '' ? undefined : raw.startsWith('spiffe://') ? raw.slice(9) : raw;
  const src = parseIp(c.source.ip);
  const remote = c.source.remoteIp === undefined ? src : parseIp(c.source.remoteIp);
  const dst = parseIp(c.destination.ip);
  let invalid = '';
  if (!src) invalid = `source address ${JSON.stringify(c.source.ip)} is not an IP address`;
  else if (!remote) invalid = `remote address ${JSON.stringify(c.source.remoteIp)} is not an IP address`;
  else if (!dst) invalid = `destination address ${JSON.stringify(c.destination.ip)} is not an IP address`;
  else if (!Number.isInteger(c.destination.port) || c.destination.port < 0 || c.destination.port > 65535) {
    invalid = `destination port ${c.destination.port} is not a port`;
  }
  return {
    [PREPARED]: true,
    info: c,
    principal,
    namespace: principal === undefined ? undefined : namespaceOf(principal),
    sourceIp: src?.words ?? NO_IP,
    remoteIp: remote?.words ?? NO_IP,
    destIp: dst?.words ?? NO_IP,
    port: c.destination.port,
    sni: c.sni,
    invalid,
  };
}

function isPrepared(c: ConnectionInfo | PreparedConnection): c is PreparedConnection {
  return (c as PreparedConnection)[PREPARED] === true;
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

/** Per-check state. Evaluation is synchronous, so one scratch object serves every check. */
interface Scratch {
  conn: PreparedConnection;
  req: RequestInfo | null;
  path: string;
  host: string | undefined;
}

const NO = 'no'; // the failure marker on the fast path (no message is built)

function fieldValue(f: Field, s: Scratch): string | undefined {
  const req = s.req;
  switch (f.attr) {
    case A_PRINCIPAL:
      return s.conn.principal;
    case A_NAMESPACE:
      return s.conn.namespace;
    case A_REQ_PRINCIPAL:
      return req?.requestPrincipal;
    case A_HOST:
      if (s.host === undefined && req) s.host = req.host.toLowerCase();
      return s.host;
    case A_METHOD:
      return req?.method;
    case A_PATH:
      return req ? s.path : undefined;
    case A_SNI:
      return s.conn.sni;
    case A_HEADER:
      return req?.header(f.header);
    default:
      return undefined;
  }
}

function fieldMatches(f: Field, s: Scratch): boolean {
  switch (f.attr) {
    case A_SOURCE_IP:
    case A_REMOTE_IP:
    case A_DEST_IP: {
      const ip =
        f.attr === A_SOURCE_IP ? s.conn.sourceIp : f.attr === A_REMOTE_IP ? s.conn.remoteIp : s.conn.destIp;
      for (let i = 0; i < f.cidrs.length; i++) if (cidrContains(f.cidrs[i] as Cidr, ip)) return true;
      return false;
    }
    case A_PORT:
      return f.ports.includes(s.conn.port);
    default:
      return matchAny(f.strings, fieldValue(f, s));
  }
}

function describe(f: Field, s: Scratch): string {
  let v: string;
  switch (f.attr) {
    case A_SOURCE_IP:
      v = s.conn.info.source.ip;
      break;
    case A_REMOTE_IP:
      v = s.conn.info.source.remoteIp ?? s.conn.info.source.ip;
      break;
    case A_DEST_IP:
      v = s.conn.info.destination.ip;
      break;
    case A_PORT:
      v = String(s.conn.port);
      break;
    default: {
      const x = fieldValue(f, s);
      v = x === undefined ? '<none>' : x;
    }
  }
  const list =
    f.attr === A_SOURCE_IP || f.attr === A_REMOTE_IP || f.attr === A_DEST_IP
      ? f.cidrs.map((c) => c.text)
      : f.attr === A_PORT
        ? f.ports.map(String)
        : f.strings.map((m) => m.text);
  const shown = v === '<none>' ? v : JSON.stringify(v);
  return `${f.path}: ${shown} ${f.neg ? 'matches' : 'not in'} ${JSON.stringify(list)}`;
}

/**
 * Fields ANDed. Returns null when all match, else the failure (`NO` unless explaining).
 * `skipHttp`: DENY/AUDIT on TCP — HTTP-only fields are treated as matching.
 */
function fieldsFail(
  fields: readonly Field[],
  s: Scratch,
  skipHttp: boolean,
  explain: boolean,
): string | null {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as Field;
    if (skipHttp && f.http) continue;
    if (fieldMatches(f, s) === f.neg) return explain ? describe(f, s) : NO;
  }
  return null;
}

/** Entries ORed (an empty list matches). */
function entriesFail(
  entries: readonly (readonly Field[])[],
  s: Scratch,
  skipHttp: boolean,
  explain: boolean,
): string | null {
  if (entries.length === 0) return null;
  let first: string | null = null;
  for (let i = 0; i < entries.length; i++) {
    const f = fieldsFail(entries[i] as readonly Field[], s, skipHttp, explain);
    if (f === null) return null;
    if (first === null) first = f;
    else if (explain) first = `${first}; ${f}`;
  }
  return first;
}

function ruleFails(r: Rule, action: number, s: Scratch, tcp: boolean, explain: boolean): string | null {
  if (tcp && r.httpField !== '') {
    if (action === ALLOW) {
      return explain
        ? `rules[${r.index}]: ${r.httpField} is HTTP-only, so this ALLOW rule matches nothing on a TCP connection`
        : NO;
    }
  }
  const skip = tcp; // ALLOW rules with HTTP fields were handled above; the rest have none or drop them
  return (
    entriesFail(r.from, s, skip, explain) ??
    entriesFail(r.to, s, skip, explain) ??
    fieldsFail(r.when, s, skip, explain)
  );
}

// ---------------------------------------------------------------------------------------------------
// Per-workload authorizer

/** The decisions of one rule, preallocated: [audit false, audit true]. */
interface RuleDecisions {
  readonly allow: readonly [Decision, Decision];
  readonly deny: readonly [Decision, Decision];
}

interface Bound {
  readonly policy: CompiledPolicy;
  readonly decisions: readonly RuleDecisions[];
}

function pair(d: Omit<Decision, 'audit'>): readonly [Decision, Decision] {
  return [Object.freeze({ ...d }), Object.freeze({ ...d, audit: true })];
}

/** Authorization for one workload: what the proxy calls per connection and per request. */
export interface WorkloadAuthorizer {
  readonly namespace: string;
  readonly name: string;
  /** `namespace/name` of every policy that applies, in evaluation order. */
  readonly policies: readonly string[];
  /** True when some applicable policy has HTTP-only fields that can apply to this port: parse HTTP there. */
  needsL7(port: number): boolean;
  /** L4 decision (TCP semantics; see the module comment). */
  checkConnection(c: ConnectionInfo | PreparedConnection, opts?: CheckOptions): Decision;
  /** L7 decision for one request on a connection. */
  checkRequest(c: ConnectionInfo | PreparedConnection, req: RequestInfo, opts?: CheckOptions): Decision;
}

function portExcluded(fields: readonly Field[], port: number): boolean {
  for (const f of fields) {
    if (f.attr !== A_PORT) continue;
    if (f.neg === f.ports.includes(port)) return true;
  }
  return false;
}

/** Conservative: false only when no rule with HTTP-only fields can apply to `port`. */
function ruleNeedsL7(r: Rule, port: number): boolean {
  if (r.httpField === '') return false;
  if (portExcluded(r.when, port)) return false;
  if (r.to.length > 0 && r.to.every((op) => portExcluded(op, port))) return false;
  return true;
}

class CompiledWorkloadAuthorizer implements WorkloadAuthorizer {
  readonly namespace: string;
  readonly name: string;
  readonly policies: readonly string[];
  readonly #deny: readonly Bound[];
  readonly #allow: readonly Bound[];
  readonly #audit: readonly Bound[];
  readonly #noAllow: readonly [Decision, Decision];
  readonly #noMatch: readonly [Decision, Decision];
  readonly #l7: Map<number, boolean> = new Map();
  readonly #scratch: Scratch;

  constructor(
    namespace: string,
    name: string,
    applicable: readonly CompiledPolicy[],
    defaultPolicy: 'deny' | 'allow',
  ) {
    this.namespace = namespace;
    this.name = name;
    const bind = (p: CompiledPolicy): Bound => ({
      policy: p,
      decisions: p.rules.map((r) => ({
        allow: pair({
          allowed: true,
          policy: p.key,
          rule: r.index,
          reason: `allowed by ALLOW policy ${p.key} rules[${r.index}]`,
        }),
        deny: pair({
          allowed: false,
          policy: p.key,
          rule: r.index,
          reason: `denied by DENY policy ${p.key} rules[${r.index}]`,
        }),
      })),
    });
    this.#deny = applicable.filter((p) => p.action === DENY).map(bind);
    this.#allow = applicable.filter((p) => p.action === ALLOW).map(bind);
    this.#audit = applicable.filter((p) => p.action === AUDIT).map(bind);
    this.policies = [...this.#audit, ...this.#deny, ...this.#allow].map((b) => b.policy.key);
    this.#noAllow =
      defaultPolicy === 'deny'
        ? pair({ allowed: false, reason: 'default deny: no ALLOW policy matches' })
        : pair({
            allowed: true,
            reason: 'allowed: no ALLOW policy applies to the workload (defaultPolicy: allow)',
          });
    this.#noMatch =
      defaultPolicy === 'deny'
        ? pair({ allowed: false, reason: 'default deny: no ALLOW policy matches' })
        : pair({ allowed: false, reason: 'denied: no ALLOW policy matches' });
    this.#scratch = { conn: prepareConnection(BLANK), req: null, path: '', host: undefined };
  }

  needsL7(port: number): boolean {
    let v = this.#l7.get(port);
    if (v === undefined) {
      v = [...this.#audit, ...this.#deny, ...this.#allow].some((b) =>
        b.policy.rules.some((r) => ruleNeedsL7(r, port)),
      );
      this.#l7.set(port, v);
    }
    return v;
  }

  checkConnection(c: ConnectionInfo | PreparedConnection, opts?: CheckOptions): Decision {
    const conn = isPrepared(c) ? c : prepareConnection(c);
    if (conn.invalid !== '') return invalidDecision(conn.invalid);
    const s = this.#scratch;
    s.conn = conn;
    s.req = null;
    s.path = '';
    s.host = undefined;
    return this.#evaluate(s, true, opts?.explain === true);
  }

  checkRequest(c: ConnectionInfo | PreparedConnection, req: RequestInfo, opts?: CheckOptions): Decision {
    const conn = isPrepared(c) ? c : prepareConnection(c);
    if (conn.invalid !== '') return invalidDecision(conn.invalid);
    // Istio Authorization Policy Normalization, "Method not in upper case": the request is rejected.
    if (!UPPER_METHOD.test(req.method)) {
      return reject(
        `method ${JSON.stringify(req.method)} is not an upper-case token; rejected before authorization`,
      );
    }
    const n = normalizePath(req.path);
    if (!n.ok) return reject(`${n.reason}; rejected before authorization`);
    const s = this.#scratch;
    s.conn = conn;
    s.req = req;
    s.path = n.path;
    s.host = undefined;
    try {
      return this.#evaluate(s, false, opts?.explain === true);
    } finally {
      s.req = null;
    }
  }

  #evaluate(s: Scratch, tcp: boolean, explain: boolean): Decision {
    if (explain) return this.#explain(s, tcp);
    let audit = 0;
    for (const b of this.#audit) {
      if (firstMatchingRule(b, s, tcp) !== -1) {
        audit = 1;
        break;
      }
    }
    for (const b of this.#deny) {
      const r = firstMatchingRule(b, s, tcp);
      if (r !== -1) return (b.decisions[r] as RuleDecisions).deny[audit] as Decision;
    }
    if (this.#allow.length === 0) return this.#noAllow[audit] as Decision;
    for (const b of this.#allow) {
      const r = firstMatchingRule(b, s, tcp);
      if (r !== -1) return (b.decisions[r] as RuleDecisions).allow[audit] as Decision;
    }
    return this.#noMatch[audit] as Decision;
  }

  #explain(s: Scratch, tcp: boolean): Decision {
    const trace: TraceEntry[] = [];
    const run = (b: Bound): number => {
      const failures: string[] = [];
      const p = b.policy;
      for (const r of p.rules) {
        const f = ruleFails(r, p.action, s, tcp, true);
        if (f === null) {
          trace.push({
            policy: p.key,
            action: ACTION_NAMES[p.action] as PolicyAction,
            matched: true,
            rule: r.index,
          });
          return r.index;
        }
        failures.push(f);
      }
      if (p.rules.length === 0) failures.push('no rules: the policy matches nothing');
      trace.push({ policy: p.key, action: ACTION_NAMES[p.action] as PolicyAction, matched: false, failures });
      return -1;
    };
    let audit = false;
    for (const b of this.#audit) if (run(b) !== -1) audit = true;
    let decided: Decision | undefined;
    for (const b of this.#deny) {
      const r = run(b);
      if (r !== -1 && decided === undefined) decided = (b.decisions[r] as RuleDecisions).deny[0];
    }
    let allowHit: Decision | undefined;
    for (const b of this.#allow) {
      const r = run(b);
      if (r !== -1 && allowHit === undefined) allowHit = (b.decisions[r] as RuleDecisions).allow[0];
    }
    if (decided === undefined) {
      decided = this.#allow.length === 0 ? this.#noAllow[0] : (allowHit ?? this.#noMatch[0]);
    }
    const d = decided as Decision;
    return Object.freeze({ ...d, ...(audit ? { audit: true } : {}), trace: Object.freeze(trace) });
  }
}

const UPPER_METHOD = /^[A-Z][A-Z0-9_-]*$/;
const BLANK: ConnectionInfo = { source: { ip: '0.0.0.0' }, destination: { ip: '0.0.0.0', port: 0 } };

function firstMatchingRule(b: Bound, s: Scratch, tcp: boolean): number {
  const p = b.policy;
  const rules = p.rules;
  for (let i = 0; i < rules.length; i++)
    if (ruleFails(rules[i] as Rule, p.action, s, tcp, false) === null) return i;
  return -1;
}

function reject(reason: string): Decision {
  return Object.freeze({ allowed: false, reason });
}

function invalidDecision(why: string): Decision {
  return Object.freeze({ allowed: false, reason: `invalid connection: ${why}` });
}

/** A workload the authorizer does not know: fail closed. */
class UnknownWorkloadAuthorizer implements WorkloadAuthorizer {
  readonly namespace: string;
  readonly name: string;
  readonly policies: readonly string[] = [];
  readonly #d: Decision;
  constructor(namespace: string, name: string) {
    this.namespace = namespace;
    this.name = name;
    this.#d = Object.freeze({ allowed: false, reason: `unknown workload ${namespace}/${name}: denied` });
  }
  needsL7(): boolean {
    return false;
  }
  checkConnection(): Decision {
    return this.#d;
  }
  checkRequest(): Decision {
    return this.#d;
  }
}

// ---------------------------------------------------------------------------------------------------
// The index

interface NamespaceIndex {
  /** Policies without a label to index by (no selector, or only matchExpressions). */
  readonly all: CompiledPolicy[];
  readonly byLabel: Map<string, CompiledPolicy[]>;
}

function addToIndex(
  idx: Map<string, NamespaceIndex>,
  ns: string,
  p: CompiledPolicy,
  sel: LabelSelector,
): void {
  let n = idx.get(ns);
  if (!n) {
    n = { all: [], byLabel: new Map() };
    idx.set(ns, n);
  }
  const k = indexKey(sel);
  if (k === undefined) n.all.push(p);
  else {
    const list = n.byLabel.get(k);
    if (list) list.push(p);
    else n.byLabel.set(k, [p]);
  }
}

export interface AuthorizationInput {
  security: Pick<SecurityEntry, 'authorizationPolicies'>;
  mesh: Pick<MeshSettings, 'defaultPolicy' | 'rootNamespace'>;
  workloads: readonly WorkloadInfo[];
  /** The Services that select a workload (for `targetRef(s)` of kind Service). Default: none. */
  servicesOf?: (workload: WorkloadInfo) => readonly ServiceRef[];
}

/** The compiled AuthorizationPolicy set of a snapshot. */
export interface AuthorizationEngine {
  /** The authorizer of one workload (cached). An unknown workload gets one that denies everything. */
  forWorkload(namespace: string, name: string): WorkloadAuthorizer;
}

/**
 * Compiles the AuthorizationPolicies. Throws `WEFT_AUTHZ_INVALID_POLICY` listing every problem when a
 * policy cannot be compiled (a malformed CIDR or port, an unsupported key or action): a policy set is
 * accepted whole or not at all.
 */
export function compileAuthorizationPolicies(input: AuthorizationInput): AuthorizationEngine {
  const problems: string[] = [];
  const compiled = [...input.security.authorizationPolicies]
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1,
    )
    .map((p) => compilePolicy(p, problems));
  if (problems.length > 0) {
    throw new WeftError(
      'WEFT_AUTHZ_INVALID_POLICY',
      `cannot compile authorization policies:\n  ${problems.join('\n  ')}\nFix the fields named above (see docs/authorization.md).`,
      { detail: { problems } },
    );
  }
  const root = input.mesh.rootNamespace;
  const bySelector = new Map<string, NamespaceIndex>();
  const byTarget = new Map<string, CompiledPolicy[]>();
  for (const p of compiled) {
    if (p.selector !== null) addToIndex(bySelector, p.namespace, p, p.selector);
    for (const t of p.targets) {
      const k = `${t.namespace}/${t.name}`;
      const list = byTarget.get(k);
      if (list) list.push(p);
      else byTarget.set(k, [p]);
    }
  }
  const workloads = new Map<string, WorkloadInfo>();
  for (const w of input.workloads) workloads.set(`${w.namespace}/${w.name}`, w);
  const cache = new Map<string, WorkloadAuthorizer>();
  const servicesOf = input.servicesOf;

  const applicable = (w: WorkloadInfo): CompiledPolicy[] => {
    const found = new Set<CompiledPolicy>();
    const consider = (list: readonly CompiledPolicy[] | undefined): void => {
      if (!list) return;
      for (const p of list) if (p.selector !== null && matchSelector(p.selector, w.labels)) found.add(p);
    };
    for (const ns of w.namespace === root ? [root] : [root, w.namespace]) {
      const idx = bySelector.get(ns);
      if (!idx) continue;
      consider(idx.all);
      for (const [k, v] of Object.entries(w.labels)) consider(idx.byLabel.get(`${k}=${v}`));
    }
    if (byTarget.size > 0 && servicesOf) {
      for (const svc of servicesOf(w))
        for (const p of byTarget.get(`${svc.namespace}/${svc.name}`) ?? []) found.add(p);
    }
    return [...found].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  };

  return {
    forWorkload(namespace: string, name: string): WorkloadAuthorizer {
      const key = `${namespace}/${name}`;
      let a = cache.get(key);
      if (a === undefined) {
        const w = workloads.get(key);
        a = w
          ? new CompiledWorkloadAuthorizer(namespace, name, applicable(w), input.mesh.defaultPolicy)
          : new UnknownWorkloadAuthorizer(namespace, name);
        cache.set(key, a);
      }
      return a;
    },
  };
}
