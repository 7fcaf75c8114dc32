/**
 * A tiny Redis client: RESP2 (https://redis.io/docs/latest/develop/reference/protocol-spec/) over
 * node:net, pipelined, with a per-command timeout on an injected Clock. Just enough for the global
 * rate limiter, so the proxy takes no npm dependency for it.
 *
 * Failure handling: a timed-out command destroys the connection (its reply would desynchronise the
 * pipeline) and fails every pending command; after a failure the client fails fast for a backoff
 * (full jitter, 50 ms to 2 s) instead of reconnecting on every request, then reconnects lazily.
 */
import { connect, type Socket } from 'node:net';
import { Backoff, WeftError } from '../../lib/index.ts';
import type { Clock, Timer } from '../../lib/index.ts';

export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply (`-ERR ...`): a value, not a transport failure. */
export class RespError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** Encode a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Parse one reply from `buf` at `offset`: `[value, nextOffset]`, or undefined when the buffer does
 * not yet hold a whole reply. Throws on a malformed reply.
 */
export function parseReply(buf: Buffer, offset = 0, depth = 0): [RespValue, number] | undefined {
  if (depth > 16) throw new Error('RESP reply nested too deeply');
  if (offset >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return undefined;
  const type = buf[offset];
  const line = buf.toString('utf8', offset + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new RespError(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const n = Number(line);
      if (n === -1) return [null, next];
      if (!Number.isInteger(n) || n < 0) throw new Error(`bad RESP bulk length ${line}`);
      if (buf.length < next + n + 2) return undefined;
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n === -1) return [null, next];
      if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new Error(`bad RESP array length ${line}`);
      const out: RespValue[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at, depth + 1);
        if (r === undefined) return undefined;
        out.push(r[0]);
        at = r[1];
      }
      return [out, at];
    }
    default:
      throw new Error(`bad RESP type byte 0x${(type ?? 0).toString(16)}`);
  }
}

export interface RespClientOptions {
  host: string;
  port: number;
  clock: Clock;
  /** Per-command timeout, ms (also bounds connecting). Default 100. */
  timeoutMs?: number;
  random?: () => number;
}

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  timer: Timer;
}

export class RespClient {
  readonly #opts: Required<Omit<RespClientOptions, 'random'>>;
  readonly #backoff: Backoff;
  #socket: Socket | undefined;
  #buf: Buffer = Buffer.alloc(0);
  readonly #pending: Pending[] = [];
  #downUntil = 0;
  #closed = false;
  /** Transport failures (connect errors, timeouts, resets) — metrics. */
  failures = 0;

  constructor(options: RespClientOptions) {
    this.#opts = { timeoutMs: 100, ...options };
    this.#backoff = new Backoff({
      baseMs: 50,
      maxMs: 2000,
      random: options.random ?? Math.random,
      clock: options.clock,
    });
  }

  #unavailable(why: string, cause?: unknown): WeftError {
    return new WeftError(
      'WEFT_RATELIMIT_STORE_UNAVAILABLE',
      `Redis at ${this.#opts.host}:${this.#opts.port} is unavailable (${why}); the policy's failureMode decides`,
      cause === undefined ? undefined : { cause },
    );
  }

  #fail(err: WeftError): void {
    this.failures++;
    this.#downUntil = this.#opts.clock.monotonic() + this.#backoff.next();
    const s = this.#socket;
    this.#socket = undefined;
    this.#buf = Buffer.alloc(0);
    s?.destroy();
    for (const p of this.#pending.splice(0)) {
      p.timer.cancel();
      p.reject(err);
    }
  }

  #ensure(): Socket {
    if (this.#socket) return this.#socket;
    const s = connect({ host: this.#opts.host, port: this.#opts.port });
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => this.#onData(s, chunk));
    s.on('error', (err) => {
      if (this.#socket === s) this.#fail(this.#unavailable(err.message, err));
    });
    s.on('close', () => {
      if (this.#socket === s) this.#fail(this.#unavailable('connection closed'));
    });
    s.once('connect', () => this.#backoff.reset());
    this.#socket = s;
    return s;
  }

  #onData(s: Socket, chunk: Buffer): void {
    if (this.#socket !== s) return;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let at = 0;
    for (;;) {
      let r: [RespValue, number] | undefined;
      try {
        r = parseReply(this.#buf, at);
      } catch (err) {
        this.#fail(this.#unavailable(`protocol error: ${(err as Error).message}`));
        return;
      }
      if (r === undefined) break;
      at = r[1];
      const p = this.#pending.shift();
      if (!p) {
        this.#fail(this.#unavailable('unexpected reply'));
        return;
      }
      p.timer.cancel();
      p.resolve(r[0]);
    }
    this.#buf = at === this.#buf.length ? Buffer.alloc(0) : this.#buf.subarray(at);
  }

  /** Send one command; resolves with the reply (an error reply resolves as RespError). */
  command(args: readonly (string | number)[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#unavailable('client closed'));
    if (this.#opts.clock.monotonic() < this.#downUntil)
      return Promise.reject(this.#unavailable('backing off after a failure'));
    const s = this.#ensure();
    return new Promise((resolve, reject) => {
      const timer = this.#opts.clock.setTimeout(() => {
        if (this.#socket === s) this.#fail(this.#unavailable(`no reply within ${this.#opts.timeoutMs} ms`));
      }, this.#opts.timeoutMs);
      this.#pending.push({ resolve, reject, timer });
      s.write(encodeCommand(args));
    });
  }

  close(): void {
    this.#closed = true;
    const s = this.#socket;
    this.#socket = undefined;
    s?.destroy();
    for (const p of this.#pending.splice(0)) {
      p.timer.cancel();
      p.reject(this.#unavailable('client closed'));
    }
  }
}
