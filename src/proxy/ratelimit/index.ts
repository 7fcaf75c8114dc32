/** Rate limiting: RateLimitPolicy → local token buckets or global GCRA counters in Redis. */
export { RateLimiter } from './rate-limiter.ts';
export type { RateLimitRequest, RateLimitResult, RateLimitStats } from './rate-limiter.ts';
export { TokenBucketLimiter } from './token-bucket.ts';
export { gcraStep, GCRA_LUA } from './gcra.ts';
export type { GcraResult } from './gcra.ts';
export { rateLimitHeaders, RATE_LIMITED_STATUS } from './decision.ts';
export type { LimitDecision } from './decision.ts';
export { RespClient, RespError, encodeCommand, parseReply } from './resp-client.ts';
export type { RespValue, RespClientOptions } from './resp-client.ts';
export { RedisGcraStore, GCRA_SHA1 } from './redis-store.ts';
export type { GlobalRateLimitStore } from './redis-store.ts';
