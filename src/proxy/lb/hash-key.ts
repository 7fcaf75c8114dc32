/**
 * The consistent-hash key of a request, per Istio's ConsistentHashLB (networking.istio.io/v1
 * DestinationRule): exactly one of `httpHeaderName`, `httpCookie`, `useSourceIp`,
 * `httpQueryParameterName` says where the key comes from. Undefined when the policy is not
 * consistent hashing or the request lacks the field; the balancer then picks at random (as Envoy).
 *
 * Limitation: Envoy generates the cookie when `httpCookie.ttl` is set and the request has none;
 * Weft does not set cookies yet, so such a request is balanced at random.
 */
import type { LoadBalancerSettings } from './balancer.ts';

export interface HashKeySource {
  /** Lower-case header name → value. */
  header(name: string): string | undefined;
  cookie?(name: string): string | undefined;
  query?(name: string): string | undefined;
  sourceIp: string;
}

export function hashKeyFor(policy: LoadBalancerSettings | undefined, req: HashKeySource): string | undefined {
  const ch = policy?.consistentHash;
  if (ch === undefined) return undefined;
  if (ch.httpHeaderName !== undefined) return req.header(ch.httpHeaderName.toLowerCase());
  if (ch.httpCookie !== undefined) return req.cookie?.(ch.httpCookie.name);
  if (ch.useSourceIp === true) return req.sourceIp;
  if (ch.httpQueryParameterName !== undefined) return req.query?.(ch.httpQueryParameterName);
  return undefined;
}
