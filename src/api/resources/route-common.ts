/**
 * Types shared by HTTPRoute and GRPCRoute (Gateway API v1, https://gateway-api.sigs.k8s.io/reference/spec/):
 * ParentReference, BackendObjectReference, hostnames, header modifier / mirror / extensionRef filters,
 * with the spec's defaults and CEL validation rules. Weft implements the mesh profile (GAMMA,
 * GEP-1426): a route's parents are Services, so a parentRef must be `group: ""`, `kind: Service`.
 */
import { dnsSubdomain } from '../manifest/formats.ts';
import {
  type Schema,
  type Ctx,
  type Seg,
  obj,
  list,
  str,
  int,
  req,
  dflt,
  oneOf,
  portNumber,
  CODES,
} from '../manifest/schema.ts';

/** Gateway API ParentReference. Defaults: group `gateway.networking.k8s.io`, kind `Gateway` (upstream). */
export interface ParentReference {
  group: string;
  kind: string;
  /** Default: the route's namespace. */
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** Gateway API BackendObjectReference. Defaults: group "" (core), kind Service. */
export interface BackendObjectReference {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPHeaderFilter {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface HTTPRequestMirrorFilter {
  backendRef: BackendObjectReference;
  /** Percentage 0-100 of requests mirrored. Exclusive with fraction. Absent: all. */
  percent?: number;
  fraction?: { numerator: number; denominator: number };
}

export interface LocalObjectReference {
  group: string;
  kind: string;
  name: string;
}

/** Header names (RFC 7230 token), as HTTPHeaderName in the spec. */
export const headerName = (): Schema<string> =>
  str({
    min: 1,
    max: 256,
    pattern: /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/,
    patternHint: 'must be an HTTP header name (RFC 7230 token characters)',
  });

/** Gateway API Hostname: a DNS name, optionally with one leading `*.` wildcard label; no IPs. */
export const hostname = (): Schema<string> =>
  str({
    min: 1,
    max: 253,
    pattern: /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    patternHint: "must be a lowercase DNS name, optionally starting with '*.' (no IP addresses, no ports)",
  });

export const preciseHostname = (): Schema<string> =>
  str({
    min: 1,
    max: 253,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    patternHint: 'must be a lowercase DNS name without wildcards',
  });

const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
export const group = (): Schema<string> =>
  str({ max: 253, pattern: GROUP, patternHint: 'must be an API group (a DNS subdomain, or "" for core)' });
export const kindName = (): Schema<string> =>
  str({ min: 1, max: 63, pattern: KIND, patternHint: 'must be a Kind name such as Service' });
export const sectionName = (): Schema<string> =>
  str({
    min: 1,
    max: 253,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    patternHint: 'must be a DNS subdomain',
  });

export const parentReference = obj<ParentReference>(
  {
    group: dflt(group(), 'gateway.networking.k8s.io'),
    kind: dflt(kindName(), 'Gateway'),
    namespace: dnsSubdomain(),
    name: req(dnsSubdomain()),
    sectionName: sectionName(),
    port: portNumber(),
  },
  {
    check: (p, path, cx, raw) => {
      if (p.kind !== 'Service' || p.group !== '') {
        const at: Seg[] = raw.kind !== undefined ? [...path, 'kind'] : path;
        cx.error(
          at,
          `parent ${p.group || 'core'}/${p.kind} is not supported: Weft routes in mesh mode (GAMMA), so parentRefs must name a Service with group: "" and kind: Service`,
          CODES.unsupported,
        );
      }
    },
  },
);

function backendRefFields() {
  return {
    group: dflt(group(), ''),
    kind: dflt(kindName(), 'Service'),
    name: req(dnsSubdomain()),
    namespace: dnsSubdomain(),
    port: portNumber(),
  };
}

/** Spec CEL: "Must have port for Service reference"; Weft routes only to core Services. */
export function checkBackendObjectRef(b: BackendObjectReference, path: Seg[], cx: Ctx): void {
  if (b.group !== '' || b.kind !== 'Service') {
    cx.error(
      [...path, 'kind'],
      `backend ${b.group || 'core'}/${b.kind} is not supported: Weft routes to Services (group: "", kind: Service)`,
      CODES.unsupported,
    );
  } else if (b.port === undefined) {
    cx.error(
      [...path, 'port'],
      'required for a Service backend (Gateway API: "Must have port for Service reference")',
      CODES.required,
    );
  }
}

export const backendObjectReference = obj<BackendObjectReference>(backendRefFields(), {
  check: checkBackendObjectRef,
});

export { backendRefFields };

const header = obj<HTTPHeader>({ name: req(headerName()), value: req(str({ min: 1, max: 4096 })) });
const headerList = () =>
  list(header, {
    max: 16,
    uniqueBy: (h) => (h as { name?: string }).name?.toLowerCase(),
    uniqueWhat: 'header name',
  });

export const headerFilter = obj<HTTPHeaderFilter>({
  set: headerList(),
  add: headerList(),
  remove: list(headerName(), {
    max: 16,
    uniqueBy: (h) => String(h).toLowerCase(),
    uniqueWhat: 'header name',
  }),
});

export const requestMirror = obj<HTTPRequestMirrorFilter>(
  {
    backendRef: req(backendObjectReference),
    percent: int({ min: 0, max: 100 }),
    fraction: obj<{ numerator: number; denominator: number }>(
      { numerator: req(int({ min: 0 })), denominator: dflt(int({ min: 1 }), 100) },
      {
        check: (f, path, cx) => {
          if (f.numerator > f.denominator)
            cx.error([...path, 'numerator'], `must be less than or equal to denominator (${f.denominator})`);
        },
      },
    ),
  },
  { atMostOne: [['percent', 'fraction']] },
);

export const extensionRef = obj<LocalObjectReference>({
  group: req(group()),
  kind: req(kindName()),
  name: req(dnsSubdomain()),
});

/** Gateway API: a filter's config field must be set exactly when its `type` names it. */
export function checkFilterConfig(
  f: Record<string, unknown> & { type: string },
  fieldOf: Record<string, string>,
  path: Seg[],
  cx: Ctx,
): void {
  const want = fieldOf[f.type];
  for (const [t, field] of Object.entries(fieldOf)) {
    if (field === want) continue;
    if (f[field] !== undefined)
      cx.error(
        [...path, field],
        `must not be set when type is ${f.type} (it belongs to type ${t})`,
        CODES.value,
        'key',
      );
  }
  if (want && f[want] === undefined)
    cx.error([...path, want], `required when type is ${f.type}`, CODES.required);
}

export const hostnames = () => list(hostname(), { max: 16 });
export const parentRefs = () => list(parentReference, { max: 32 });

export const weight = () => dflt(int({ min: 0, max: 1_000_000 }), 1);
export const headerMatchType = () => dflt(oneOf(['Exact', 'RegularExpression'] as const), 'Exact');

/** sessionPersistence is in the spec (GEP-1619) but not implemented yet: reject it clearly. */
export const sessionPersistenceUnsupported: Schema<never> = {
  expected: 'nothing',
  parse(_v, path, cx) {
    cx.error(
      path,
      'sessionPersistence is not supported yet; use a DestinationRule consistentHash (httpCookie) for sticky sessions',
      CODES.unsupported,
      'key',
    );
    return undefined;
  },
};
