/**
 * HTTP/1.1 connections of the fast path: a downstream connection that reads requests one at a time
 * and answers each through an exchange, and upstream keep-alive connections, pooled per target, that
 * carry a request and hand back the response head. Bodies are relayed as the bytes that arrived —
 * chunked framing included — so a request costs one head parse and one head write per direction.
 *
 * Which requests take this path is the caller's decision (`accept` returns false to decline); a
 * declined request, and everything after it on that connection, goes to the full HTTP server with the
 * bytes untouched (`handOff`). Requests that are not in the codec's subset are declined the same way.
 */
import type { Duplex } from 'node:stream';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  ChunkedFramer,
  HOP_BY_HOP,
  headerLines,
  parseRequestHead,
  parseResponseHead,
  statusLine,
} from './codec.ts';
import type { RequestHead, ResponseHead } from './codec.ts';
import type { TurnBudget } from '../../lib/index.ts';

/** Request bodies up to this size are read whole before the request is dispatched (and can be replayed). */
export const MAX_BUFFERED_BODY = 64 * 1024;
/** Pipelined bytes held while a request is in flight before reading pauses. */
const MAX_PENDING = 64 * 1024;

export interface FastRequest {
  head: RequestHead;
  /** The whole body (Content-Length bytes), or undefined when there is none. */
  body: Buffer | undefined;
}

/**
 * Decide on one request: start answering it through `ex` and return true, or return false or the
 * reason (before touching `ex`) to hand the connection to the full server from this request on.
 */
export type AcceptRequest = (req: FastRequest, ex: Exchange) => boolean | string;

/**
 * Receives a connection the fast path gave up on, with the unanswered bytes put back, and why: a
 * short snake_case reason from a fixed set (a metric label).
 */
export type HandOff = (stream: Duplex, reason: string) => void;

function reasonLabel(reason: string): string {
  return reason.replace(/[^a-z0-9]+/gi, '_').toLowerCase();
}

function concat(a: Buffer | undefined, b: Buffer): Buffer {
  return a === undefined || a.length === 0 ? b : Buffer.concat([a, b]);
}

/** One client connection read by the fast path. */
export class DownstreamConnection {
  readonly stream: Duplex;
  readonly #accept: AcceptRequest;
  readonly #handOff: HandOff;
  #buf: Buffer | undefined;
  #current: Exchange | undefined;
  #closed = false;
  #paused = false;
  readonly #onData = (chunk: Buffer) => this.#data(chunk);
  readonly #onEnd = () => this.#end();
  readonly #onClose = () => this.#close();

  readonly #budget: TurnBudget | undefined;
  /** A request is read but waits for a later turn (the turn budget was spent). */
  #waiting = false;
  readonly #resume = () => {
    this.#waiting = false;
    if (this.#current === undefined) this.#next();
  };

  /**
   * @param budget when given, each request this connection starts takes one from it: a proxy
   *   passes one budget for all the requests it writes into tunnels (see TurnBudget).
   */
  constructor(stream: Duplex, accept: AcceptRequest, handOff: HandOff, budget?: TurnBudget) {
    this.stream = stream;
    this.#accept = accept;
    this.#handOff = handOff;
    this.#budget = budget;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onClose);
  }

  #data(chunk: Buffer): void {
    this.#buf = concat(this.#buf, chunk);
    if (this.#current === undefined) {
      if (!this.#waiting) this.#start();
    } else if (this.#buf.length > MAX_PENDING && !this.#paused) {
      this.#paused = true;
      this.stream.pause();
    }
  }

  /** Dispatch the next request now, or in a later turn when this turn's budget is spent. */
  #start(): void {
    if (this.#budget === undefined || this.#budget.take(this.#resume)) this.#next();
    else this.#waiting = true;
  }

