/**
 * Protocol detection on a fresh byte stream: HTTP/2 with prior knowledge starts with the connection
 * preface `PRI * HTTP/2.0`; anything else is treated as HTTP/1.x. The first chunk is read and handed
 * back: HTTP/1 servers accept it through `unshift`, while Node's HTTP/2 server reads the socket handle
 * directly, so for HTTP/2 the stream is wrapped in a Duplex that replays the chunk first.
 * `alwaysWrap` wraps HTTP/1 too: an HTTP/2 stream handed to Node's HTTP/1 server as its socket gets
 * the response head corrupted when the server writes it batched (writev) with the first body chunk
 * (seen on Node 24.21); the wrapper writes chunk by chunk.
 */
import { Duplex } from 'node:stream';

const PREFACE = Buffer.from('PRI * HTTP/2.0');

export type Sniffed = { protocol: 'h2'; stream: Duplex } | { protocol: 'h1'; stream: Duplex };

export function sniffHttp(stream: Duplex, onDetected: (s: Sniffed) => void, alwaysWrap = false): void {
  stream.once('data', (first: Buffer) => {
    stream.pause();
    const n = Math.min(first.length, PREFACE.length);
    const h2 = n > 0 && first.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (h2) {
      onDetected({ protocol: 'h2', stream: new ReplayDuplex(first, stream) });
    } else {
      if (alwaysWrap) writeChunkByChunk(stream);
      stream.unshift(first);
      onDetected({ protocol: 'h1', stream });
      stream.resume();
    }
  });
}

/**
 * Make a stream take its writes one by one: Node's HTTP/1 code corks and flushes the response head
 * and the first body chunk together through `_writev`, and an HTTP/2 stream given that batch as a
 * socket sent a corrupted head (seen on Node 24.21). Without `_writev`, Writable calls `_write` per
 * chunk — the same bytes, no extra stream layer.
 */
export function writeChunkByChunk<T extends Duplex>(stream: T): T {
  (stream as unknown as { _writev: unknown })._writev = null;
  return stream;
}

/**
 * A Duplex that yields `first` (if any) and then everything `inner` reads; writes go to `inner` one
 * chunk at a time.
 */
export class ReplayDuplex extends Duplex {
  readonly #inner: Duplex;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  constructor(first: Buffer | undefined, inner: Duplex) {
    super({ allowHalfOpen: true });
    this.#inner = inner;
    const net = inner as { remoteAddress?: string; remotePort?: number };
    this.remoteAddress = net.remoteAddress;
    this.remotePort = net.remotePort;
    if (first) this.push(first);
    inner.on('data', (d: Buffer) => {
      if (!this.push(d)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => this.destroy());
  }
  override _read(): void {
    this.#inner.resume();
  }
  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#inner.write(chunk, enc, cb);
  }
  override _final(cb: () => void): void {
    this.#inner.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#inner.destroy(err ?? undefined);
    cb(err);
  }
}
