/**
 * `weft echo`: the built-in test workload. Every answer describes what the server saw (its own
 * identity, the request, the verified caller from `x-forwarded-client-cert`, the protocol), so tests,
 * the quickstart and the benchmarks can see what the mesh did to a request.
 *
 * One TCP port speaks every protocol the mesh carries:
 *  - HTTP/1.1 (node:http), with WebSocket upgrade (RFC 6455 handshake and framing, implemented here:
 *    §4.2.2 accept key, §5.2 framing, §5.3 client masking, §5.5 control frames);
 *  - HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3): a connection starting with the client preface
 *    is handed to an http2 server, anything else to the HTTP/1.1 server;
 *  - gRPC over HTTP/2 (service `weft.echo.v1.Echo` in src/api/wire/echo.proto; length-prefixed
 *    messages and `grpc-status`/`grpc-message` trailers per the gRPC-over-HTTP2 protocol spec).
 *
 * Knobs per request (query or header): `status`/`x-echo-status`, `delay`/`x-echo-delay` (ms),
 * `header=k:v`/`x-echo-header: k:v` (added to the response); for gRPC `x-echo-grpc-status`. Knobs per
 * instance (flags): fixed status, failure ratio (answers 503 / gRPC UNAVAILABLE), added delay.
 * `GET /healthz` is the readiness endpoint and ignores the failure knobs.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import protobuf from 'protobufjs';
import { GrpcFrameReader, WeftError, errorMessage, grpcFrame, systemClock } from '../lib/index.ts';
import type { Clock } from '../lib/index.ts';
import type { CliIo, Verb } from './io.ts';

/** Who this echo instance is (from the environment `weft up` sets, or flags). */
export interface EchoIdentity {
  workload: string;
  namespace: string;
  serviceAccount: string;
  node: string;
  instance: string;
}

export interface EchoOptions {
  /** Addresses to listen on (port 0 picks a free port). */
  listen: { host: string; port: number }[];
  identity: EchoIdentity;
  /** Fixed HTTP status for every answer except /healthz (per-request knobs still win). */
  status?: number | undefined;
  /** Share of answers (0..1) that fail with 503 / gRPC UNAVAILABLE. */
  failRatio?: number | undefined;
  /** Added delay in milliseconds before every answer. */
  delayMs?: number | undefined;
  /** Random source in [0, 1) for the failure ratio (inject a seeded one for repeatable runs). */
  random?: () => number;
  clock?: Clock;
  /** Receives one JSON line per request served. */
  log?: (line: string) => void;
}

export interface EchoServer {
  /** The bound addresses, in the order of `listen`. */
  addresses: { host: string; port: number }[];
  /** Stops listening, closes every open connection, resolves when all are closed. */
  close(): Promise<void>;
}

/** The JSON body of every HTTP answer. */
export interface EchoAnswer {
  workload: string;
  namespace: string;
  serviceAccount: string;
  node: string;
  instance: string;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  host: string;
  headers: Record<string, string | string[]>;
  /** The verified caller identity (`URI=` of the last x-forwarded-client-cert element), or null. */
  caller: string | null;
  /** `By=` of the same element: the identity the proxy presented for this instance. */
  callerBy: string | null;
  protocol: 'HTTP/1.1' | 'HTTP/2' | 'gRPC' | 'WebSocket';
  body?: string;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MAX_BODY = 1 << 20;
const MAX_DELAY_MS = 60_000;
const MAX_WS_FRAME = 16 << 20;
const MAX_STREAM_COUNT = 10_000;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

type HeaderMap = Record<string, string | string[] | undefined>;
interface AnyRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: HeaderMap;
  on(ev: 'data', fn: (c: Buffer) => void): unknown;
  on(ev: 'end' | 'close', fn: () => void): unknown;
  on(ev: 'error', fn: (e: Error) => void): unknown;
}
interface AnyResponse {
  writeHead(status: number, headers?: Record<string, string | string[]>): unknown;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  addTrailers(headers: Record<string, string>): void;
  readonly headersSent: boolean;
  destroyed?: boolean;
}

