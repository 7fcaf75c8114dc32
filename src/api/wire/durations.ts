/**
 * Durations as the snapshot carries them (strings, as the resources spell them) and the period of a
 * rate-limit unit. A leaf module: the schemas in manifest/formats.ts validate with these functions,
 * and the node proxy reads pushed fields with them without loading any schema.
 */

const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const GO_DURATION = /^((\d+(\.\d+)?)(h|m|s|ms|us|µs|ns))+$/;
const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

function sumDuration(s: string): number {
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/**
 * Gateway API Duration (GEP-2257): 1-4 groups of up to 5 digits with a unit h, m, s or ms, e.g.
 * `1h30m`, `500ms`. No fractions, no spaces.
 */
export function gatewayDurationMs(s: string): number | undefined {
  return GATEWAY_DURATION.test(s) ? sumDuration(s) : undefined;
}

/** Istio/Go-style duration (`1.5s`, `100ms`, `5m`, `1h`), as the protobuf Duration fields accept. */
export function goDurationMs(s: string): number | undefined {
  return GO_DURATION.test(s) ? sumDuration(s) : undefined;
}

/** The `unit` of a RateLimitPolicy limit (weft.dev/v1alpha1). */
export type RateLimitUnit = 'second' | 'minute' | 'hour';

/** Milliseconds in one rate-limit unit. */
export const RATE_LIMIT_UNIT_MS: Readonly<Record<RateLimitUnit, number>> = Object.freeze({
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
});
