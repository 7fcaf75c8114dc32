/**
 * gateway.networking.k8s.io/v1 HTTPRoute in mesh mode (https://gateway-api.sigs.k8s.io/reference/spec/#httproute),
 * with the spec's defaults and its CEL validation rules (quoted in the messages). Rules are ORed
 * matches; a rule without matches matches every request (default PathPrefix "/").
 */
import { gatewayDuration, gatewayDurationMs, regexProblem, dnsSubdomain } from '../manifest/formats.ts';
import {
  type Schema,
  type Seg,
  type Ctx,
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
  preciseHostname,
  sectionName,
  weight,
  headerMatchType,
  sessionPersistenceUnsupported,
} from './route-common.ts';

export type PathMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression';

export interface HTTPPathMatch {
  type: PathMatchType;
  value: string;
}

export interface HTTPHeaderMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  /** Default `{type: PathPrefix, value: "/"}`. */
  path: HTTPPathMatch;
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: HTTPMethod;
}

export type HTTPMethod =
  'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';

export type HTTPPathModifier =
  | { type: 'ReplaceFullPath'; replaceFullPath: string }
  | { type: 'ReplacePrefixMatch'; replacePrefixMatch: string };

export interface HTTPRequestRedirectFilter {
  scheme?: 'http' | 'https';
  hostname?: string;
  path?: HTTPPathModifier;
  port?: number;
  /** Default 302. */
  statusCode: number;
}

export interface HTTPURLRewriteFilter {
  hostname?: string;
  path?: HTTPPathModifier;
}

export type HTTPRouteFilterType =
  | 'RequestHeaderModifier'
  | 'ResponseHeaderModifier'
  | 'RequestMirror'
  | 'RequestRedirect'
  | 'URLRewrite'
  | 'ExtensionRef';

export interface HTTPRouteFilter {
  type: HTTPRouteFilterType;
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestMirror?: HTTPRequestMirrorFilter;
  requestRedirect?: HTTPRequestRedirectFilter;
  urlRewrite?: HTTPURLRewriteFilter;
  extensionRef?: LocalObjectReference;
}

export interface HTTPBackendRef extends BackendObjectReference {
  /** Default 1; 0 sends no traffic. */
  weight: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPRouteTimeouts {
  /** Whole request, Gateway API duration; "0s" disables. */
  request?: string;
  /** Each attempt to a backend; at most `request`. */
  backendRequest?: string;
}

export interface HTTPRouteRetry {
  /** Status codes (400-599) to retry. */
  codes?: number[];
  /** Retries after the first attempt. */
  attempts?: number;
  backoff?: string;
}

export interface HTTPRouteRule {
  name?: string;
  /** Default `[{path: {type: PathPrefix, value: "/"}}]`. */
  matches: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: HTTPRouteTimeouts;
  retry?: HTTPRouteRetry;
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  /** Default `[{matches: [{path: {type: PathPrefix, value: "/"}}]}]`. */
  rules: HTTPRouteRule[];
}

const FILTER_FIELD: Record<HTTPRouteFilterType, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
};

/** Gateway API HTTPPathMatch CEL rules, in the spec's order. */
export function pathValueProblem(type: PathMatchType, v: string): string | undefined {
  if (type === 'RegularExpression') return regexProblem(v);
  if (!v.startsWith('/'))
    return `must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`;
  if (v.includes('//')) return "must not contain '//' when type one of ['Exact', 'PathPrefix']";
  if (v.includes('/./')) return "must not contain '/./' when type one of ['Exact', 'PathPrefix']";
  if (v.includes('/../')) return "must not contain '/../' when type one of ['Exact', 'PathPrefix']";
  if (v.includes('%2f') || v.includes('%2F'))
    return "must not contain '%2f' or '%2F' when type one of ['Exact', 'PathPrefix']";
  if (v.includes('#')) return "must not contain '#' when type one of ['Exact', 'PathPrefix']";
  if (v.endsWith('/..')) return "must not end with '/..' when type one of ['Exact', 'PathPrefix']";
  if (v.endsWith('/.')) return "must not end with '/.' when type one of ['Exact', 'PathPrefix']";
  if (!/^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/.test(v))
    return "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']";
  return undefined;
}

