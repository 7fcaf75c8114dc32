/** Exponential backoff with full jitter. */
export { Backoff } from './backoff.ts';
export type { BackoffOptions } from './backoff.ts';
