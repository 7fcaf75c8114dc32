/**
 * The HBONE-style tunnel between node proxies: HTTP/2 CONNECT streams over mutual TLS 1.3.
 *
 * Server: one listener per node (default port 15008). The client's SNI names the destination
 * identity; the server answers with that local instance's SVID and requires a client SVID signed by
 * the mesh root. Each CONNECT stream (`:authority` = destination instance address:port) is handed to
 * `onStream` with the verified caller identity.
 *
 * Client: one session per (source identity, destination identity, peer node), reused by every
 * connection between them and re-established on demand. The server certificate must carry exactly the
 * expected SPIFFE ID; anything else is refused and logged with both identities.
 *
 * Window and concurrency settings follow the HBONE spike in shared/peer-bench (node/hbone.js): one
 * session carries many streams, so its windows are raised well above Node's defaults.
 */
import http2 from 'node:http2';
import type { SecureContext } from 'node:tls';
import tls from 'node:tls';
import type { Logger } from '../../lib/index.ts';
import { WeftError } from '../../lib/index.ts';
import { sniForSpiffeId, spiffeIdForSni, spiffeIdOfCert } from './identity-names.ts';

const CONN_WINDOW = 32 * 1024 * 1024;
const STREAM_WINDOW = 1024 * 1024;
const MAX_STREAMS = 10_000;
const H2_SETTINGS = {
  initialWindowSize: STREAM_WINDOW,
  maxConcurrentStreams: MAX_STREAMS,
  enablePush: false,
};

/** Key material for one identity, PEM encoded. */
export interface Credentials {
  keyPem: string;
  /** Leaf first, then intermediates. */
  certPem: string;
}

export interface TunnelCredentials {
  trustBundle(): string;
  /** Current credentials of a local identity, or undefined when the node holds none for it. */
  credentials(spiffeId: string): Credentials | undefined;
}

export interface TunnelStreamInfo {
  /** Verified SPIFFE ID of the caller (from its client certificate). */
  peerIdentity: string;
  /** The identity the caller asked for with SNI (ours). */
  localIdentity: string;
  authority: string;
  headers: http2.IncomingHttpHeaders;
  remoteAddress: string;
}

export interface HboneServerOptions {
  credentials: TunnelCredentials;
  trustDomain: () => string;
  logger: Logger;
  onStream(stream: http2.ServerHttp2Stream, info: TunnelStreamInfo): void;
}

