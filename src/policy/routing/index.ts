/** Route matching and route filters (Gateway API HTTPRoute/GRPCRoute in mesh mode): pure and precompiled. */
export { compileRouter, firstQueryValue } from './router.ts';
export type { Router, RouteRequest, RouteTarget, RouteMatchResult } from './router.ts';
export { compileBackends, pickBackend, pickWeighted } from './backends.ts';
export type { WeightedBackends } from './backends.ts';
export {
  applyHeaderModifier,
  applyRequestHeaderModifier,
  applyResponseHeaderModifier,
  computeRedirect,
  rewriteHost,
  rewritePath,
} from './filters.ts';
export type { HeaderRecord, RedirectRequest, RequestRedirectFilter } from './filters.ts';
export { hostnameMatches, hostnameScore, hostnamesIntersect, normalizeHost } from './hostname.ts';
export { compileRe2 } from './regex.ts';