  /** Dispatch the next whole request in the buffer, if any. */
  #next(): void {
    while (this.#current === undefined && !this.#closed) {
      const buf = this.#buf;
      if (buf === undefined || buf.length === 0) return;
      const parsed = parseRequestHead(buf, 0);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'other') return this.#giveUp(parsed.reason);
      const head = parsed.head;
      const total = head.headBytes + head.contentLength;
      if (head.contentLength > MAX_BUFFERED_BODY) return this.#giveUp('body too large');
      if (buf.length < total) return;
      const body = head.contentLength > 0 ? buf.subarray(head.headBytes, total) : undefined;
      const ex = new Exchange(this, head);
      const accepted = this.#accept({ head, body }, ex);
      if (accepted !== true) return this.#giveUp(accepted === false ? 'declined' : accepted);
      this.#buf = buf.length === total ? undefined : buf.subarray(total);
      // The exchange may have finished synchronously (a local reply); the loop goes on then.
      if (!ex.finished) this.#current = ex;
      else if (ex.closeAfter) return this.#finishConnection();
    }
  }

  /** Hand the connection and every byte not yet answered to the full server. */
  #giveUp(reason: string): void {
    const stream = this.stream;
    stream.off('data', this.#onData);
    stream.off('end', this.#onEnd);
    stream.off('close', this.#onClose);
    stream.pause();
    if (this.#buf !== undefined && this.#buf.length > 0) stream.unshift(this.#buf);
    this.#buf = undefined;
    this.#handOff(stream, reasonLabel(reason));
    stream.resume();
  }

  /** Called by the current exchange when its response is complete. */
  exchangeDone(ex: Exchange): void {
    if (this.#current === ex) this.#current = undefined;
    else return;
    if (ex.closeAfter) return this.#finishConnection();
    if (this.#paused) {
      this.#paused = false;
      this.stream.resume();
    }
    // A pipelined request is next; with nothing buffered, no budget is spent.
    if (this.#buf !== undefined && this.#buf.length > 0 && !this.#waiting) this.#start();
  }

  #finishConnection(): void {
    this.#closed = true;
    this.stream.end();
  }

  #end(): void {
    // Half-close from the client: answer what is in flight, then close.
    if (this.#current === undefined) {
      this.#closed = true;
      this.stream.end();
    } else this.#current.closeAfter = true;
  }

  #close(): void {
    this.#closed = true;
    this.#buf = undefined;
    const ex = this.#current;
    this.#current = undefined;
    ex?.aborted();
  }
}

/**
 * The answer to one request. It quacks like the part of `http.ServerResponse` the resilience loop
 * uses (`headersSent`, `destroyed`, `destroy()`, `once('close')`, with 'close' after the response
 * is complete or the connection is gone).
 */
export class Exchange {
  readonly #conn: DownstreamConnection;
  readonly head: RequestHead;
  headersSent = false;
  destroyed = false;
  finished = false;
  /** Close the connection once this response is complete. */
  closeAfter: boolean;
  statusCode = 0;
  #onClose: (() => void)[] | undefined;

  constructor(conn: DownstreamConnection, head: RequestHead) {
    this.#conn = conn;
    this.head = head;
    this.closeAfter = head.close;
  }

  get stream(): Duplex {
    return this.#conn.stream;
  }

  once(event: 'close', fn: () => void): this {
    if (event === 'close') {
      if (this.finished || this.destroyed) queueMicrotask(fn);
      else (this.#onClose ??= []).push(fn);
    }
    return this;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.#conn.stream.destroy();
    this.aborted();
  }

  /** The connection went away before the response was complete. */
  aborted(): void {
    if (this.finished || this.destroyed) return;
    this.destroyed = true;
    this.#fireClose();
  }

  #fireClose(): void {
    const fns = this.#onClose;
    this.#onClose = undefined;
    if (fns) for (const fn of fns) fn();
  }

  /** Answer locally: a complete response with a Content-Length body. */
  reply(status: number, headers: Record<string, string>, body: string): void {
    if (this.headersSent || this.destroyed) return;
    const bytes = Buffer.byteLength(body);
    let head = statusLine(status) + headerLines(headers) + `content-length: ${bytes}\r\n`;
    if (this.closeAfter) head += 'connection: close\r\n';
    this.headersSent = true;
    this.statusCode = status;
    this.#conn.stream.write(`${head}\r\n${body}`, 'utf8');
    this.complete();
  }

  /**
   * A local JSON answer, in the same shape as the full server's local replies (routing's
   * `localReply`): `content-type`, `content-length`, `x-weft-local-reply`, then `extra`.
   */
  replyJson(status: number, body: Record<string, unknown>, extra: Record<string, string> = {}): void {
    this.reply(
      status,
      { 'content-type': 'application/json', 'x-weft-local-reply': 'true', ...extra },
      JSON.stringify(body) + '\n',
    );
  }

  /** Record that the response head is going out (`UpstreamConnection.relay` writes it with the body). */
  markHeadSent(status: number): void {
    this.headersSent = true;
    this.statusCode = status;
  }

  /** The response is complete: fire 'close' and let the connection read the next request. */
  complete(): void {
    if (this.finished || this.destroyed) return;
    this.finished = true;
    this.#fireClose();
    this.#conn.exchangeDone(this);
  }
}

// ---- upstream ------------------------------------------------------------------------------------

export interface UpstreamResponse {
  head: ResponseHead;
  /** The raw head bytes as received. */
  raw: Buffer;
}

/** Why a try failed before a response head arrived: the upstream connection's error, if any. */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * One keep-alive connection to an upstream, carrying one request at a time. `send` writes a request
 * and resolves with the response head; then exactly one of `relay` (stream the body to an exchange)
 * or `discard` (throw the response and the connection away) follows.
 */
export class UpstreamConnection {
  readonly stream: Duplex;
  readonly key: string;
  readonly #pool: UpstreamPool;
  #buf: Buffer | undefined;
  #state: 'idle' | 'head' | 'held' | 'body' | 'dead' = 'idle';
  #headRequest = false;
  #resolve: ((r: UpstreamResponse) => void) | undefined;
  #reject: ((e: Error) => void) | undefined;
  #framing = BODY_NONE;
  #remaining = 0;
  #chunked: ChunkedFramer | undefined;
  #sink: Exchange | undefined;
  #reusable = true;
  /** The response head, written with the first body bytes. */
  #prefix: Buffer | undefined;
  idleSince = 0;
  readonly #onDrain = () => this.stream.resume();

  constructor(stream: Duplex, key: string, pool: UpstreamPool) {
    this.stream = stream;
    this.key = key;
    this.#pool = pool;
    stream.on('data', (chunk: Buffer) => this.#data(chunk));
    stream.on('end', () => this.#gone(undefined));
    stream.on('error', (err: Error) => this.#gone(err));
    stream.on('close', () => this.#gone(undefined));
  }

  get dead(): boolean {
    return this.#state === 'dead';
  }

  /** Write one request (head and whole body) and wait for the response head. */
  send(data: Buffer | string, headRequest: boolean): Promise<UpstreamResponse> {
    if (this.#state === 'dead')
      return Promise.reject(new UpstreamError('upstream connection already closed', 'ECONNRESET'));
    this.#state = 'head';
    this.#headRequest = headRequest;
    this.#reusable = true;
    return new Promise<UpstreamResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.stream.write(data as string, 'latin1');
    });
  }

  /** A response head is read but waits for a later turn (the turn budget was spent). */
  #waiting = false;
  readonly #resumeHead = () => {
    this.#waiting = false;
    const buf = this.#buf;
    if (this.#state !== 'head' || buf === undefined) return;
    this.#buf = undefined;
    this.#head(buf);
  };

  #data(chunk: Buffer): void {
    if (this.#state === 'body') return this.#body(chunk, 0);
    if (this.#state === 'held' || (this.#state === 'head' && this.#waiting)) {
      this.#buf = concat(this.#buf, chunk);
      return;
    }
    if (this.#state !== 'head') {
      // Bytes nobody asked for: the connection cannot be trusted with another request.
      this.#kill();
      return;
    }
    const buf = concat(this.#buf, chunk);
    this.#buf = undefined;
    // A response relayed into a tunnel takes one from the proxy's turn budget (see TurnBudget).
    if (this.#pool.turnBudget !== undefined && !this.#pool.turnBudget.take(this.#resumeHead)) {
      this.#buf = buf;
      this.#waiting = true;
      return;
    }
    this.#head(buf);
  }

  /** Parse the response head(s) in `buf`; hand the first final one to the request's caller. */
  #head(buf: Buffer): void {
    let start = 0;
    for (;;) {
      const parsed = parseResponseHead(buf, start, this.#headRequest);
      if (parsed.kind === 'incomplete') {
        this.#buf = start === 0 ? buf : buf.subarray(start);
        return;
      }
      if (parsed.kind === 'error') {
        this.#fail(new UpstreamError(`invalid response from upstream: ${parsed.reason}`, 'HPE_INVALID'));
        return;
      }
      const head = parsed.head;
      if (head.status < 200) {
        // Informational responses (103 Early Hints, a stray 100) are not forwarded, as before.
        if (head.status === 101) {
          this.#fail(new UpstreamError('unexpected 101 from upstream', 'HPE_INVALID'));
          return;
        }
        start += head.headBytes;
        continue;
      }
      const raw = buf.subarray(start, start + head.headBytes);
      const rest = buf.subarray(start + head.headBytes);
      this.#buf = rest.length > 0 ? rest : undefined;
      this.#state = 'held';
      // Nothing more is read until the response is relayed or discarded.
      this.stream.pause();
      this.#framing = head.framing;
      this.#remaining = head.length;
      this.#chunked = head.framing === BODY_CHUNKED ? new ChunkedFramer() : undefined;
      if (head.close) this.#reusable = false;
      const resolve = this.#resolve!;
      this.#resolve = this.#reject = undefined;
      resolve({ head, raw });
      return;
    }
  }

  /**
   * Stream the held response into `ex`: `head` (built by the caller, blank line included) and the body
   * bytes already here leave in one write — one DATA frame on a tunnel stream, one syscall on a
   * socket; the rest of the body follows as it arrives. Completes `ex` at the end.
   */
  relay(ex: Exchange, head: Buffer | string): void {
    // The upstream may have closed while the response was held: relay what arrived.
    const closed = this.#state === 'dead';
    this.#sink = ex;
    this.#prefix = typeof head === 'string' ? Buffer.from(head, 'latin1') : head;
    if (!closed) this.#state = 'body';
    const pending = this.#buf;
    this.#buf = undefined;
    if (this.#framing === BODY_NONE) {
      if (pending !== undefined) this.#reusable = false;
      this.#writePrefix(ex);
      this.#finish();
      return;
    }
    if (pending !== undefined) this.#body(pending, 0);
    this.#writePrefix(ex);
    if (closed && this.#sink !== undefined) {
      this.#sink = undefined;
      if (this.#framing === BODY_UNTIL_CLOSE) {
        ex.closeAfter = true;
        ex.complete();
      } else ex.destroy();
      return;
    }
    if (!closed) this.stream.resume();
  }

  #body(chunk: Buffer, start: number): void {
    const ex = this.#sink!;
    let n: number;
    if (this.#framing === BODY_LENGTH) {
      n = Math.min(this.#remaining, chunk.length - start);
      this.#remaining -= n;
    } else if (this.#framing === BODY_CHUNKED) {
      n = this.#chunked!.push(chunk, start, chunk.length);
      if (n < 0) {
        this.#kill();
        ex.destroy();
        return;
      }
    } else n = chunk.length - start;
    if (n > 0 && !ex.destroyed) {
      let part = start === 0 && n === chunk.length ? chunk : chunk.subarray(start, start + n);
      const prefix = this.#prefix;
      if (prefix !== undefined) {
        this.#prefix = undefined;
        part = contiguous(prefix, part) ?? Buffer.concat([prefix, part]);
      }
      if (!ex.stream.write(part)) {
        this.stream.pause();
        ex.stream.once('drain', this.#onDrain);
      }
    }
    const done =
      (this.#framing === BODY_LENGTH && this.#remaining === 0) ||
      (this.#framing === BODY_CHUNKED && this.#chunked!.done);
    if (done) {
      if (start + n < chunk.length) this.#reusable = false;
      this.#finish();
    }
  }

  /** The head, if no body byte has carried it out yet. */
  #writePrefix(ex: Exchange): void {
    const prefix = this.#prefix;
    this.#prefix = undefined;
    if (prefix !== undefined && !ex.destroyed) ex.stream.write(prefix);
  }

  #finish(): void {
    const ex = this.#sink;
    this.#sink = undefined;
    this.#chunked = undefined;
    if (this.#reusable && this.#state !== 'dead') {
      this.#state = 'idle';
      // Idle connections keep reading: a close or an unsolicited byte takes them out of the pool.
      this.stream.resume();
      this.#pool.release(this);
    } else this.#kill();
    ex?.complete();
  }

  /** Throw the held response (and this connection) away. */
  discard(): void {
    this.#kill();
  }

  #fail(err: Error): void {
    const reject = this.#reject;
    this.#resolve = this.#reject = undefined;
    this.#kill();
    reject?.(err);
  }

  #gone(err: Error | undefined): void {
    if (this.#state === 'dead') return;
    const state = this.#state;
    this.#state = 'dead';
    this.#pool.forget(this);
    if (state === 'head') {
      const reject = this.#reject;
      this.#resolve = this.#reject = undefined;
      reject?.(
        new UpstreamError(
          err ? err.message : 'upstream closed the connection before responding',
          (err as NodeJS.ErrnoException | undefined)?.code ?? 'ECONNRESET',
          { cause: err },
        ),
      );
    } else if (state === 'body') {
      const ex = this.#sink;
      this.#sink = undefined;
      if (ex === undefined) return;
      if (this.#framing === BODY_UNTIL_CLOSE && err === undefined) {
        ex.closeAfter = true;
        ex.complete();
      } else ex.destroy();
    }
    this.stream.destroy();
  }

  #kill(): void {
    if (this.#state === 'dead') return;
    this.#state = 'dead';
    this.#pool.forget(this);
    this.stream.destroy();
  }
}

/** Idle upstream connections by target key; idle ones are closed after `idleMs`. */
export class UpstreamPool {
  readonly #idle = new Map<string, UpstreamConnection[]>();
  readonly #all = new Set<UpstreamConnection>();
  readonly #idleMs: number;
  readonly #maxIdlePerKey: number;
  #sweeper: NodeJS.Timeout | undefined;

  /** When given, each response head read takes one from it (a proxy relaying into tunnels). */
  readonly turnBudget: TurnBudget | undefined;

  constructor(options: { idleMs?: number; maxIdlePerKey?: number; turnBudget?: TurnBudget } = {}) {
    this.turnBudget = options.turnBudget;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#maxIdlePerKey = options.maxIdlePerKey ?? 256;
  }

  /** An idle connection to `key`, or a new one over the stream `open()` returns. */
  acquire(key: string, open: () => Duplex): UpstreamConnection {
    const list = this.#idle.get(key);
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      if (!c.dead) return c;
    }
    const c = new UpstreamConnection(open(), key, this);
    this.#all.add(c);
    return c;
  }

  release(c: UpstreamConnection): void {
    let list = this.#idle.get(c.key);
    if (list === undefined) this.#idle.set(c.key, (list = []));
    if (list.length >= this.#maxIdlePerKey) {
      c.discard();
      return;
    }
    c.idleSince = performance.now();
    list.push(c);
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(1000, this.#idleMs / 2)).unref();
  }

  forget(c: UpstreamConnection): void {
    this.#all.delete(c);
    const list = this.#idle.get(c.key);
    if (list === undefined) return;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#idle.delete(c.key);
  }

  #sweep(): void {
    const cutoff = performance.now() - this.#idleMs;
    for (const list of [...this.#idle.values()])
      for (const c of [...list]) if (c.idleSince < cutoff) c.discard();
    if (this.#all.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** Connections open now (idle or busy). */
  get size(): number {
    return this.#all.size;
  }

  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const c of [...this.#all]) c.discard();
  }
}

/**
 * Forward a held upstream response to `ex`: the head as received when it has no hop-by-hop header
 * and nothing is added, else rebuilt without them (RFC 9110 §7.6.1) with `extra` appended and the
 * body framing kept; then the body.
 */
export function forwardResponse(
  up: UpstreamConnection,
  r: UpstreamResponse,
  ex: Exchange,
  extra?: Record<string, string>,
): void {
  const h = r.head;
  if (h.framing === BODY_UNTIL_CLOSE) ex.closeAfter = true;
  ex.markHeadSent(h.status);
  if (h.clean && extra === undefined && !ex.closeAfter) {
    up.relay(ex, r.raw);
  } else {
    const eol = r.raw.indexOf('\r\n');
    let s = 'HTTP/1.1' + r.raw.toString('latin1', 8, eol + 2);
    const conn = h.headers['connection'];
    const listed =
      conn === undefined
        ? undefined
        : new Set(
            String(conn)
              .toLowerCase()
              .split(/\s*,\s*/),
          );
    for (const name in h.headers) {
      // The framing fields stay whatever Connection lists: the body is relayed as framed.
      if (HOP_BY_HOP.has(name) || (listed?.has(name) && name !== 'content-length')) continue;
      const v = h.headers[name]!;
      if (typeof v === 'string') s += `${name}: ${v}\r\n`;
      else for (const one of v) s += `${name}: ${one}\r\n`;
    }
    // The codings as sent: the bytes are relayed unchanged.
    if (h.framing === BODY_CHUNKED) s += `transfer-encoding: ${String(h.headers['transfer-encoding'])}\r\n`;
    if (extra !== undefined) s += headerLines(extra);
    if (ex.closeAfter) s += 'connection: close\r\n';
    up.relay(ex, s + '\r\n');
  }
}

/** `a` and `b` as one view when `b` directly follows `a` in the same memory (the usual raw head + body). */
function contiguous(a: Buffer, b: Buffer): Buffer | undefined {
  if (a.buffer !== b.buffer || a.byteOffset + a.length !== b.byteOffset) return undefined;
  return Buffer.from(a.buffer, a.byteOffset, a.length + b.length);
}
