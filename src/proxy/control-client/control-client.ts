/**
 * The proxy's side of attestation and the push stream (docs/identity.md).
 *
 * A session loops until closed: make a fresh node key and CSR, attest over HTTP with the join
 * token (which also renews the 24 h node certificate and learns the current push address), open
 * the gRPC stream with mTLS, say hello with the last applied version, then apply each snapshot
 * through `onSnapshot` and ACK it — or NACK it with the error when `onSnapshot` throws, keeping the
 * last good one. When the control plane goes away it retries with exponential backoff and full
 * jitter, and resyncs on return. The server is checked by its SPIFFE ID
 * (`spiffe://<td>/control`), not by host name. The gRPC calls go through grpc-lite.ts and
 * push-codec.ts (plain gRPC on the wire, no runtime proto loading in the proxy).
 */
import type http2 from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Snapshot } from '../../api/wire/snapshot.ts';
import { Backoff, Watch, WeftError, errorMessage } from '../../lib/index.ts';
import type { Clock, Logger, Timer } from '../../lib/index.ts';
import { generateKeyAndCsr, spiffeIdOf } from '../identity/index.ts';
import { BidiCall, GrpcStatusError, openChannel, unaryCall } from './grpc-lite.ts';
import {
  decodeControlMessage,
  decodeSignResponse,
  encodeProxyMessage,
  encodeSignRequest,
} from './push-codec.ts';
import type { ControlMessageIn, ProxyMessageOut } from './push-codec.ts';
// Not `import … from 'node:http'`, which loads undici (~4 MB): docs/architecture.md, "Proxy memory".
const { request: httpRequest } = process.getBuiltinModule('node:http');

const STREAM_PATH = '/weft.push.v1.MeshConfigService/Stream';
const SIGN_PATH = '/weft.push.v1.MeshConfigService/SignWorkload';
const KEEPALIVE_MS = 30_000;

export interface ControlPlaneOptions {
  /** Base URL of the control plane's HTTP API, e.g. `http://127.0.0.1:7070`. */
  apiUrl: string;
  nodeName: string;
  joinToken: string;
  logger: Logger;
  clock: Clock;
  /** Apply a snapshot. Throw to reject it (NACK); the previous snapshot stays in force. */
  onSnapshot: (snapshot: Snapshot) => void;
  /** Uniform random in [0,1) for backoff jitter (default Math.random). */
  random?: () => number;
  /** Reconnect backoff (defaults: 200 ms first ceiling, 30 s cap). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Timeout of one attestation or SignWorkload call (default 15 s). */
  callTimeoutMs?: number;
  proxyVersion?: string;
}

export interface ControlSessionState {
  /** True while the push stream is open and the control plane has spoken on it. */
  connected: boolean;
  /** Version of the last snapshot applied (undefined before the first). */
  version: string | undefined;
  /** Store revision of that snapshot. */
  revision: number | undefined;
  /** Why the last attempt failed, for logs and `weft status`. */
  lastError: string | undefined;
}

export interface WorkloadCertificate {
  certificatePem: string;
  chainPem: string;
  /** ms since epoch. */
  notAfter: number;
}

export interface ControlSession {
  state(): ControlSessionState;
  /** Every state change (connected, version). */
  readonly states: Watch<ControlSessionState>;
  /** The mesh trust bundle (PEM; '' before the first attestation). */
  trustBundle(): string;
  readonly trustBundles: Watch<string>;
  /**
   * Ask the control plane to sign a workload SVID. Rejects with WEFT_CONTROL_UNAVAILABLE when not
   * connected, WEFT_CA_NOT_ON_NODE when the identity is not placed on this node.
   */
  signWorkload(spiffeId: string, csrPem: string): Promise<WorkloadCertificate>;
  /** Stop: ends the stream, cancels retries, releases every handle. */
  close(): Promise<void>;
}

interface AttestResult {
  certificatePem: string;
  trustBundlePem: string;
  pushAddress: string;
}

