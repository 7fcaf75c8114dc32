/**
 * The push stream: gRPC over mTLS from the control plane to node proxies.
 *
 * - The server presents the control plane's serving certificate and requires a client certificate
 *   chaining to the mesh root. The node is the one in the client certificate's SPIFFE ID
 *   (`spiffe://<td>/node/<name>`); a `hello` naming another node is refused.
 * - `Stream`: after `hello` the server sends the trust bundle and the node's snapshot (unless the
 *   proxy already has that version), then a new snapshot whenever `publish()` finds the node's
 *   version changed. The proxy answers ack/nack per version (the xDS ACK/NACK idea); `status()`
 *   reports both, and keeps nodes that went away with `connected: false`.
 * - `SignWorkload`: signs an SVID only for an identity `allowedIdentities(node)` contains — the
 *   instances the translator placed on that node — so a compromised proxy cannot mint others.
 */
import * as grpc from '@grpc/grpc-js';
import { snapshotJson } from '../../api/index.ts';
import type { Snapshot } from '../../api/index.ts';
import type { ControlMessage, SignRequest, SignResponse } from '../../api/index.ts';
import { Watch, errorMessage, isWeftError } from '../../lib/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import { nodeNameFromSpiffeId, spiffeIdOfCertificate } from '../ca/index.ts';
import type { CertificateAuthority } from '../ca/index.ts';
import { meshConfigServiceDefinition } from './proto.ts';

/** SVID lifetime when the node has no snapshot to take MeshConfig's certTtlSeconds from. */
const DEFAULT_CERT_TTL_SECONDS = 3600;

export interface PushServerOptions {
  ca: CertificateAuthority;
  /** The node's current snapshot (undefined: nothing to send yet). */
  snapshotFor: (node: string) => Snapshot | undefined;
  /** SPIFFE IDs of the instances placed on the node. */
  allowedIdentities: (node: string) => ReadonlySet<string>;
  logger: Logger;
  clock: Clock;
}

export interface NodeStatus {
  node: string;
  connected: boolean;
  /** Version of the last snapshot sent (or reported by the proxy's hello). */
  sentVersion: string | undefined;
  /** Version the proxy last acknowledged as applied. */
  ackedVersion: string | undefined;
  lastNack?: { version: string; error: string; at: number };
  /** ms since epoch. */
  connectedAt: number;
  lastSeen: number;
}

export interface PushServer {
  /** Bind (port 0: any free port). Resolves with the bound address. */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** `host:port` once listening. */
  address(): string | undefined;
  /** The store changed: send each connected proxy its snapshot if its version moved. */
  publish(): void;
  status(): NodeStatus[];
  /** The same as status(), as a Watch updated on every change (connect, send, ack, nack, leave). */
  readonly statuses: Watch<readonly NodeStatus[]>;
  /** End every stream and stop the server. */
  close(): Promise<void>;
}

type Duplex = grpc.ServerDuplexStream<Record<string, unknown>, ControlMessage | Record<string, unknown>>;

interface Session {
  node: string;
  call: Duplex;
  status: NodeStatus;
}

