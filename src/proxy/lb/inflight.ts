/**
 * In-flight request counts per endpoint key, for LEAST_REQUEST. The proxy calls `begin` when it sends
 * a request to an endpoint and `end` when the response completes or fails (exactly once each). The
 * counter lives beside the balancers, not in them, so rebuilding a balancer on an endpoint update never
 * loses counts; a key that reaches 0 is dropped so removed endpoints do not leak.
 */
export class InflightCounter {
  readonly #counts = new Map<string, number>();

  begin(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  end(key: string): void {
    const n = this.#counts.get(key);
    if (n === undefined) return;
    if (n <= 1) this.#counts.delete(key);
    else this.#counts.set(key, n - 1);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** An accessor for BalancerDeps.inflight. */
  accessor<E extends { key: string }>(): (e: E) => number {
    return (e) => this.#counts.get(e.key) ?? 0;
  }
}