/** Start a session; it connects (and reconnects) in the background until `close()`. */
export function connectControlPlane(options: ControlPlaneOptions): ControlSession {
  const log = options.logger.child({ component: 'control-client', node: options.nodeName });
  const clock = options.clock;
  const callTimeoutMs = options.callTimeoutMs ?? 15_000;
  const backoff = new Backoff({
    baseMs: options.backoff?.baseMs ?? 200,
    maxMs: options.backoff?.maxMs ?? 30_000,
    random: options.random ?? Math.random,
    clock,
  });
  const states = new Watch<ControlSessionState>({
    connected: false,
    version: undefined,
    revision: undefined,
    lastError: undefined,
  });
  const trustBundles = new Watch<string>('');
  const update = (patch: Partial<ControlSessionState>) => states.set({ ...states.get(), ...patch });

  let closed = false;
  let channel: http2.ClientHttp2Session | undefined;
  let stream: BidiCall | undefined;
  let retryTimer: Timer | undefined;
  let wakeRetry: (() => void) | undefined;

  const attest = async (): Promise<AttestResult & { keyPem: string }> => {
    const { keyPem, csrPem } = await generateKeyAndCsr({ commonName: options.nodeName });
    const url = new URL(`/v1/nodes/${encodeURIComponent(options.nodeName)}/attest`, options.apiUrl);
    const { status, body } = await postJson(
      url,
      { joinToken: options.joinToken, csrPem },
      clock,
      callTimeoutMs,
    );
    if (status !== 200) {
      const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new WeftError(
        err?.code ?? 'WEFT_CONTROL_UNAVAILABLE',
        `attestation failed (HTTP ${status}): ${err?.message ?? 'no error message'}`,
      );
    }
    const r = body as Partial<AttestResult>;
    if (
      typeof r.certificatePem !== 'string' ||
      typeof r.trustBundlePem !== 'string' ||
      typeof r.pushAddress !== 'string'
    ) {
      throw new WeftError(
        'WEFT_CONTROL_UNAVAILABLE',
        'attestation answer is missing certificatePem, trustBundlePem or pushAddress',
      );
    }
    return {
      certificatePem: r.certificatePem,
      trustBundlePem: r.trustBundlePem,
      pushAddress: r.pushAddress,
      keyPem,
    };
  };

  /** One connection: attest, open the stream, run it until it ends. Resolves on a clean end. */
  const runOnce = async (): Promise<void> => {
    const a = await attest();
    if (closed) return;
    trustBundles.set(a.trustBundlePem);
    const trustDomain = trustDomainOf(a.trustBundlePem);
    const controlId = `spiffe://${trustDomain}/control`;
    const ch = openChannel({
      address: a.pushAddress,
      ca: a.trustBundlePem,
      key: a.keyPem,
      cert: a.certificatePem,
      // Identify the server by SPIFFE ID instead of host name (the chain is already verified).
      checkServer: (cert) =>
        spiffeIdOf(cert.raw) === controlId
          ? undefined
          : new Error(
              `push server is ${spiffeIdOf(cert.raw) ?? 'not a SPIFFE identity'}, expected ${controlId}`,
            ),
    });
    channel = ch;
    // Keepalive: a dead peer is noticed within one interval even when no config changes.
    let keepalive: Timer | undefined;
    const ping = () => {
      keepalive = clock.setTimeout(() => {
        if (ch.closed || ch.destroyed) return;
        ch.ping((err) => {
          if (err) ch.destroy(err);
          else ping();
        });
      }, KEEPALIVE_MS);
    };
    ping();
    try {
      await new Promise<void>((resolve, reject) => {
        const call: BidiCall = new BidiCall(ch, STREAM_PATH, {
          onMessage: (bytes) => {
            try {
              onMessage(call, decodeControlMessage(bytes));
            } catch (err) {
              log.error('push message handling failed', { err: errorMessage(err) });
            }
          },
          onEnd: (err) => (err ? reject(err) : resolve()),
        });
        stream = call;
        send(call, {
          hello: {
            node: options.nodeName,
            lastVersion: states.get().version ?? '',
            proxyVersion: options.proxyVersion ?? 'weft/0.1.0',
          },
        });
      });
    } finally {
      keepalive?.cancel();
      stream = undefined;
      if (channel === ch) channel = undefined;
      ch.close();
      update({ connected: false });
    }
  };

  const send = (call: BidiCall, m: ProxyMessageOut) => call.write(encodeProxyMessage(m));

  const onMessage = (call: BidiCall, msg: ControlMessageIn) => {
    if (!states.get().connected) {
      backoff.reset();
      update({ connected: true, lastError: undefined });
      log.info('connected to control plane');
    }
    if (msg.kind === 'trustBundle') {
      if (msg.pem !== '' && msg.pem !== trustBundles.get()) trustBundles.set(msg.pem);
      return;
    }
    if (msg.kind !== 'snapshot') return;
    const version = msg.version;
    try {
      const snap = JSON.parse(msg.json) as Snapshot;
      if (snap === null || typeof snap !== 'object') throw new Error('snapshot is not a JSON object');
      if (snap.version !== version)
        throw new Error(`snapshot version ${snap.version} does not match ${version}`);
      if (snap.node !== options.nodeName)
        throw new Error(`snapshot is for node ${snap.node}, not ${options.nodeName}`);
      options.onSnapshot(snap);
      update({ version, revision: snap.revision });
      send(call, { ack: { version } });
      log.info('snapshot applied', { version, revision: snap.revision });
    } catch (err) {
      const error = errorMessage(err);
      send(call, { nack: { version, error } });
      log.warn('snapshot rejected', { version, error });
    }
  };

  const loop = async (): Promise<void> => {
    // Runs until close(); each turn is one connection attempt followed by a backoff wait.
    while (!closed) {
      try {
        await runOnce();
        if (!closed) log.warn('push stream ended; reconnecting');
      } catch (err) {
        if (closed) break;
        update({ lastError: errorMessage(err) });
        log.warn('control plane unavailable; retrying', { err: errorMessage(err), attempt: backoff.attempt });
      }
      if (closed) break;
      await new Promise<void>((resolve) => {
        wakeRetry = resolve;
        retryTimer = backoff.schedule(resolve);
      });
      retryTimer = undefined;
      wakeRetry = undefined;
    }
  };
  const running = loop();

  return {
    state: () => states.get(),
    states,
    trustBundle: () => trustBundles.get(),
    trustBundles,
    async signWorkload(spiffeId, csrPem) {
      const ch = channel;
      if (!ch || !states.get().connected) {
        throw new WeftError(
          'WEFT_CONTROL_UNAVAILABLE',
          'not connected to the control plane; the request will be retried',
        );
      }
      let bytes: Buffer;
      try {
        bytes = await unaryCall(ch, SIGN_PATH, encodeSignRequest({ csrPem, spiffeId }), callTimeoutMs, clock);
      } catch (err) {
        throw signError(err);
      }
      const res = decodeSignResponse(bytes);
      return {
        certificatePem: res.certificatePem,
        chainPem: res.chainPem,
        notAfter: Date.parse(res.expiresAt),
      };
    },
    async close() {
      if (closed) return running;
      closed = true;
      retryTimer?.cancel();
      wakeRetry?.();
      stream?.cancel();
      channel?.close();
      await running;
    },
  };
}

