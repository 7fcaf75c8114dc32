/**
 * Watch<T>: the latest value plus a change stream. Config, trust bundles and certificates are held
 * in a Watch so that consumers react to a change when it happens (no polling), and tests can wait
 * for a condition (`until`) instead of sleeping.
 */

export type Unsubscribe = () => void;

export class Watch<T> {
  #value: T;
  #listeners = new Set<(value: T) => void>();

  constructor(initial: T) {
    this.#value = initial;
  }

  /** The latest value. */
  get(): T {
    return this.#value;
  }

  /**
   * Replace the value and notify every subscriber synchronously, in subscription order. A listener
   * that throws does not stop the others (the error is dropped: listeners own their failures).
   */
  set(value: T): void {
    this.#value = value;
    for (const listener of [...this.#listeners]) {
      try {
        listener(value);
      } catch {
        // A subscriber's failure is its own; the value is still set and the others still hear it.
      }
    }
  }

  /** Call `listener` on every later change. Returns the function that stops it. */
  subscribe(listener: (value: T) => void): Unsubscribe {
    const entry = (v: T) => listener(v);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Resolves with the first value (current or later) for which `predicate` holds. Rejects when
   * `signal` aborts, so a waiter can always be bounded.
   */
  until(predicate: (value: T) => boolean, signal?: AbortSignal): Promise<T> {
    if (predicate(this.#value)) return Promise.resolve(this.#value);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        stop();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const stop = this.subscribe((v) => {
        if (!predicate(v)) return;
        stop();
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      });
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Number of live subscriptions (for leak checks in tests). */
  get subscriberCount(): number {
    return this.#listeners.size;
  }
}
