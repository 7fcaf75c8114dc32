/**
 * weft.dev/v1alpha1 RateLimitPolicy: request rate limits for one destination Service, enforced by
 * the proxy in front of it. Each rule counts requests per descriptor key (Envoy's rate-limit
 * descriptors: https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-ratelimit)
 * built from the caller's SPIFFE identity, a request header, the path or the matched route; a request
 * over any rule's limit is answered 429 with `retry-after` and `x-ratelimit-*` headers
 * (draft-ietf-httpapi-ratelimit-headers). `mode: local` keeps a token bucket in each proxy (each proxy
 * allows the full limit); `mode: global` shares one GCRA counter per key in Redis across all
 * proxies. `failureMode` says what happens when Redis cannot be reached: `open` lets the request
 * through, `closed` answers 429 — Envoy's `failure_mode_deny` is `closed`.
 */
import { dnsSubdomain } from '../manifest/formats.ts';
import { type Schema, obj, int, list, oneOf, req, dflt, str, CODES } from '../manifest/schema.ts';
import { headerName, sectionName } from './route-common.ts';
import type { KindDef } from './common.ts';
import type { RateLimitUnit } from '../wire/durations.ts';

export type RateLimitKeyType = 'SourceIdentity' | 'Header' | 'Path' | 'Route';
export type { RateLimitUnit };

export interface RateLimitDescriptor {
  /** What the key is made of: the caller's SPIFFE ID, a header value, the path, or the route name. */
  key: RateLimitKeyType;
  /** Header name; required with key Header, not allowed otherwise. */
  header?: string;
  /**
   * When set, the rule applies only to requests whose value matches (exact; for Path a path prefix
   * on segment boundaries) and they share one counter. When absent, every distinct value has its own
   * counter; a request without the header/route is not limited by this rule.
   */
  value?: string;
}

export interface RateLimitRule {
  /** Unique within the policy; part of the counter key and of metrics. */
  name: string;
  /** ANDed: the counter key is the tuple of their values. Empty (default): one counter for the service. */
  descriptors: RateLimitDescriptor[];
  limit: {
    /** Requests allowed per unit (also the burst). */
    requests: number;
    unit: RateLimitUnit;
  };
}

export interface RateLimitPolicySpec {
  /** The destination Service (group "", kind Service). */
  targetRef: { group: string; kind: string; name: string };
  /** `local` (default): per-proxy token buckets; `global`: shared through Redis. */
  mode: 'local' | 'global';
  /** When the global store is unreachable: `open` (default) allows, `closed` answers 429. */
  failureMode: 'open' | 'closed';
  /**
   * The Redis server holding the global counters (`mode: global`), e.g. `{address: 127.0.0.1:6379}`.
   * Without it a global policy is enforced per proxy, like a local one.
   */
  redis?: { address: string };
  rules: RateLimitRule[];
}

const targetRef = obj<RateLimitPolicySpec['targetRef']>(
  { group: dflt(str(), ''), kind: req(str({ min: 1 })), name: req(dnsSubdomain()) },
  {
    check: (t, path, cx) => {
      if (t.kind !== 'Service' || t.group !== '')
        cx.error(
          [...path, 'kind'],
          `target ${t.group || 'core'}/${t.kind} is not supported: a RateLimitPolicy targets a Service (group: "", kind: Service)`,
          CODES.unsupported,
        );
    },
  },
);

const descriptor = obj<RateLimitDescriptor>(
  {
    key: req(oneOf(['SourceIdentity', 'Header', 'Path', 'Route'] as const)),
    header: headerName(),
    value: str({ min: 1, max: 1024 }),
  },
  {
    check: (d, path, cx) => {
      if (d.key === 'Header' && d.header === undefined)
        cx.error(
          [...path, 'header'],
          'required when key is Header (the header whose value is counted)',
          CODES.required,
        );
      if (d.key !== 'Header' && d.header !== undefined)
        cx.error(
          [...path, 'header'],
          `only allowed when key is Header (key is ${d.key})`,
          CODES.value,
          'key',
        );
      if (d.key === 'Path' && d.value !== undefined && !d.value.startsWith('/'))
        cx.error([...path, 'value'], `a path prefix must start with "/" (got ${JSON.stringify(d.value)})`);
    },
  },
);

const rule = obj<RateLimitRule>({
  name: req(sectionName()),
  descriptors: dflt(list(descriptor, { max: 8 }), () => []),
  limit: req(
    obj({
      requests: req(int({ min: 1, max: 1_000_000_000 })),
      unit: req(oneOf(['second', 'minute', 'hour'] as const)),
    }),
  ),
});

export const rateLimitPolicySpec: Schema<RateLimitPolicySpec> = obj<RateLimitPolicySpec>({
  targetRef: req(targetRef),
  mode: dflt(oneOf(['local', 'global'] as const), 'local'),
  failureMode: dflt(oneOf(['open', 'closed'] as const), 'open'),
  redis: obj<{ address: string }>({
    address: req(
      str({
        min: 3,
        max: 261,
        pattern: /^[A-Za-z0-9.\-]+:[0-9]{1,5}$/,
        patternHint: 'host:port, e.g. 127.0.0.1:6379',
      }),
    ),
  }),
  rules: req(
    list(rule, {
      min: 1,
      max: 32,
      uniqueBy: (r) => (r as { name?: string }).name,
      uniqueWhat: 'rule name',
    }),
  ),
});

export const rateLimitPolicyKind: KindDef<RateLimitPolicySpec> = {
  kind: 'RateLimitPolicy',
  apiVersion: 'weft.dev/v1alpha1',
  apiVersions: ['weft.dev/v1alpha1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: rateLimitPolicySpec,
  specRequired: true,
};
