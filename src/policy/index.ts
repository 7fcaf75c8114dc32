/** policy: the pure evaluation engine (route matching, authorization) shared by the proxy and the analyser. */
// routing (Gateway API HTTPRoute/GRPCRoute in mesh mode)
export { compileRouter, firstQueryValue } from './routing/index.ts';
export type { Router, RouteRequest, RouteTarget, RouteMatchResult } from './routing/index.ts';
export { compileBackends, pickBackend, pickWeighted } from './routing/index.ts';
export type { WeightedBackends } from './routing/index.ts';
export {
  applyHeaderModifier,
  applyRequestHeaderModifier,
  applyResponseHeaderModifier,
  computeRedirect,
  rewriteHost,
  rewritePath,
} from './routing/index.ts';
export type { HeaderRecord, RedirectRequest, RequestRedirectFilter } from './routing/index.ts';
export {
  hostnameMatches,
  hostnameScore,
  hostnamesIntersect,
  normalizeHost,
  compileRe2,
} from './routing/index.ts';