export function createPushServer(options: PushServerOptions): PushServer {
  const log = options.logger.child({ component: 'push' });
  const { clock, ca } = options;
  const statuses = new Map<string, NodeStatus>();
  const sessions = new Map<string, Session>();
  let server: grpc.Server | undefined;
  let bound: string | undefined;
  let closed = false;
  const statusWatch = new Watch<readonly NodeStatus[]>([]);
  const snapshotStatus = (): NodeStatus[] =>
    [...statuses.values()]
      .map((s) => ({ ...s, ...(s.lastNack ? { lastNack: { ...s.lastNack } } : {}) }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const changed = () => statusWatch.set(snapshotStatus());

  const nodeOf = (
    call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>,
  ): string | undefined => {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (!raw) return undefined;
    let id: string | undefined;
    try {
      id = spiffeIdOfCertificate(raw);
    } catch {
      return undefined;
    }
    return id === undefined ? undefined : nodeNameFromSpiffeId(id, ca.trustDomain);
  };

  const sendSnapshot = (session: Session): void => {
    let snap: Snapshot | undefined;
    try {
      snap = options.snapshotFor(session.node);
    } catch (err) {
      log.error('cannot compute snapshot', { node: session.node, err: errorMessage(err) });
      return;
    }
    if (!snap || snap.version === session.status.sentVersion) return;
    session.status.sentVersion = snap.version;
    session.call.write({
      snapshot: { version: snap.version, revision: snap.revision, json: snapshotJson(snap) },
    });
    log.debug('snapshot sent', { node: session.node, version: snap.version, revision: snap.revision });
    changed();
  };

  const handleStream = (call: Duplex): void => {
    const node = nodeOf(call);
    if (node === undefined) {
      log.warn('push stream refused: client certificate is not a node certificate', { peer: call.getPeer() });
      call.emit('error', {
        code: grpc.status.UNAUTHENTICATED,
        details: 'WEFT_PUSH_NOT_A_NODE: the client certificate must be a node certificate from attestation',
      });
      return;
    }
    let session: Session | undefined;
    const finish = () => {
      if (session && sessions.get(node) === session) {
        sessions.delete(node);
        session.status.connected = false;
        session.status.lastSeen = clock.now();
        log.info('proxy disconnected', { node });
        changed();
      }
    };
    call.on('data', (msg: Record<string, unknown>) => {
      try {
        const kind = msg['kind'];
        if (session === undefined) {
          if (kind !== 'hello') {
            call.emit('error', {
              code: grpc.status.FAILED_PRECONDITION,
              details: 'WEFT_PUSH_PROTOCOL: the first message must be hello',
            });
            return;
          }
          const hello = (msg['hello'] ?? {}) as {
            node?: string;
            lastVersion?: string;
            proxyVersion?: string;
          };
          if (hello.node && hello.node !== node) {
            log.warn('push stream refused: hello names another node', { node, claimed: hello.node });
            call.emit('error', {
              code: grpc.status.PERMISSION_DENIED,
              details: `WEFT_PUSH_NODE_MISMATCH: this certificate is for node ${node}, not ${hello.node}`,
            });
            return;
          }
          const previous = sessions.get(node);
          if (previous) {
            // A reconnect overtook the old stream: the newest one wins.
            sessions.delete(node);
            previous.call.end();
          }
          const now = clock.now();
          const last = hello.lastVersion ? hello.lastVersion : undefined;
          const prior = statuses.get(node);
          const status: NodeStatus = {
            node,
            connected: true,
            sentVersion: last,
            ackedVersion: last,
            connectedAt: now,
            lastSeen: now,
          };
          if (prior?.lastNack) status.lastNack = prior.lastNack;
          statuses.set(node, status);
          session = { node, call, status };
          sessions.set(node, session);
          log.info('proxy connected', {
            node,
            lastVersion: last ?? '',
            proxyVersion: hello.proxyVersion ?? '',
          });
          call.write({ trustBundle: { pem: ca.trustBundle() } });
          changed();
          sendSnapshot(session);
          return;
        }
        session.status.lastSeen = clock.now();
        if (kind === 'ack') {
          const ack = (msg['ack'] ?? {}) as { version?: string };
          session.status.ackedVersion = ack.version ?? '';
          log.debug('snapshot acked', { node, version: ack.version });
        } else if (kind === 'nack') {
          const nack = (msg['nack'] ?? {}) as { version?: string; error?: string };
          session.status.lastNack = { version: nack.version ?? '', error: nack.error ?? '', at: clock.now() };
          log.warn('snapshot rejected by proxy', { node, version: nack.version, error: nack.error });
        }
        changed();
      } catch (err) {
        log.error('push stream message failed', { node, err: errorMessage(err) });
      }
    });
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('close', finish);
  };

  const handleSign = (
    call: grpc.ServerUnaryCall<SignRequest, SignResponse>,
    callback: grpc.sendUnaryData<SignResponse>,
  ): void => {
    const node = nodeOf(call);
    const req = call.request;
    if (node === undefined) {
      callback({
        code: grpc.status.UNAUTHENTICATED,
        details: 'WEFT_PUSH_NOT_A_NODE: use the node certificate',
      });
      return;
    }
    const status = statuses.get(node);
    if (status) status.lastSeen = clock.now();
    let allowed: ReadonlySet<string>;
    try {
      allowed = options.allowedIdentities(node);
    } catch (err) {
      log.error('cannot compute identities of node', { node, err: errorMessage(err) });
      callback({ code: grpc.status.INTERNAL, details: 'cannot compute the identities of this node' });
      return;
    }
    if (!allowed.has(req.spiffeId)) {
      log.warn('workload certificate refused: identity not on node', { node, identity: req.spiffeId });
      callback({
        code: grpc.status.PERMISSION_DENIED,
        details: `WEFT_CA_NOT_ON_NODE: no instance with identity ${req.spiffeId} is placed on node ${node}`,
      });
      return;
    }
    let ttl = DEFAULT_CERT_TTL_SECONDS;
    try {
      ttl = options.snapshotFor(node)?.mesh.certTtlSeconds ?? DEFAULT_CERT_TTL_SECONDS;
    } catch {
      // Fall back to the default lifetime; signing does not depend on the snapshot otherwise.
    }
    ca.signWorkloadSvid(req.csrPem, req.spiffeId, ttl).then(
      (signed) => {
        log.info('workload certificate issued', {
          node,
          identity: req.spiffeId,
          serial: signed.serialNumber,
        });
        callback(null, {
          certificatePem: signed.certificatePem,
          chainPem: signed.chainPem,
          expiresAt: new Date(signed.notAfter).toISOString(),
        });
      },
      (err: unknown) => {
        const invalid = isWeftError(err) && err.code.startsWith('WEFT_CA_INVALID');
        log.warn('workload certificate not issued', { node, identity: req.spiffeId, err: errorMessage(err) });
        callback({
          code: invalid ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
          details: isWeftError(err)
            ? `${err.code}: ${err.message}`
            : 'signing failed; see the control plane log',
        });
      },
    );
  };

  return {
    async listen(host, port) {
      if (server) throw new Error('push server is already listening');
      if (closed) throw new Error('push server is closed');
      const serving = await ca.issueServingCertificate();
      const creds = grpc.ServerCredentials.createSsl(
        Buffer.from(ca.trustBundle()),
        [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.chainPem) }],
        true,
      );
      const s = new grpc.Server({ 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
      s.addService(meshConfigServiceDefinition(), {
        Stream: handleStream,
        SignWorkload: handleSign,
      } as unknown as grpc.UntypedServiceImplementation);
      const hostPart = host.includes(':') ? `[${host}]` : host;
      const boundPort = await new Promise<number>((resolve, reject) =>
        s.bindAsync(`${hostPart}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
      );
      server = s;
      bound = `${host}:${boundPort}`;
      log.info('push stream listening', { address: bound });
      return { host, port: boundPort };
    },
    address: () => bound,
    publish() {
      for (const session of [...sessions.values()]) sendSnapshot(session);
    },
    status: snapshotStatus,
    statuses: statusWatch,
    async close() {
      closed = true;
      for (const session of [...sessions.values()]) {
        sessions.delete(session.node);
        session.status.connected = false;
        session.call.end();
      }
      changed();
      const s = server;
      server = undefined;
      if (!s) return;
      // Streams were ended above; in-flight SignWorkload calls are cancelled (the proxy retries).
      s.forceShutdown();
    },
  };
}
