/**
 * The global rate-limit store: GCRA counters in Redis, one key per (policy, rule, descriptor
 * values), updated by one atomic Lua script run with EVALSHA, falling back to EVAL when the server
 * answers NOSCRIPT (script cache flushed, new server) — the pattern Redis documents for scripts.
 */
import { createHash } from 'node:crypto';
import { WeftError } from '../../lib/index.ts';
import { GCRA_LUA } from './gcra.ts';
import type { LimitDecision } from './decision.ts';
import { RespError, type RespClient, type RespValue } from './resp-client.ts';

/** What a RateLimiter needs from a global store. */
export interface GlobalRateLimitStore {
  check(key: string, limit: number, periodMs: number): Promise<LimitDecision>;
}

export const GCRA_SHA1 = createHash('sha1').update(GCRA_LUA).digest('hex');

export class RedisGcraStore implements GlobalRateLimitStore {
  readonly #client: RespClient;
  readonly #prefix: string;
  /** Times the script had to be sent with EVAL (metrics). */
  scriptLoads = 0;

  constructor(client: RespClient, prefix = 'weft:rl:') {
    this.#client = client;
    this.#prefix = prefix;
  }

  async check(key: string, limit: number, periodMs: number): Promise<LimitDecision> {
    const k = this.#prefix + key;
    let r = await this.#client.command(['EVALSHA', GCRA_SHA1, 1, k, limit, periodMs]);
    if (r instanceof RespError && r.message.startsWith('NOSCRIPT')) {
      this.scriptLoads++;
      r = await this.#client.command(['EVAL', GCRA_LUA, 1, k, limit, periodMs]);
    }
    return decode(r, limit);
  }
}

function decode(r: RespValue, limit: number): LimitDecision {
  if (r instanceof RespError)
    throw new WeftError('WEFT_RATELIMIT_STORE_UNAVAILABLE', `Redis rate-limit script failed: ${r.message}`);
  if (!Array.isArray(r) || r.length !== 4)
    throw new WeftError(
      'WEFT_RATELIMIT_STORE_UNAVAILABLE',
      `unexpected reply from the rate-limit script: ${JSON.stringify(r)}`,
    );
  return {
    allowed: r[0] === 1,
    limit,
    remaining: Number(r[1]),
    resetMs: Number(r[2]),
    retryAfterMs: Number(r[3]),
  };
}
