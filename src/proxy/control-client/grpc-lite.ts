/**
 * Just enough of a gRPC client for the push stream, over node:http2: length-prefixed messages
 * (gRPC over HTTP/2, "Length-Prefixed-Message"), a bidirectional call and a unary call, status from
 * trailers (or a trailers-only response), keepalive pings. The control plane serves with grpc-js;
 * the wire is plain gRPC, so either side can be replaced. The proxy uses this instead of grpc-js and
 * a runtime proto loader to keep ~20 MB of resident memory out of every node proxy.
 */
import http2 from 'node:http2';
import type { PeerCertificate } from 'node:tls';
import { grpcFrame as frame, GrpcFrameReader as FrameReader } from '../../lib/index.ts';
import type { Clock } from '../../lib/index.ts';

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
export const GRPC_OK = 0;
export const GRPC_CANCELLED = 1;
export const GRPC_UNKNOWN = 2;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNAVAILABLE = 14;

export class GrpcStatusError extends Error {
  readonly grpcCode: number;
  readonly details: string;
  constructor(grpcCode: number, details: string) {
    super(`gRPC status ${grpcCode}: ${details}`);
    this.name = 'GrpcStatusError';
    this.grpcCode = grpcCode;
    this.details = details;
  }
}

export interface ChannelOptions {
  /** host:port */
  address: string;
  ca: string;
  key: string;
  cert: string;
  /** Accept the server certificate, or say why not (the chain is already verified against `ca`). */
  checkServer(cert: PeerCertificate): Error | undefined;
}

/** An mTLS HTTP/2 connection to a gRPC server. */
export function openChannel(o: ChannelOptions): http2.ClientHttp2Session {
  const session = http2.connect(`https://${o.address}`, {
    ca: o.ca,
    key: o.key,
    cert: o.cert,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
    // SNI must be a host name (RFC 6066 §3) and the address is usually an IP; the server is
    // identified by its SPIFFE ID in checkServer, so the name only fills SNI.
    servername: 'localhost',
    checkServerIdentity: (_host, cert) => o.checkServer(cert),
  });
  session.on('error', () => undefined);
  return session;
}

function statusOf(
  headers: http2.IncomingHttpHeaders | undefined,
): { code: number; details: string } | undefined {
  const s = headers?.['grpc-status'];
  if (s === undefined) return undefined;
  const raw = headers?.['grpc-message'];
  let details = typeof raw === 'string' ? raw : '';
  try {
    details = decodeURIComponent(details);
  } catch {
    // keep it as sent
  }
  return { code: Number(s), details };
}

function requestHeaders(path: string): http2.OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    'user-agent': 'weft-proxy',
  };
}

export interface BidiHandlers {
  onMessage(message: Buffer): void;
  /** The call ended: OK, or the status/transport error that ended it. Called once. */
  onEnd(err: Error | undefined): void;
}

/** A bidirectional streaming call. */
export class BidiCall {
  readonly #stream: http2.ClientHttp2Stream;
  #ended = false;

  constructor(session: http2.ClientHttp2Session, path: string, handlers: BidiHandlers) {
    const reader = new FrameReader();
    const end = (err: Error | undefined) => {
      if (this.#ended) return;
      this.#ended = true;
      handlers.onEnd(err);
    };
    const stream = session.request(requestHeaders(path), { endStream: false });
    this.#stream = stream;
    stream.on('response', (headers) => {
      const st = statusOf(headers); // trailers-only answer
      if (Number(headers[':status']) !== 200)
        end(new GrpcStatusError(GRPC_UNAVAILABLE, `HTTP ${headers[':status']}`));
      else if (st && st.code !== GRPC_OK) end(new GrpcStatusError(st.code, st.details));
    });
    stream.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        end(err as Error);
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        return;
      }
      for (const m of messages) handlers.onMessage(m);
    });
    stream.on('trailers', (trailers) => {
      const st = statusOf(trailers);
      end(st && st.code !== GRPC_OK ? new GrpcStatusError(st.code, st.details) : undefined);
    });
    stream.on('error', (err) => end(err));
    stream.on('close', () =>
      end(this.#ended ? undefined : new GrpcStatusError(GRPC_UNAVAILABLE, 'stream closed')),
    );
  }

  write(message: Uint8Array): void {
    if (!this.#ended && !this.#stream.destroyed) this.#stream.write(frame(message));
  }

  cancel(): void {
    if (!this.#stream.destroyed) this.#stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

/** A unary call: one request message, one response message, bounded by `timeoutMs`. */
export function unaryCall(
  session: http2.ClientHttp2Session,
  path: string,
  request: Uint8Array,
  timeoutMs: number,
  clock: Clock,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    let response: Buffer | undefined;
    let done = false;
    const finish = (err: Error | undefined) => {
      if (done) return;
      done = true;
      timer.cancel();
      if (err) reject(err);
      else if (response) resolve(response);
      else reject(new GrpcStatusError(GRPC_UNKNOWN, 'no response message'));
    };
    const stream = session.request(requestHeaders(path), { endStream: false });
    const timer = clock.setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      finish(new GrpcStatusError(GRPC_DEADLINE_EXCEEDED, `no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('response', (headers) => {
      const st = statusOf(headers);
      if (st && st.code !== GRPC_OK) finish(new GrpcStatusError(st.code, st.details));
    });
    stream.on('data', (chunk: Buffer) => {
      try {
        for (const m of reader.push(chunk)) response ??= m;
      } catch (err) {
        finish(err as Error);
      }
    });
    stream.on('trailers', (trailers) => {
      const st = statusOf(trailers);
      finish(st && st.code !== GRPC_OK ? new GrpcStatusError(st.code, st.details) : undefined);
    });
    stream.on('error', (err) => finish(err));
    stream.on('close', () =>
      finish(response ? undefined : new GrpcStatusError(GRPC_UNAVAILABLE, 'stream closed')),
    );
    stream.end(frame(request));
  });
}