// ---------------------------------------------------------------------------------------------
// protobuf (lazy: only loaded when a gRPC call arrives)

interface EchoTypes {
  request: protobuf.Type;
  streamRequest: protobuf.Type;
  response: protobuf.Type;
}
let echoTypes: EchoTypes | undefined;
function loadEchoTypes(): EchoTypes {
  if (!echoTypes) {
    const text = readFileSync(new URL('../api/wire/echo.proto', import.meta.url), 'utf8');
    const root = protobuf.parse(text, { keepCase: false }).root;
    echoTypes = {
      request: root.lookupType('weft.echo.v1.EchoRequest'),
      streamRequest: root.lookupType('weft.echo.v1.EchoStreamRequest'),
      response: root.lookupType('weft.echo.v1.EchoResponse'),
    };
  }
  return echoTypes;
}

/** Path of the echo .proto file (for gRPC clients in tests and tools). */
export const ECHO_PROTO_URL = new URL('../api/wire/echo.proto', import.meta.url);

// ---------------------------------------------------------------------------------------------
// pure helpers

/**
 * Parses Envoy's `x-forwarded-client-cert` format (`By=...;Hash=...;URI=...`, elements separated by
 * commas, values optionally double-quoted) and returns the last element's URI/By: the hop nearest
 * to this server, which the node proxy always sets itself.
 */
export function parseXfcc(value: string | undefined): { uri: string | null; by: string | null } {
  if (!value) return { uri: null, by: null };
  const elements = splitOutsideQuotes(value, ',');
  const last = elements[elements.length - 1] ?? '';
  let uri: string | null = null;
  let by: string | null = null;
  for (const pair of splitOutsideQuotes(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let val = pair.slice(eq + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2)
      val = val.slice(1, -1).replace(/\\"/g, '"');
    if (key === 'uri') uri = val;
    else if (key === 'by') by = val;
  }
  return { uri, by };
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && quoted && i + 1 < s.length) {
      cur += ch + s[i + 1]!;
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
      cur += ch;
    } else if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x.length > 0);
}

