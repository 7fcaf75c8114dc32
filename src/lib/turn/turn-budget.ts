/**
 * How much work one turn of the event loop may start before the rest waits for the next turn.
 *
 * Node's HTTP/2 session writes its frames once per event-loop turn (in the check phase). A proxy
 * that reads 64 requests in one turn and writes all of them into its tunnel makes the peer proxy
 * wait for the last before it sees the first; the two proxies then take turns instead of working
 * at the same time. A budget of a few messages per turn lets the session flush after each few:
 * the peer starts on them while this proxy reads the next ones.
 *
 * `take(resume)` says whether one more message may start now. When the turn's budget is spent it
 * returns false and queues `resume`; the queue drains in later turns, `limit` at a time, in the
 * order it was filled, each time after that turn's pending HTTP/2 writes (Node runs its own
 * immediates, which include the session's flush, before JavaScript's `setImmediate` callbacks).
 */
export class TurnBudget {
  readonly #limit: number;
  readonly #schedule: (fn: () => void) => void;
  #used = 0;
  #queue: (() => void)[] = [];
  #head = 0;
  #scheduled = false;
  readonly #endOfTurn = () => this.#drain();

  /**
   * @param limit messages per turn, at least 1.
   * @param schedule runs a function after this turn's I/O; tests pass their own.
   */
  constructor(limit: number, schedule: (fn: () => void) => void = setImmediate) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`turn budget must be an integer ≥ 1, got ${limit}`);
    this.#limit = limit;
    this.#schedule = schedule;
  }

  /** Messages waiting for a later turn. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * True when one more message may start in this turn (and counts it). Otherwise `resume` is
   * queued and runs in a later turn, when the message may start.
   */
  take(resume: () => void): boolean {
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#endOfTurn);
    }
    if (this.#used < this.#limit && this.waiting === 0) {
      this.#used++;
      return true;
    }
    this.#queue.push(resume);
    return false;
  }

  /**
   * At the end of a turn: start up to `limit` waiting messages. Their writes are flushed in the
   * next turn together with what that turn's I/O starts, so they count against its budget.
   */
  #drain(): void {
    this.#scheduled = false;
    this.#used = 0;
    while (this.#used < this.#limit && this.#head < this.#queue.length) {
      const resume = this.#queue[this.#head]!;
      this.#queue[this.#head++] = noop;
      this.#used++;
      resume();
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    if (this.#used > 0 && !this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#endOfTurn);
    }
  }
}

function noop(): void {}