/** Turn a SignWorkload failure into a WeftError, keeping the server's code when it sent one. */
function signError(err: unknown): WeftError {
  const details = err instanceof GrpcStatusError ? err.details : errorMessage(err);
  const m = /^(WEFT_[A-Z0-9_]+): ?([\s\S]*)$/.exec(details);
  if (m && m[1] !== undefined) return new WeftError(m[1], m[2] ?? details, { cause: err });
  return new WeftError('WEFT_CONTROL_UNAVAILABLE', `SignWorkload failed: ${details}`, { cause: err });
}

/** The trust domain named by the root's URI SAN `spiffe://<td>`. */
function trustDomainOf(bundlePem: string): string {
  const id = spiffeIdOf(bundlePem);
  const m = id ? /^spiffe:\/\/([^/]+)$/.exec(id) : null;
  if (!m || m[1] === undefined) {
    throw new WeftError(
      'WEFT_CONTROL_BAD_TRUST_BUNDLE',
      'the trust bundle does not name a SPIFFE trust domain',
    );
  }
  return m[1];
}

/** POST JSON without keep-alive (no pooled socket outlives the call), bounded by a timeout. */
function postJson(
  url: URL,
  body: unknown,
  clock: Clock,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  const text = JSON.stringify(body);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          connection: 'close',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          timer.cancel();
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    const timer = clock.setTimeout(
      () => req.destroy(new Error(`no answer from ${url.origin} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (err) => {
      timer.cancel();
      reject(err);
    });
    req.end(text);
  });
}