/** mulberry32: a small seeded PRNG for repeatable failure injection. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function all(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function intKnob(raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) return undefined;
  return n;
}

function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of params) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function plainHeaders(h: HeaderMap): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) out[k] = v;
  return out;
}

function parseHeaderKnob(s: string): [string, string] | undefined {
  const i = s.indexOf(':');
  if (i <= 0) return undefined;
  const name = s.slice(0, i).trim().toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name) || name.startsWith(':')) return undefined;
  return [name, s.slice(i + 1).trim()];
}

// ---------------------------------------------------------------------------------------------
// server

export async function startEchoServer(options: EchoOptions): Promise<EchoServer> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);
  const id = options.identity;
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const sleep = (ms: number) =>
    ms > 0 ? new Promise<void>((resolve) => clock.setTimeout(resolve, ms)) : Promise.resolve();

  const injectedFailure = (): boolean =>
    options.failRatio !== undefined && options.failRatio > 0 && random() < options.failRatio;

  const describe = (req: AnyRequest, protocol: EchoAnswer['protocol']): { answer: EchoAnswer; url: URL } => {
    const url = new URL(req.url ?? '/', 'http://echo.invalid');
    const xfcc = parseXfcc(first(req.headers['x-forwarded-client-cert']));
    const answer: EchoAnswer = {
      workload: id.workload,
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      node: id.node,
      instance: id.instance,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: queryObject(url.searchParams),
      host: first(req.headers[':authority']) ?? first(req.headers.host) ?? '',
      headers: plainHeaders(req.headers),
      caller: xfcc.uri,
      callerBy: xfcc.by,
      protocol,
    };
    return { answer, url };
  };

  const logLine = (a: EchoAnswer, status: number, started: number, extra?: Record<string, unknown>) =>
    log(
      JSON.stringify({
        time: new Date(clock.now()).toISOString(),
        workload: id.workload,
        instance: id.instance,
        protocol: a.protocol,
        method: a.method,
        path: a.path,
        status,
        caller: a.caller,
        durationMs: Math.round((clock.monotonic() - started) * 10) / 10,
        ...extra,
      }),
    );

  const handleHttp = async (req: AnyRequest, res: AnyResponse, protocol: 'HTTP/1.1' | 'HTTP/2') => {
    const started = clock.monotonic();
    const { answer, url } = describe(req, protocol);
    const body = await readBody(req);
    if (body.length > 0) answer.body = body.toString('utf8');
    if (answer.path === '/healthz') {
      const text = JSON.stringify({ ok: true, instance: id.instance });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
      });
      res.end(text);
      return;
    }
    const q = url.searchParams;
    const h = req.headers;
    let status =
      intKnob(q.get('status') ?? undefined, 100, 599) ??
      intKnob(first(h['x-echo-status']), 100, 599) ??
      options.status;
    if (status === undefined) status = injectedFailure() ? 503 : 200;
    if (status < 200) status = 200; // informational statuses cannot be a final answer
    const delay =
      (intKnob(q.get('delay') ?? undefined, 0, MAX_DELAY_MS) ??
        intKnob(first(h['x-echo-delay']), 0, MAX_DELAY_MS) ??
        0) + (options.delayMs ?? 0);
    const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
    for (const raw of [...q.getAll('header'), ...all(h['x-echo-header'])]) {
      const kv = parseHeaderKnob(raw);
      if (!kv || kv[0] === 'content-length' || kv[0] === 'transfer-encoding' || kv[0] === 'connection')
        continue;
      const prev = headers[kv[0]];
      headers[kv[0]] = prev === undefined ? kv[1] : [...all(prev), kv[1]];
    }
    headers['x-echo-instance'] = id.instance;
    await sleep(Math.min(delay, MAX_DELAY_MS));
    if (res.destroyed) return;
    const text = JSON.stringify(answer);
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(answer.method === 'HEAD' ? undefined : text);
    logLine(answer, status, started);
  };

  const handleGrpc = async (req: AnyRequest, res: AnyResponse) => {
    const started = clock.monotonic();
    const { answer } = describe(req, 'gRPC');
    const types = loadEchoTypes();
    const finish = (code: number, message: string) => {
      if (res.destroyed) return;
      if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/grpc+proto' });
      res.addTrailers({ 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) });
      res.end();
      logLine(answer, 200, started, { grpcStatus: code });
    };
    const method = answer.path.startsWith('/weft.echo.v1.Echo/')
      ? answer.path.slice('/weft.echo.v1.Echo/'.length)
      : '';
    if (method !== 'Echo' && method !== 'EchoStream' && method !== 'Chat') {
      drain(req);
      finish(12, `unknown method ${answer.path}`);
      return;
    }
    const h = req.headers;
    const forced = intKnob(first(h['x-echo-grpc-status']), 0, 16);
    const failing =
      forced === undefined && ((options.status !== undefined && options.status >= 500) || injectedFailure());
    const delay = (intKnob(first(h['x-echo-delay']), 0, MAX_DELAY_MS) ?? 0) + (options.delayMs ?? 0);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(answer.headers)) metadata[k] = Array.isArray(v) ? v.join(', ') : v;
    const reply = (message: string, index: number): Buffer =>
      grpcFrame(
        types.response
          .encode(
            types.response.fromObject({
              message,
              index,
              workload: id.workload,
              namespace: id.namespace,
              serviceAccount: id.serviceAccount,
              node: id.node,
              instance: id.instance,
              caller: answer.caller ?? '',
              protocol: 'gRPC',
              path: answer.path,
              metadata,
            }),
          )
          .finish(),
      );
    const reader = new GrpcFrameReader(MAX_BODY);
    let failed = false;
    const decodeFrames = (chunk: Buffer): Buffer[] => {
      try {
        return reader.push(chunk);
      } catch (err) {
        failed = true;
        finish(13, errorMessage(err));
        return [];
      }
    };
    await sleep(Math.min(delay, MAX_DELAY_MS));
    if (forced !== undefined && forced !== 0) {
      drain(req);
      finish(forced, `echo: status ${forced} requested by x-echo-grpc-status`);
      return;
    }
    if (failing) {
      drain(req);
      finish(14, 'echo: injected failure');
      return;
    }
    if (method === 'Chat') {
      res.writeHead(200, { 'content-type': 'application/grpc+proto' });
      let index = 0;
      req.on('data', (chunk) => {
        if (failed) return;
        for (const msg of decodeFrames(chunk)) {
          const m = types.request.toObject(types.request.decode(msg)) as { message?: string };
          res.write(reply(m.message ?? '', index++));
        }
      });
      req.on('end', () => {
        if (!failed) finish(0, '');
      });
      return;
    }
    const msgs: Buffer[] = [];
    await new Promise<void>((resolve) => {
      req.on('data', (chunk) => msgs.push(...decodeFrames(chunk)));
      req.on('end', resolve);
      req.on('close', resolve);
      req.on('error', () => resolve());
    });
    if (failed) return;
    const msg = msgs[0];
    if (!msg || msgs.length !== 1) {
      finish(13, `expected exactly one request message, got ${msgs.length}`);
      return;
    }
    if (method === 'Echo') {
      const m = types.request.toObject(types.request.decode(msg)) as { message?: string };
      res.writeHead(200, { 'content-type': 'application/grpc+proto' });
      res.write(reply(m.message ?? '', 0));
      finish(0, '');
      return;
    }
    const m = types.streamRequest.toObject(types.streamRequest.decode(msg)) as {
      message?: string;
      count?: number;
      intervalMs?: number;
    };
    const count = Math.min(m.count || 1, MAX_STREAM_COUNT);
    const interval = Math.min(m.intervalMs ?? 0, MAX_DELAY_MS);
    res.writeHead(200, { 'content-type': 'application/grpc+proto' });
    for (let i = 0; i < count; i++) {
      if (res.destroyed) return;
      if (i > 0) await sleep(interval);
      res.write(reply(m.message ?? '', i));
    }
    finish(0, '');
  };

  const onRequestError = (res: AnyResponse, err: unknown) => {
    if (res.destroyed) return;
    try {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: errorMessage(err) }));
    } catch {
      // the connection is gone; nothing to answer
    }
  };

  const h1 = http.createServer((req, res) => {
    handleHttp(req, res as unknown as AnyResponse, 'HTTP/1.1').catch((err: unknown) =>
      onRequestError(res as unknown as AnyResponse, err),
    );
  });
  h1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    acceptWebSocket(
      req,
      socket,
      head,
      (a) => describe(a, 'WebSocket').answer,
      (a, status) => logLine(a, status, clock.monotonic()),
    );
  });
  h1.on('clientError', (_err, socket) => socket.destroy());
  const h2 = http2.createServer();
  h2.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => undefined);
  });
  h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const r = res as unknown as AnyResponse;
    const ct = first(req.headers['content-type']) ?? '';
    const p = ct.startsWith('application/grpc') ? handleGrpc(req, r) : handleHttp(req, r, 'HTTP/2');
    p.catch((err: unknown) => onRequestError(r, err));
  });

  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, PREFACE.length);
      const isPreface = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isPreface && buf.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      if (isPreface) {
        // http2 reads what is already buffered on the socket before consuming its handle.
        socket.unshift(buf);
        h2.emit('connection', socket);
      } else {
        // node:http consumes the socket's handle directly, so the sniffed bytes are fed as data.
        h1.emit('connection', socket);
        socket.emit('data', buf);
        socket.resume();
      }
    };
    socket.on('data', onData);
  };

  const listeners: net.Server[] = [];
  const addresses: { host: string; port: number }[] = [];
  try {
    for (const l of options.listen) {
      const server = net.createServer(onConnection);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(l.port, l.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      listeners.push(server);
      const a = server.address() as net.AddressInfo;
      addresses.push({ host: a.address, port: a.port });
    }
  } catch (err) {
    for (const s of listeners) s.close();
    const e = err as NodeJS.ErrnoException;
    throw new WeftError(
      'WEFT_ECHO_LISTEN',
      `weft echo: cannot listen: ${e.message}; choose another --listen address`,
      {
        cause: err,
      },
    );
  }

  return {
    addresses,
    close: async () => {
      // net.Server.close waits for open connections, so end them first (keep-alive clients would
      // otherwise hold the listener open).
      const closed = Promise.all(
        listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      h1.close();
      h2.close();
      await closed;
    },
  };
}

function drain(req: AnyRequest): void {
  req.on('data', () => undefined);
}

function readBody(req: AnyRequest): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

// ---------------------------------------------------------------------------------------------
// WebSocket (RFC 6455)

/** Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2 step 5.4). */
export function webSocketAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** Encodes one unmasked server frame (RFC 6455 §5.2). */
export function encodeWsFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const b0 = (fin ? 0x80 : 0) | (opcode & 0x0f);
  let head: Buffer;
  if (payload.length < 126) {
    head = Buffer.from([b0, payload.length]);
  } else if (payload.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([head, payload]);
}

