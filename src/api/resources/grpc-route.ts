/**
 * gateway.networking.k8s.io/v1 GRPCRoute in mesh mode (https://gateway-api.sigs.k8s.io/reference/spec/#grpcroute).
 * Upstream GRPCRoute has no timeouts or retry (those are HTTPRoute fields), and a rule without
 * matches matches every gRPC request. Method matches follow the spec's CEL rules.
 */
import { regexProblem, dnsSubdomain } from '../manifest/formats.ts';
import { type Schema, obj, list, str, req, dflt, oneOf, CODES } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';
import {
  type ParentReference,
  type BackendObjectReference,
  type HTTPHeaderFilter,
  type HTTPRequestMirrorFilter,
  type LocalObjectReference,
  parentRefs,
  hostnames,
  headerFilter,
  requestMirror,
  extensionRef,
  checkFilterConfig,
  backendRefFields,
  checkBackendObjectRef,
  headerName,
  sectionName,
  weight,
  headerMatchType,
  sessionPersistenceUnsupported,
} from './route-common.ts';
import { checkRuleFilters } from './http-route.ts';

export interface GRPCMethodMatch {
  /** Default Exact. */
  type: 'Exact' | 'RegularExpression';
  /** Fully qualified service, e.g. `foo.bar.Greeter`. */
  service?: string;
  method?: string;
}

export interface GRPCHeaderMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface GRPCRouteMatch {
  method?: GRPCMethodMatch;
  headers?: GRPCHeaderMatch[];
}

export type GRPCRouteFilterType =
  'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'ExtensionRef';

export interface GRPCRouteFilter {
  type: GRPCRouteFilterType;
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestMirror?: HTTPRequestMirrorFilter;
  extensionRef?: LocalObjectReference;
}

export interface GRPCBackendRef extends BackendObjectReference {
  weight: number;
  filters?: GRPCRouteFilter[];
}

export interface GRPCRouteRule {
  name?: string;
  /** Absent or empty: every request. */
  matches?: GRPCRouteMatch[];
  filters?: GRPCRouteFilter[];
  backendRefs?: GRPCBackendRef[];
}

export interface GRPCRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules: GRPCRouteRule[];
}

const FILTER_FIELD: Record<GRPCRouteFilterType, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
};

const GRPC_SERVICE = /^\.?[a-zA-Z_][a-zA-Z_0-9]*(\.[a-zA-Z_][a-zA-Z_0-9]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

const methodMatch = obj<GRPCMethodMatch>(
  {
    type: dflt(oneOf(['Exact', 'RegularExpression'] as const), 'Exact'),
    service: str({ max: 1024 }),
    method: str({ max: 1024 }),
  },
  {
    check: (m, path, cx) => {
      if (m.service === undefined && m.method === undefined)
        cx.error(path, "One or both of 'service' or 'method' must be specified", CODES.required);
      if (m.type === 'Exact') {
        if (m.service !== undefined && !GRPC_SERVICE.test(m.service))
          cx.error(
            [...path, 'service'],
            `${JSON.stringify(m.service)} is not a valid fully qualified gRPC service name (e.g. "helloworld.Greeter") when type is Exact`,
          );
        if (m.method !== undefined && !GRPC_METHOD.test(m.method))
          cx.error(
            [...path, 'method'],
            `${JSON.stringify(m.method)} is not a valid gRPC method name (e.g. "SayHello") when type is Exact`,
          );
      } else {
        for (const f of ['service', 'method'] as const) {
          const v = m[f];
          const msg = v === undefined ? undefined : regexProblem(v);
          if (msg) cx.error([...path, f], msg);
        }
      }
    },
  },
);

const headerMatch = obj<GRPCHeaderMatch>(
  { type: headerMatchType(), name: req(headerName()), value: req(str({ min: 1, max: 4096 })) },
  {
    check: (h, path, cx) => {
      const msg = h.type === 'RegularExpression' ? regexProblem(h.value) : undefined;
      if (msg) cx.error([...path, 'value'], msg);
    },
  },
);

const routeMatch = obj<GRPCRouteMatch>({
  method: methodMatch,
  headers: list(headerMatch, {
    max: 16,
    uniqueBy: (h) => (h as { name?: string }).name?.toLowerCase(),
    uniqueWhat: 'header name',
  }),
});

const filter = obj<GRPCRouteFilter>(
  {
    type: req(oneOf(Object.keys(FILTER_FIELD) as GRPCRouteFilterType[])),
    requestHeaderModifier: headerFilter,
    responseHeaderModifier: headerFilter,
    requestMirror,
    extensionRef,
  },
  {
    check: (f, path, cx) =>
      checkFilterConfig(f as GRPCRouteFilter & Record<string, unknown>, FILTER_FIELD, path, cx),
  },
);

const backendRef = obj<GRPCBackendRef>(
  { ...backendRefFields(), weight: weight(), filters: list(filter, { max: 16 }) },
  {
    check: (b, path, cx) => {
      checkBackendObjectRef(b, path, cx);
      if (b.filters) checkRuleFilters(b.filters, undefined, false, path, cx);
    },
  },
);

const rule = obj<GRPCRouteRule>(
  {
    name: sectionName(),
    matches: list(routeMatch, { max: 64 }),
    filters: list(filter, { max: 16 }),
    backendRefs: list(backendRef, { max: 16 }),
    sessionPersistence: sessionPersistenceUnsupported,
  },
  { check: (r, path, cx) => r.filters && checkRuleFilters(r.filters, undefined, false, path, cx) },
);

export const grpcRouteSpec: Schema<GRPCRouteSpec> = obj<GRPCRouteSpec>({
  parentRefs: parentRefs(),
  hostnames: hostnames(),
  rules: dflt(
    list(rule, { max: 16, uniqueBy: (r) => (r as { name?: string }).name, uniqueWhat: 'rule name' }),
    () => [],
  ),
});

export const grpcRouteKind: KindDef<GRPCRouteSpec> = {
  kind: 'GRPCRoute',
  apiVersion: 'gateway.networking.k8s.io/v1',
  apiVersions: ['gateway.networking.k8s.io/v1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: grpcRouteSpec,
  specRequired: true,
};