const pathMatch = obj<HTTPPathMatch>(
  {
    type: dflt(oneOf(['Exact', 'PathPrefix', 'RegularExpression'] as const), 'PathPrefix'),
    value: dflt(str({ max: 1024 }), '/'),
  },
  {
    check: (p, path, cx) => {
      const msg = pathValueProblem(p.type, p.value);
      if (msg) cx.error([...path, 'value'], msg);
    },
  },
);

function headerMatchOf(maxValue: number, nameSchema: Schema<string>) {
  return obj<HTTPHeaderMatch>(
    { type: headerMatchType(), name: req(nameSchema), value: req(str({ min: 1, max: maxValue })) },
    {
      check: (h, path, cx) => {
        if (h.type === 'RegularExpression') {
          const msg = regexProblem(h.value);
          if (msg) cx.error([...path, 'value'], msg);
        }
      },
    },
  );
}

export const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

const routeMatch = obj<HTTPRouteMatch>({
  path: dflt(pathMatch, () => ({ type: 'PathPrefix', value: '/' })),
  headers: list(headerMatchOf(4096, headerName()), {
    max: 16,
    uniqueBy: (h) => (h as { name?: string }).name?.toLowerCase(),
    uniqueWhat: 'header name',
  }),
  queryParams: list(headerMatchOf(1024, headerName()), {
    max: 16,
    uniqueBy: (h) => (h as { name?: string }).name,
    uniqueWhat: 'query parameter name',
  }),
  method: oneOf(HTTP_METHODS),
});

const pathModifier = obj<HTTPPathModifier & { replaceFullPath?: string; replacePrefixMatch?: string }>(
  {
    type: req(oneOf(['ReplaceFullPath', 'ReplacePrefixMatch'] as const)),
    replaceFullPath: str({ max: 1024 }),
    replacePrefixMatch: str({ max: 1024 }),
  },
  {
    check: (m, path, cx) => {
      checkFilterConfig(
        m,
        { ReplaceFullPath: 'replaceFullPath', ReplacePrefixMatch: 'replacePrefixMatch' },
        path,
        cx,
      );
      const v = m.replaceFullPath ?? m.replacePrefixMatch;
      if (v !== undefined && v !== '' && !v.startsWith('/'))
        cx.error(
          [...path, m.type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch'],
          "must start with '/'",
        );
    },
  },
);

const redirect = obj<HTTPRequestRedirectFilter>({
  scheme: oneOf(['http', 'https'] as const),
  hostname: preciseHostname(),
  path: pathModifier,
  port: portNumber(),
  statusCode: dflt(
    int({
      check: (n) =>
        [301, 302, 303, 307, 308].includes(n) ? undefined : `${n} is not one of 301, 302, 303, 307, 308`,
    }),
    302,
  ),
});

const urlRewrite = obj<HTTPURLRewriteFilter>({ hostname: preciseHostname(), path: pathModifier });

function filterSchema(allowed: readonly HTTPRouteFilterType[]): Schema<HTTPRouteFilter> {
  return obj<HTTPRouteFilter>(
    {
      type: req({
        expected: 'a filter type',
        parse(v, path, cx) {
          if (v === 'CORS' || v === 'ExternalAuth') {
            cx.error(path, `filter type ${v} is not supported yet`, CODES.unsupported);
            return undefined;
          }
          if (
            typeof v === 'string' &&
            (['RequestRedirect', 'URLRewrite'] as string[]).includes(v) &&
            !allowed.includes(v as HTTPRouteFilterType)
          ) {
            cx.error(
              path,
              `filter type ${v} is not allowed in a backendRef's filters (Gateway API: only header modifiers, RequestMirror and ExtensionRef)`,
            );
            return undefined;
          }
          return oneOf(allowed).parse(v, path, cx);
        },
      }),
      requestHeaderModifier: headerFilter,
      responseHeaderModifier: headerFilter,
      requestMirror,
      requestRedirect: redirect,
      urlRewrite,
      extensionRef,
    },
    {
      check: (f, path, cx) =>
        checkFilterConfig(f as HTTPRouteFilter & Record<string, unknown>, FILTER_FIELD, path, cx),
    },
  );
}

const ALL_FILTERS = Object.keys(FILTER_FIELD) as HTTPRouteFilterType[];
const BACKEND_FILTERS: HTTPRouteFilterType[] = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
  'ExtensionRef',
];

