/**
 * Exponential backoff with full jitter: the n-th retry waits a uniformly random time in
 * [0, min(cap, base * 2^n)). Full jitter spreads reconnecting proxies apart so that a returning
 * control plane is not hit by all of them at once (AWS Architecture Blog, "Exponential Backoff
 * And Jitter", 2015). Randomness and time are injected so tests are deterministic.
 */
import type { Clock, Timer } from '../time/clock.ts';

export interface BackoffOptions {
  /** First ceiling in milliseconds (default 100). */
  baseMs?: number;
  /** Largest ceiling in milliseconds (default 30000). */
  maxMs?: number;
  /** Uniform random number in [0, 1) (default Math.random). */
  random?: () => number;
  clock: Clock;
}

export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  readonly #clock: Clock;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    this.#baseMs = Math.max(1, options.baseMs ?? 100);
    this.#maxMs = Math.max(this.#baseMs, options.maxMs ?? 30_000);
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock;
  }

  /** Retries made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The ceiling for the next delay: min(max, base * 2^attempt). */
  ceiling(): number {
    // 2^attempt grows past any cap quickly; clamp the exponent so the arithmetic stays finite.
    return Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#attempt, 40));
  }

  /** The next delay in milliseconds (full jitter) and count the attempt. */
  next(): number {
    const r = this.#random();
    const u = r >= 0 && r < 1 ? r : 0;
    const delay = Math.floor(u * this.ceiling());
    this.#attempt++;
    return delay;
  }

  /** Run `fn` after the next delay on the injected clock. */
  schedule(fn: () => void): Timer {
    return this.#clock.setTimeout(fn, this.next());
  }

  /** Start over after a success. */
  reset(): void {
    this.#attempt = 0;
  }
}
