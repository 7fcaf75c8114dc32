/**
 * Node attestation: a node proxy proves it may join the mesh with the bootstrap join token and a
 * CSR, and receives its node certificate (`spiffe://<td>/node/<name>`), the trust bundle and the
 * push address (docs/architecture.md, "Identity and attestation"). The token is compared in
 * constant time; the node must exist as a `v1 Node` resource. Every refusal is logged with its
 * reason, but the caller only learns that it was refused (no oracle for node names).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeftError, errorMessage, isWeftError } from '../../lib/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { CertificateAuthority } from './certificate-authority.ts';
import { writeFileAtomic } from './certificate-authority.ts';
import { validateNodeName } from './spiffe-id.ts';

export interface AttestRequest {
  nodeName: string;
  joinToken: string;
  csrPem: string;
}

export interface AttestResponse {
  /** The node certificate (PEM), `spiffe://<td>/node/<name>`, valid 24 h. */
  certificatePem: string;
  trustBundlePem: string;
  /** `host:port` of the push stream (gRPC over mTLS). */
  pushAddress: string;
}

export interface AttestorOptions {
  ca: CertificateAuthority;
  /** The join token (see ensureJoinToken). */
  joinToken: string;
  /** True when a `v1 Node` resource of that name exists. */
  nodeExists: (name: string) => boolean | Promise<boolean>;
  /** Where proxies reach the push stream now (it can change across restarts). */
  pushAddress: () => string;
  logger: Logger;
}

/**
 * Read `<stateDir>/join-token`, creating it (32 random bytes, base64url, mode 0600) when missing.
 */
export async function ensureJoinToken(
  stateDir: string,
  randomBytes: (n: number) => Uint8Array = (n) => nodeRandomBytes(n),
): Promise<string> {
  const path = join(stateDir, 'join-token');
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (token !== '') return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = Buffer.from(randomBytes(32)).toString('base64url');
  await writeFileAtomic(path, token + '\n', 0o600);
  return token;
}

/** Constant-time string equality (hashing first makes the lengths equal). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/**
 * Returns `attestNode`, which refuses with WEFT_CA_ATTESTATION_REFUSED (bad token, unknown node)
 * and otherwise signs the node certificate from the CSR.
 */
export function createAttestor(options: AttestorOptions): (req: AttestRequest) => Promise<AttestResponse> {
  const log = options.logger.child({ component: 'attestation' });
  return async function attestNode(req: AttestRequest): Promise<AttestResponse> {
    const refuse = (reason: string) => {
      log.warn('node attestation refused', { node: req.nodeName, reason });
      return new WeftError(
        'WEFT_CA_ATTESTATION_REFUSED',
        `attestation of node ${JSON.stringify(req.nodeName)} refused: check that the node exists (weft get node) and that the proxy uses the mesh's join token`,
        { detail: { node: req.nodeName } },
      );
    };
    if (typeof req.joinToken !== 'string' || !tokensEqual(req.joinToken, options.joinToken)) {
      throw refuse('bad join token');
    }
    try {
      validateNodeName(req.nodeName);
    } catch {
      throw refuse('invalid node name');
    }
    if (!(await options.nodeExists(req.nodeName))) throw refuse('no such node');
    const signed = await options.ca.signNodeCertificate(req.csrPem, req.nodeName);
    log.info('node attested', { node: req.nodeName, serial: signed.serialNumber, notAfter: signed.notAfter });
    return {
      certificatePem: signed.certificatePem,
      trustBundlePem: options.ca.trustBundle(),
      pushAddress: options.pushAddress(),
    };
  };
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Adapt `attestNode` to node:http for `POST /v1/nodes/{name}/attest` with JSON body
 * `{joinToken, csrPem}`. The node name is the `nodeName` argument when the router passes it,
 * else it is taken from the path. Errors answer `{error: {code, message}}`: 403 for
 * WEFT_CA_ATTESTATION_REFUSED, 400 for a bad body or CSR, 500 otherwise.
 */
export function attestHttpHandler(
  attestNode: (req: AttestRequest) => Promise<AttestResponse>,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse, nodeName?: string) => Promise<void> {
  return async (req, res, nodeName) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    try {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        send(405, { error: { code: 'WEFT_CA_BAD_REQUEST', message: 'use POST' } });
        return;
      }
      const name = nodeName ?? nameFromPath(req.url ?? '');
      if (name === undefined) {
        send(400, {
          error: { code: 'WEFT_CA_BAD_REQUEST', message: 'the path must be /v1/nodes/{name}/attest' },
        });
        return;
      }
      const body = await readJson(req);
      const joinToken = (body as { joinToken?: unknown }).joinToken;
      const csrPem = (body as { csrPem?: unknown }).csrPem;
      if (typeof joinToken !== 'string' || typeof csrPem !== 'string') {
        send(400, {
          error: {
            code: 'WEFT_CA_BAD_REQUEST',
            message: 'the body must be JSON {"joinToken": string, "csrPem": string}',
          },
        });
        return;
      }
      send(200, await attestNode({ nodeName: name, joinToken, csrPem }));
    } catch (err) {
      if (isWeftError(err)) {
        const status =
          err.code === 'WEFT_CA_ATTESTATION_REFUSED'
            ? 403
            : err.code === 'WEFT_CA_BAD_REQUEST' || err.code === 'WEFT_CA_INVALID_CSR'
              ? 400
              : 500;
        send(status, { error: { code: err.code, message: err.message } });
        return;
      }
      logger.error('attestation failed', { err: errorMessage(err) });
      send(500, {
        error: { code: 'WEFT_INTERNAL', message: 'attestation failed; see the control plane log' },
      });
    }
  };
}

function nameFromPath(url: string): string | undefined {
  const m = /^\/v1\/nodes\/([^/?#]+)\/attest(?:[?#].*)?$/.exec(url);
  if (!m || m[1] === undefined) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) {
      throw new WeftError('WEFT_CA_BAD_REQUEST', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(buf);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (value === null || typeof value !== 'object') throw new Error('not an object');
    return value;
  } catch (err) {
    throw new WeftError('WEFT_CA_BAD_REQUEST', `the body is not a JSON object: ${errorMessage(err)}`);
  }
}
