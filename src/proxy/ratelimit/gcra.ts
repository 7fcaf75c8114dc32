/**
 * The Generic Cell Rate Algorithm (ITU-T I.371 virtual scheduling; as in redis-cell and Brandur
 * Leach's "Rate limiting, cells, and GCRA"): one number per key, the theoretical arrival time (TAT).
 * With `limit` requests per `periodMs`, the emission interval is T = period / limit and the burst
 * tolerance is the whole period, so up to `limit` requests may arrive at once and then one per T.
 *
 * `gcraStep` is the reference implementation; GCRA_LUA is the same algorithm as one atomic Redis
 * script (Redis runs scripts atomically: https://redis.io/docs/latest/develop/interact/programmability/eval-intro/),
 * reading the time from the Redis server so proxies with skewed clocks agree.
 */
import type { LimitDecision } from './decision.ts';

export interface GcraResult extends LimitDecision {
  /** The TAT to store (unchanged when denied). */
  tat: number;
}

const EPS = 1e-9;

export function gcraStep(tat: number | undefined, now: number, limit: number, periodMs: number): GcraResult {
  const t = periodMs / limit;
  const base = tat === undefined || tat < now ? now : tat;
  const newTat = base + t;
  const allowAt = newTat - periodMs;
  if (now < allowAt - EPS) {
    return {
      allowed: false,
      limit,
      remaining: 0,
      resetMs: base - now,
      retryAfterMs: allowAt - now,
      tat: base,
    };
  }
  return {
    allowed: true,
    limit,
    remaining: Math.max(0, Math.floor((periodMs - (newTat - now)) / t + EPS)),
    resetMs: newTat - now,
    retryAfterMs: 0,
    tat: newTat,
  };
}

/**
 * KEYS[1] = counter key; ARGV[1] = limit, ARGV[2] = period ms. Returns
 * {allowed (1|0), remaining, resetMs (string), retryAfterMs (string)}; fractions travel as strings
 * because Redis truncates Lua numbers to integers. The key expires when its TAT is reached.
 */
export const GCRA_LUA = `
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local newTat = tat + interval
local allowAt = newTat - period
if now < allowAt - 1e-9 then
  return {0, 0, tostring(tat - now), tostring(allowAt - now)}
end
redis.call('SET', KEYS[1], tostring(newTat), 'PX', math.max(1, math.ceil(newTat - now)))
local remaining = math.floor((period - (newTat - now)) / interval + 1e-9)
if remaining < 0 then remaining = 0 end
return {1, remaining, tostring(newTat - now), '0'}
`;