/** Start the tunnel listener; resolves once bound. */
export async function listenHbone(
  options: HboneServerOptions,
  host: string,
  port: number,
): Promise<{ server: http2.Http2SecureServer; close(): Promise<void>; port: number }> {
  const contexts = new Map<string, { ctx: SecureContext; certPem: string }>();
  const contextFor = (spiffeId: string): SecureContext | undefined => {
    const creds = options.credentials.credentials(spiffeId);
    if (!creds) return undefined;
    const cached = contexts.get(spiffeId);
    if (cached && cached.certPem === creds.certPem) return cached.ctx;
    const ctx = tls.createSecureContext({
      key: creds.keyPem,
      cert: creds.certPem,
      ca: options.credentials.trustBundle(),
      minVersion: 'TLSv1.3',
    });
    contexts.set(spiffeId, { ctx, certPem: creds.certPem });
    return ctx;
  };
  const server = http2.createSecureServer({
    allowHTTP1: false,
    ALPNProtocols: ['h2'],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    maxSessionMemory: 64,
    settings: H2_SETTINGS,
    SNICallback: (servername, cb) => {
      const id = spiffeIdForSni(servername, options.trustDomain());
      const ctx = id ? contextFor(id) : undefined;
      if (!ctx) {
        options.logger.warn('tunnel: no local identity for SNI', { sni: servername });
        cb(
          new WeftError('WEFT_TUNNEL_UNKNOWN_IDENTITY', `no local identity for SNI ${servername}`),
          undefined,
        );
        return;
      }
      cb(null, ctx);
    },
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => socket.setNoDelay(true));
  server.on('session', (session) => {
    session.setLocalWindowSize(CONN_WINDOW);
    session.on('error', () => undefined);
  });
  server.on('tlsClientError', (err, socket) => {
    options.logger.warn('tunnel: TLS handshake refused', {
      error: err.message,
      remote: socket.remoteAddress,
    });
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const socket = stream.session?.socket as tls.TLSSocket | undefined;
    const peerIdentity = spiffeIdOfCert(socket?.getPeerCertificate());
    const td = options.trustDomain();
    if (!peerIdentity || !peerIdentity.startsWith(`spiffe://${td}/`)) {
      options.logger.warn('tunnel: peer without a workload identity of this trust domain', {
        peer: peerIdentity,
      });
      stream.respond({ ':status': 403 }, { endStream: true });
      return;
    }
    if (headers[':method'] !== 'CONNECT' || typeof headers[':authority'] !== 'string') {
      stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    const sni = (socket as unknown as { servername?: string } | undefined)?.servername ?? '';
    const localIdentity = spiffeIdForSni(sni, td) ?? '';
    try {
      options.onStream(stream, {
        peerIdentity,
        localIdentity,
        authority: headers[':authority'],
        headers,
        remoteAddress: socket?.remoteAddress ?? '',
      });
    } catch (err) {
      options.logger.error('tunnel: stream handler failed', { error: err });
      if (!stream.headersSent) stream.respond({ ':status': 500 }, { endStream: true });
      else stream.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface TunnelTarget {
  /** Address and port of the peer node's tunnel listener. */
  nodeAddress: string;
  nodePort: number;
  /** The identity the destination must prove. */
  destinationIdentity: string;
  /** The caller's identity, whose SVID the client presents. */
  sourceIdentity: string;
}

/** A pool of tunnel sessions, one per (source identity, destination identity, node). */
export class HboneClient {
  readonly #credentials: TunnelCredentials;
  readonly #logger: Logger;
  readonly #sessions = new Map<string, { session: http2.ClientHttp2Session; certPem: string }>();

  constructor(credentials: TunnelCredentials, logger: Logger) {
    this.#credentials = credentials;
    this.#logger = logger;
  }

  /**
   * Open a CONNECT stream to `authority` (destination address:port) through the peer's tunnel. The
   * returned stream can be written at once; the peer's answer arrives as the 'response' event.
   */
  connect(
    target: TunnelTarget,
    authority: string,
    headers: Record<string, string> = {},
  ): http2.ClientHttp2Stream {
    const session = this.#session(target);
    return session.request(
      { ':method': 'CONNECT', ':authority': authority, ...headers },
      { endStream: false },
    );
  }

  #session(target: TunnelTarget): http2.ClientHttp2Session {
    const creds = this.#credentials.credentials(target.sourceIdentity);
    if (!creds) {
      throw new WeftError(
        'WEFT_TUNNEL_NO_CREDENTIALS',
        `no SVID held for ${target.sourceIdentity}; the node has not obtained it yet`,
      );
    }
    const key = `${target.sourceIdentity}|${target.destinationIdentity}|${target.nodeAddress}:${target.nodePort}`;
    const existing = this.#sessions.get(key);
    // A rotated SVID applies to new sessions; the old one drains its streams and closes.
    if (existing && !existing.session.closed && !existing.session.destroyed) {
      if (existing.certPem === creds.certPem) return existing.session;
      existing.session.close();
    }
    const expected = target.destinationIdentity;
    const logger = this.#logger;
    const session = http2.connect(`https://${target.nodeAddress}:${target.nodePort}`, {
      maxSessionMemory: 64,
      peerMaxConcurrentStreams: MAX_STREAMS,
      settings: H2_SETTINGS,
      createConnection: () => {
        const socket = tls.connect({
          host: target.nodeAddress,
          port: target.nodePort,
          servername: sniForSpiffeId(expected),
          ALPNProtocols: ['h2'],
          minVersion: 'TLSv1.3',
          ca: this.#credentials.trustBundle(),
          key: creds.keyPem,
          cert: creds.certPem,
          checkServerIdentity: (_host, cert) => {
            const got = spiffeIdOfCert(cert);
            if (got === expected) return undefined;
            logger.warn('tunnel: peer presented the wrong identity', {
              expected,
              got,
              node: `${target.nodeAddress}:${target.nodePort}`,
              source: target.sourceIdentity,
            });
            return new WeftError(
              'WEFT_TUNNEL_WRONG_PEER_IDENTITY',
              `peer ${target.nodeAddress}:${target.nodePort} presented ${got ?? 'no SPIFFE ID'}, expected ${expected}`,
            );
          },
        });
        socket.setNoDelay(true);
        return socket;
      },
    });
    session.on('connect', () => session.setLocalWindowSize(CONN_WINDOW));
    session.on('error', (err) => logger.debug('tunnel: session error', { error: err, key }));
    session.on('close', () => {
      if (this.#sessions.get(key)?.session === session) this.#sessions.delete(key);
    });
    session.unref();
    this.#sessions.set(key, { session, certPem: creds.certPem });
    return session;
  }

  close(): void {
    for (const { session } of this.#sessions.values()) session.destroy();
    this.#sessions.clear();
  }
}
