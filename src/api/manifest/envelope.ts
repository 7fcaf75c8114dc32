/**
 * The resource envelope (apiVersion, kind, metadata, spec, status) and the table of kinds. Turns one
 * plain object into a validated, defaulted, deep-frozen Resource, reporting Issues with field paths;
 * the caller (manifest parser or HTTP API) maps paths to positions.
 */
import type { Resource, ResourceMeta } from '../resource.ts';
import type { KindDef } from '../resources/common.ts';
import { labels } from '../resources/common.ts';
import { serviceKind } from '../resources/service.ts';
import { namespaceKind } from '../resources/namespace.ts';
import { nodeKind } from '../resources/node.ts';
import { workloadKind } from '../resources/workload.ts';
import { meshConfigKind } from '../resources/mesh-config.ts';
import { httpRouteKind } from '../resources/http-route.ts';
import { grpcRouteKind } from '../resources/grpc-route.ts';
import { destinationRuleKind } from '../resources/destination-rule.ts';
import { authorizationPolicyKind } from '../resources/authorization-policy.ts';
import { peerAuthenticationKind } from '../resources/peer-authentication.ts';
import { networkPolicyKind } from '../resources/network-policy.ts';
import { faultInjectionKind } from '../resources/fault-injection.ts';
import { rateLimitPolicyKind } from '../resources/rate-limit-policy.ts';
import { invariantKind } from '../resources/invariant.ts';
import { dnsLabel, labelKey } from './formats.ts';
import {
  Ctx,
  CODES,
  type Issue,
  obj,
  record,
  req,
  str,
  int,
  deepFreeze,
  didYouMean,
  isPlainObject,
  typeName,
} from './schema.ts';

/** One row of the kinds table. `parse` validates a whole object of this kind (as parseResourceObject). */
export interface KindInfo {
  kind: string;
  /** Canonical apiVersion (what the store keeps). */
  apiVersion: string;
  /** Every accepted apiVersion, canonical first. */
  apiVersions: readonly string[];
  namespaced: boolean;
  parse: (obj: unknown) => { resource?: Resource; issues: Issue[] };
}

const DEFS: readonly KindDef<unknown>[] = [
  namespaceKind,
  nodeKind,
  meshConfigKind,
  serviceKind,
  workloadKind,
  httpRouteKind,
  grpcRouteKind,
  destinationRuleKind,
  authorizationPolicyKind,
  peerAuthenticationKind,
  networkPolicyKind,
  faultInjectionKind,
  rateLimitPolicyKind,
  invariantKind,
] as KindDef<unknown>[];

const BY_KIND = new Map(DEFS.map((d) => [d.kind, d]));

export const KINDS: readonly KindInfo[] = Object.freeze(
  DEFS.map((d) =>
    Object.freeze({
      kind: d.kind,
      apiVersion: d.apiVersion,
      apiVersions: Object.freeze([...d.apiVersions]),
      namespaced: d.namespaced,
      parse: (o: unknown) => parseEnvelope(o, d.kind),
    }),
  ),
);

interface RawMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}

function metaSchema(def: KindDef<unknown>) {
  return obj<RawMeta>({
    name: req(def.name),
    namespace: dnsLabel(),
    labels: labels(),
    annotations: record(labelKey(), str()),
    creationTimestamp: str({
      check: (v) =>
        Number.isNaN(Date.parse(v)) ? `${JSON.stringify(v)} is not an RFC 3339 timestamp` : undefined,
    }),
    // Server-set fields a `weft get -o yaml` round trip carries; accepted and dropped.
    resourceVersion: str(),
    uid: str(),
    generation: int(),
  });
}

const ENVELOPE_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

/**
 * Validate one object. `onlyKind` restricts it to one kind (KINDS[].parse). Issues carry paths from
 * the object root; the resource is returned only when there is no error.
 */