/** Gateway API rule-level CEL: which filters may repeat, redirect vs rewrite vs backends. */
export function checkRuleFilters(
  filters: readonly {
    type: string;
    requestRedirect?: { path?: { type: string } };
    urlRewrite?: { path?: { type: string } };
  }[],
  matches: readonly { path?: { type: string } }[] | undefined,
  hasBackends: boolean,
  path: Seg[],
  cx: Ctx,
): void {
  const seen = new Map<string, number>();
  filters.forEach((f, i) => {
    if (f.type !== 'RequestMirror' && f.type !== 'ExtensionRef' && seen.has(f.type))
      cx.error(
        [...path, 'filters', i, 'type'],
        `${f.type} filter cannot be repeated (first at filters[${seen.get(f.type)}])`,
        CODES.duplicate,
      );
    if (!seen.has(f.type)) seen.set(f.type, i);
    const mod = f.requestRedirect?.path ?? f.urlRewrite?.path;
    if (mod?.type === 'ReplacePrefixMatch') {
      const ok = matches !== undefined && matches.length === 1 && matches[0]!.path?.type === 'PathPrefix';
      if (!ok)
        cx.error(
          [...path, 'filters', i],
          `When using ${f.type} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`,
        );
    }
  });
  if (seen.has('RequestRedirect') && seen.has('URLRewrite'))
    cx.error([...path, 'filters'], 'May specify either RequestRedirect or URLRewrite, but not both');
  if (seen.has('RequestRedirect') && hasBackends)
    cx.error(
      [...path, 'filters', seen.get('RequestRedirect')!],
      'RequestRedirect filter must not be used together with backendRefs',
    );
}

const httpBackendRef = obj<HTTPBackendRef>(
  { ...backendRefFields(), weight: weight(), filters: list(filterSchema(BACKEND_FILTERS), { max: 16 }) },
  {
    check: (b, path, cx) => {
      checkBackendObjectRef(b, path, cx);
      if (b.filters) checkRuleFilters(b.filters, undefined, false, path, cx);
    },
  },
);

const timeouts = obj<HTTPRouteTimeouts>(
  { request: gatewayDuration(), backendRequest: gatewayDuration() },
  {
    check: (t, path, cx) => {
      if (t.request === undefined || t.backendRequest === undefined) return;
      const r = gatewayDurationMs(t.request)!;
      if (r !== 0 && gatewayDurationMs(t.backendRequest)! > r)
        cx.error(
          [...path, 'backendRequest'],
          `backendRequest timeout cannot be longer than request timeout (${t.request})`,
        );
    },
  },
);

const retry = obj<HTTPRouteRetry>({
  codes: list(int({ min: 400, max: 599 }), { uniqueBy: (c) => String(c), uniqueWhat: 'code' }),
  attempts: int({ min: 0, max: 100 }),
  backoff: gatewayDuration(),
});

const rule = obj<HTTPRouteRule>(
  {
    name: sectionName(),
    matches: dflt(list(routeMatch, { max: 64 }), () => [{ path: { type: 'PathPrefix', value: '/' } }]),
    filters: list(filterSchema(ALL_FILTERS), { max: 16 }),
    backendRefs: list(httpBackendRef, { max: 16 }),
    timeouts,
    retry,
    sessionPersistence: sessionPersistenceUnsupported,
  },
  {
    check: (r, path, cx, raw) => {
      if (r.filters)
        checkRuleFilters(
          r.filters,
          raw.matches === undefined ? r.matches : r.matches,
          (r.backendRefs?.length ?? 0) > 0,
          path,
          cx,
        );
    },
  },
);

export const httpRouteSpec: Schema<HTTPRouteSpec> = obj<HTTPRouteSpec>({
  parentRefs: parentRefs(),
  hostnames: hostnames(),
  rules: dflt(
    list(rule, { max: 16, uniqueBy: (r) => (r as { name?: string }).name, uniqueWhat: 'rule name' }),
    () => [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }],
  ),
});

export const httpRouteKind: KindDef<HTTPRouteSpec> = {
  kind: 'HTTPRoute',
  apiVersion: 'gateway.networking.k8s.io/v1',
  apiVersions: ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: httpRouteSpec,
  specRequired: true,
};