export interface WsFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Incremental frame parser: returns complete frames (payload unmasked) and keeps the rest. */
export class WsFrameReader {
  #buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): WsFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: WsFrame[] = [];
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) break;
      const fin = (b[0]! & 0x80) !== 0;
      if ((b[0]! & 0x70) !== 0) throw new Error('reserved bits set without a negotiated extension');
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_WS_FRAME)) throw new Error('frame too large');
        len = Number(big);
        off = 10;
      }
      if (len > MAX_WS_FRAME) throw new Error('frame too large');
      const maskOff = off;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= b[maskOff + (i & 3)]!;
      out.push({ fin, opcode, masked, payload });
      this.#buf = b.subarray(off + len);
    }
    return out;
  }
}

function acceptWebSocket(
  req: http.IncomingMessage,
  socket: net.Socket,
  head: Buffer,
  describe: (req: AnyRequest) => EchoAnswer,
  logLine: (a: EchoAnswer, status: number) => void,
): void {
  socket.on('error', () => undefined);
  const key = first(req.headers['sec-websocket-key']);
  const upgrade = (first(req.headers.upgrade) ?? '').toLowerCase();
  if (
    req.method !== 'GET' ||
    upgrade !== 'websocket' ||
    !key ||
    first(req.headers['sec-websocket-version']) !== '13'
  ) {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const answer = describe(req);
  const protocols = (first(req.headers['sec-websocket-protocol']) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${webSocketAccept(key)}`,
    `X-Echo-Instance: ${answer.instance}`,
  ];
  if (protocols[0]) lines.push(`Sec-WebSocket-Protocol: ${protocols[0]}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  logLine(answer, 101);
  // `?hello=1`: first message is the JSON description, so a WebSocket client can see who answered.
  if (new URL(req.url ?? '/', 'http://x').searchParams.get('hello') === '1')
    socket.write(encodeWsFrame(1, Buffer.from(JSON.stringify(answer))));
  const reader = new WsFrameReader();
  let closing = false;
  const close = (code: number) => {
    if (closing) return;
    closing = true;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code, 0);
    socket.end(encodeWsFrame(8, p));
  };
  const onBytes = (chunk: Buffer) => {
    let frames: WsFrame[];
    try {
      frames = reader.push(chunk);
    } catch {
      close(1002);
      return;
    }
    for (const f of frames) {
      if (closing) return;
      // §5.1: a server MUST close the connection when a client frame is not masked.
      if (!f.masked) return close(1002);
      if (f.opcode === 0 || f.opcode === 1 || f.opcode === 2)
        socket.write(encodeWsFrame(f.opcode, f.payload, f.fin));
      else if (f.opcode === 9) socket.write(encodeWsFrame(10, f.payload));
      else if (f.opcode === 10) continue;
      else if (f.opcode === 8) {
        closing = true;
        socket.end(encodeWsFrame(8, f.payload.subarray(0, Math.min(f.payload.length, 125))));
        return;
      } else return close(1002);
    }
  };
  socket.on('data', onBytes);
  if (head.length > 0) onBytes(head);
}

// ---------------------------------------------------------------------------------------------
// the verb

function parseListen(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = i > 0 ? s.slice(0, i).replace(/^\[|\]$/g, '') : '127.0.0.1';
  const port = Number(i >= 0 ? s.slice(i + 1) : s);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new WeftError(
      'WEFT_ECHO_FLAGS',
      `weft echo: --listen "${s}" is not ADDR:PORT (e.g. 127.0.0.1:8080)`,
    );
  return { host, port };
}

const USAGE = `usage: weft echo [--listen ADDR:PORT ...] [--status N] [--fail-ratio R] [--delay MS] [--seed N] [--name NAME]

Answers every request with JSON describing what it saw. Defaults come from the environment weft up
sets: listens on $WEFT_LISTEN_ADDR on every port in $WEFT_PORTS (else 127.0.0.1:8080).
`;

/** Resolves echo options from flags and the environment (exported for tests). */
export function echoOptionsFrom(argv: string[], env: Record<string, string | undefined>): EchoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string', multiple: true },
        status: { type: 'string' },
        'fail-ratio': { type: 'string' },
        delay: { type: 'string' },
        seed: { type: 'string' },
        name: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new WeftError('WEFT_ECHO_FLAGS', `weft echo: ${errorMessage(err)}\n${USAGE}`);
  }
  const num = (flag: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new WeftError(
        'WEFT_ECHO_FLAGS',
        `weft echo: --${flag} must be a number in [${min}, ${max}], got "${raw}"`,
      );
    return n;
  };
  let listen = (values.listen ?? []).map(parseListen);
  if (listen.length === 0) {
    const host = env.WEFT_LISTEN_ADDR || '127.0.0.1';
    const ports = (env.WEFT_PORTS ?? env.PORT ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    listen = (ports.length > 0 ? ports : ['8080']).map((p) => parseListen(`${host}:${p}`));
  }
  const workload = values.name ?? env.WEFT_WORKLOAD ?? 'echo';
  const seed = num('seed', values.seed, 0, 2 ** 32 - 1);
  return {
    listen,
    identity: {
      workload,
      namespace: env.WEFT_NAMESPACE ?? 'default',
      serviceAccount: env.WEFT_SERVICE_ACCOUNT ?? 'default',
      node: env.WEFT_NODE ?? '',
      instance: env.WEFT_INSTANCE ?? `${workload}-0`,
    },
    status: num('status', values.status, 200, 599),
    failRatio: num('fail-ratio', values['fail-ratio'], 0, 1),
    delayMs: num('delay', values.delay, 0, MAX_DELAY_MS),
    ...(seed === undefined ? {} : { random: seededRandom(seed) }),
  };
}

export const echo: Verb = async (io: CliIo) => {
  if (io.argv.includes('-h') || io.argv.includes('--help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  let server: EchoServer;
  try {
    const options = echoOptionsFrom(io.argv, io.env);
    options.log = (line) => io.stdout.write(line + '\n');
    server = await startEchoServer(options);
  } catch (err) {
    io.stderr.write(`${errorMessage(err)}\n`);
    return 2;
  }
  io.stderr.write(
    `weft echo: listening on ${server.addresses.map((a) => `${a.host}:${a.port}`).join(', ')}\n`,
  );
  await io.interrupted;
  await server.close();
  return 0;
};
