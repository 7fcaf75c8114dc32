/**
 * The request body, forwarded as it arrives and remembered so a retry can send it again — Envoy and
 * Linkerd buffer the body while streaming it rather than before (holding a bidi gRPC stream until
 * its end would deadlock it). A body longer than `limit` stops being remembered and the request
 * becomes non-replayable (`replayableBytes()` → -1), which the Retrier reports as `reason: 'body'`.
 *
 * One attempt at a time is attached as the sink; backpressure from the sink pauses the source.
 */
import type { Readable, Writable } from 'node:stream';

export class ReplayBody {
  readonly #source: Readable;
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #overflow = false;
  #ended = false;
  #sink: Writable | undefined;
  readonly #onDrain = () => this.#source.resume();
  #reading = false;

  /**
   * `knownEmpty`: the request says it has no body (HTTP/1.1 without content-length or
   * transfer-encoding), so it counts as complete at once.
   */
  constructor(source: Readable, limit: number, knownEmpty: boolean) {
    this.#source = source;
    this.#limit = limit;
    if (knownEmpty) {
      this.#ended = true;
      source.resume();
    }
  }

  /** Start reading at the first attach, so nothing arrives while there is no sink to take it. */
  #read(): void {
    this.#reading = true;
    const source = this.#source;
    source.on('data', (chunk: Buffer) => {
      if (!this.#overflow) {
        this.#bytes += chunk.length;
        if (this.#bytes > this.#limit) {
          this.#overflow = true;
          this.#chunks.length = 0;
        } else this.#chunks.push(chunk);
      }
      const sink = this.#sink;
      if (sink && !sink.destroyed && !sink.write(chunk)) {
        source.pause();
        sink.once('drain', this.#onDrain);
      }
    });
    source.on('end', () => {
      this.#ended = true;
      const sink = this.#sink;
      if (sink && !sink.destroyed) sink.end();
    });
  }

  /** Body size when the whole body has arrived and was kept; -1 when it cannot be replayed (yet). */
  replayableBytes(): number {
    return this.#ended && !this.#overflow ? this.#bytes : -1;
  }

  /**
   * Make `sink` the current attempt's request: everything remembered so far is written to it, then
   * the rest as it arrives. Only call for a retry when replayableBytes() ≥ 0, or for the first try.
   */
  attach(sink: Writable): void {
    const prev = this.#sink;
    if (prev) prev.off('drain', this.#onDrain);
    this.#sink = sink;
    for (const c of this.#chunks) sink.write(c);
    if (this.#ended) sink.end();
    else if (!this.#reading) this.#read();
    else this.#source.resume();
  }

  /** Stop writing to the current sink (it failed); the source keeps being remembered. */
  detach(): void {
    const prev = this.#sink;
    if (prev) prev.off('drain', this.#onDrain);
    this.#sink = undefined;
  }
}