export function parseEnvelope(o: unknown, onlyKind?: string): { resource?: Resource; issues: Issue[] } {
  const cx = new Ctx();
  if (!isPlainObject(o)) {
    cx.error(
      [],
      `expected a resource object (apiVersion, kind, metadata, spec), got ${typeName(o)}`,
      CODES.type,
    );
    return { issues: cx.issues };
  }
  for (const k of Object.keys(o)) {
    if (!ENVELOPE_FIELDS.includes(k)) {
      const hint = didYouMean(k, ENVELOPE_FIELDS);
      cx.error(
        [k],
        hint
          ? `unknown field ${JSON.stringify(k)}; did you mean ${JSON.stringify(hint)}?`
          : `unknown field ${JSON.stringify(k)} (known fields: ${ENVELOPE_FIELDS.join(', ')})`,
        CODES.unknownField,
        'key',
      );
    }
  }
  const kind = o.kind;
  const apiVersion = o.apiVersion;
  if (kind === undefined || kind === null) cx.error(['kind'], 'required field is missing', CODES.required);
  else if (typeof kind !== 'string')
    cx.error(['kind'], `expected a string, got ${typeName(kind)}`, CODES.type);
  if (apiVersion === undefined || apiVersion === null)
    cx.error(['apiVersion'], 'required field is missing', CODES.required);
  else if (typeof apiVersion !== 'string')
    cx.error(['apiVersion'], `expected a string, got ${typeName(apiVersion)}`, CODES.type);
  if (typeof kind !== 'string') return { issues: cx.issues };

  const def = BY_KIND.get(kind);
  if (!def) {
    const hint = didYouMean(kind, [...BY_KIND.keys()]);
    cx.error(
      ['kind'],
      `unknown kind ${JSON.stringify(kind)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ''} (Weft knows ${[...BY_KIND.keys()].join(', ')})`,
      CODES.unknownKind,
    );
    return { issues: cx.issues };
  }
  if (onlyKind !== undefined && def.kind !== onlyKind) {
    cx.error(['kind'], `expected kind ${onlyKind}, got ${kind}`, CODES.unknownKind);
    return { issues: cx.issues };
  }
  if (typeof apiVersion === 'string' && !def.apiVersions.includes(apiVersion)) {
    const hint = didYouMean(apiVersion, def.apiVersions);
    cx.error(
      ['apiVersion'],
      `${JSON.stringify(apiVersion)} is not an apiVersion of ${kind}; use ${def.apiVersions.map((v) => JSON.stringify(v)).join(' or ')}${hint && hint !== def.apiVersion ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}`,
      CODES.unknownKind,
    );
  }

  let meta: ResourceMeta | undefined;
  if (o.metadata === undefined || o.metadata === null)
    cx.error(['metadata'], 'required field is missing (at least metadata.name)', CODES.required);
  else {
    // The stored form of a cluster-scoped resource has namespace '' (what `weft get -o yaml` prints),
    // so '' is accepted as "no namespace" and the resource round-trips.
    const rawMeta =
      !def.namespaced &&
      isPlainObject(o.metadata) &&
      (o.metadata as Record<string, unknown>)['namespace'] === ''
        ? Object.fromEntries(
            Object.entries(o.metadata as Record<string, unknown>).filter(([k]) => k !== 'namespace'),
          )
        : o.metadata;
    const m = metaSchema(def).parse(rawMeta, ['metadata'], cx);
    if (m) {
      if (!def.namespaced && m.namespace !== undefined) {
        cx.error(
          ['metadata', 'namespace'],
          `${kind} is cluster-scoped: remove metadata.namespace`,
          CODES.value,
          'key',
        );
      }
      meta = {
        name: m.name,
        namespace: def.namespaced ? (m.namespace ?? 'default') : '',
        labels: m.labels ?? {},
        annotations: m.annotations ?? {},
        ...(m.creationTimestamp !== undefined ? { creationTimestamp: m.creationTimestamp } : {}),
      };
    }
  }

  let spec: unknown;
  if (o.spec === undefined || o.spec === null) {
    if (def.specRequired)
      cx.error(['spec'], `required field is missing (a ${kind} needs a spec)`, CODES.required);
    else spec = def.spec.parse({}, ['spec'], cx);
  } else spec = def.spec.parse(o.spec, ['spec'], cx);

  let status: unknown;
  if (def.status && o.status !== undefined && o.status !== null)
    status = def.status.parse(o.status, ['status'], cx);

  if (meta && spec !== undefined && def.finish) spec = def.finish(spec, meta, cx);
  if (cx.issues.some((i) => i.severity === 'error') || !meta || spec === undefined)
    return { issues: cx.issues };
  const resource: Resource = {
    apiVersion: def.apiVersion,
    kind: def.kind,
    metadata: meta,
    spec: spec as Record<string, unknown>,
    ...(status !== undefined ? { status: status as Record<string, unknown> } : {}),
  };
  return { resource: deepFreeze(resource), issues: cx.issues };
}

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}
