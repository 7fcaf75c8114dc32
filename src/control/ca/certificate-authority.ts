/**
 * The mesh certificate authority. One self-signed ECDSA P-256 root kept in the state directory
 * (`ca/root.crt`, `ca/root.key`, key mode 0600, written atomically) signs three kinds of leaves:
 *
 * - node certificates (`spiffe://<td>/node/<name>`, 24 h) after attestation;
 * - workload X.509-SVIDs (`spiffe://<td>/ns/<ns>/sa/<sa>`) following the SPIFFE X509-SVID
 *   standard: exactly one URI SAN (section 2), leaf is not a CA (4.1), keyUsage digitalSignature
 *   critical (4.3), EKU serverAuth + clientAuth (4.4);
 * - the control plane's own serving certificate for the push listener.
 *
 * Leaves are signed from a CSR only, so private keys never leave the proxy that made them. The CSR
 * proves possession of the key (its signature is checked) and contributes nothing else: subject,
 * SANs and extensions all come from the CA.
 */
import 'reflect-metadata';
import { mkdir, readFile, rename, writeFile, open, rm } from 'node:fs/promises';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { WeftError, errorMessage } from '../../lib/index.ts';
import type { Clock } from '../../lib/index.ts';
import {
  controlSpiffeId,
  nodeSpiffeId,
  validateNodeName,
  validateSpiffeId,
  validateTrustDomain,
} from './spiffe-id.ts';
import {
  ECDSA_SHA256,
  exportPkcs8Pem,
  generateP256,
  importPkcs8Pem,
  randomSerial,
  subtle,
  uriSans,
} from './x509-util.ts';
import type { CryptoKey } from './x509-util.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Root lifetime: 10 years. */
const ROOT_VALIDITY_MS = 3650 * 24 * HOUR;
/** Node certificates live a day; the proxy re-attests on every (re)connect, which renews them. */
const NODE_VALIDITY_MS = 24 * HOUR;
/** The control plane makes a new serving certificate at every start; a year covers any uptime. */
const SERVING_VALIDITY_MS = 365 * 24 * HOUR;
/** Backdating tolerates clock skew between the CA and the verifiers. */
const SKEW_MS = MINUTE;
/** SVID lifetimes outside this range are refused (1 minute .. 30 days). */
const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 30 * 24 * 3600;

export interface CertificateAuthorityOptions {
  /** The state directory; the root lives in `<stateDir>/ca/`. */
  stateDir: string;
  /** SPIFFE trust domain (MeshConfig `trustDomain`, default `cluster.local`). */
  trustDomain: string;
  clock: Clock;
  /** Randomness for serial numbers (default crypto.randomBytes). */
  randomBytes?: (n: number) => Uint8Array;
}

/** A signed leaf: the certificate, the chain to present in TLS (leaf first), and its validity. */
export interface SignedCertificate {
  certificatePem: string;
  /** Leaf followed by any intermediates (what Node's `tls` `cert` option wants). */
  chainPem: string;
  spiffeId: string;
  /** Milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
  serialNumber: string;
}

/** A certificate with its private key, for a listener of the control plane itself. */
export interface ServingCertificate extends SignedCertificate {
  keyPem: string;
}

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly #clock: Clock;
  readonly #randomBytes: (n: number) => Uint8Array;
  readonly #root: x509.X509Certificate;
  readonly #rootPem: string;
  readonly #rootKey: CryptoKey;

  private constructor(options: CertificateAuthorityOptions, root: x509.X509Certificate, rootKey: CryptoKey) {
    this.trustDomain = options.trustDomain;
    this.#clock = options.clock;
    this.#randomBytes = options.randomBytes ?? ((n) => nodeRandomBytes(n));
    this.#root = root;
    this.#rootPem = root.toString('pem') + '\n';
    this.#rootKey = rootKey;
  }

  /**
   * Load the root from `<stateDir>/ca/`, or create it there on first start. Throws
   * WEFT_CA_STATE_CORRUPT when the files are unreadable or do not belong together, and
   * WEFT_CA_TRUST_DOMAIN_MISMATCH when the stored root is for another trust domain.
   */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    validateTrustDomain(options.trustDomain);
    const dir = join(options.stateDir, 'ca');
    const certPath = join(dir, 'root.crt');
    const keyPath = join(dir, 'root.key');
    const certPem = await readIfExists(certPath);
    const keyPem = await readIfExists(keyPath);
    if (certPem !== undefined && keyPem === undefined) {
      throw new WeftError(
        'WEFT_CA_STATE_CORRUPT',
        `${certPath} exists but ${keyPath} is missing: restore the key from backup, or remove ${dir} to create a new root (every node must then re-attest)`,
      );
    }
    if (certPem !== undefined && keyPem !== undefined) {
      return CertificateAuthority.#load(options, certPath, certPem, keyPem);
    }
    // No root yet (or a key left by an interrupted first start): make one. The key is written
    // before the certificate, so a crash never leaves a certificate without its key.
    const keys = await generateP256(true);
    const now = options.clock.now();
    const randomBytes = options.randomBytes ?? ((n: number) => nodeRandomBytes(n));
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(randomBytes),
      name: [{ O: ['Weft'] }, { CN: [`Weft root CA ${options.trustDomain}`] }],
      notBefore: new Date(now - SKEW_MS),
      notAfter: new Date(now + ROOT_VALIDITY_MS),
      signingAlgorithm: ECDSA_SHA256,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${options.trustDomain}` }]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(keyPath, await exportPkcs8Pem(keys.privateKey), 0o600);
    await writeFileAtomic(certPath, root.toString('pem') + '\n', 0o644);
    const signingKey = await importPkcs8Pem(await readFile(keyPath, 'utf8'));
    return new CertificateAuthority(options, root, signingKey);
  }

  static async #load(
    options: CertificateAuthorityOptions,
    certPath: string,
    certPem: string,
    keyPem: string,
  ): Promise<CertificateAuthority> {
    let root: x509.X509Certificate;
    let key: CryptoKey;
    try {
      root = new x509.X509Certificate(certPem);
      key = await importPkcs8Pem(keyPem);
    } catch (err) {
      throw new WeftError(
        'WEFT_CA_STATE_CORRUPT',
        `cannot read the root CA in ${certPath}: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    // The key must belong to the certificate: sign a probe and verify it with the certificate.
    const probe = new TextEncoder().encode('weft-ca-probe');
    const sig = await subtle.sign(ECDSA_SHA256, key, probe);
    const pub = await root.publicKey.export(
      { name: 'ECDSA', namedCurve: 'P-256' } as Parameters<typeof root.publicKey.export>[0],
      ['verify'],
    );
    if (!(await subtle.verify(ECDSA_SHA256, pub, sig, probe))) {
      throw new WeftError(
        'WEFT_CA_STATE_CORRUPT',
        `the root key does not match ${certPath}: restore both files from the same backup`,
      );
    }
    const want = `spiffe://${options.trustDomain}`;
    const have = uriSans(root);
    if (!have.includes(want)) {
      throw new WeftError(
        'WEFT_CA_TRUST_DOMAIN_MISMATCH',
        `the root CA in ${certPath} is for ${have.join(', ') || 'no trust domain'}, not ${want}: use the trust domain the mesh was created with, or a new state directory`,
      );
    }
    return new CertificateAuthority(options, root, key);
  }

  /** The trust bundle (the root certificate) as PEM. */
  trustBundle(): string {
    return this.#rootPem;
  }

  /** Sign a node certificate (`spiffe://<td>/node/<name>`, clientAuth + serverAuth, 24 h) from a CSR. */
  async signNodeCertificate(csrPem: string, nodeName: string): Promise<SignedCertificate> {
    validateNodeName(nodeName);
    const csr = await checkCsr(csrPem);
    return this.#issue({
      publicKey: csr.publicKey,
      spiffeId: nodeSpiffeId(this.trustDomain, nodeName),
      subject: [{ O: ['Weft'] }, { CN: [nodeName] }],
      validityMs: NODE_VALIDITY_MS,
    });
  }

  /**
   * Sign a workload X.509-SVID for `spiffeId` from a CSR (SPIFFE X509-SVID). The CSR's signature
   * is verified and its key must be ECDSA P-256; its own names and extensions are ignored.
   */
  async signWorkloadSvid(csrPem: string, spiffeId: string, ttlSeconds: number): Promise<SignedCertificate> {
    validateSpiffeId(spiffeId, this.trustDomain);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < MIN_TTL_SECONDS || ttlSeconds > MAX_TTL_SECONDS) {
      throw new WeftError(
        'WEFT_CA_INVALID_TTL',
        `certificate lifetime ${ttlSeconds}s is out of range: use a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}`,
      );
    }
    const csr = await checkCsr(csrPem);
    return this.#issue({
      publicKey: csr.publicKey,
      spiffeId,
      subject: [{ O: ['Weft'] }],
      validityMs: ttlSeconds * 1000,
    });
  }

  /**
   * A fresh key and certificate for the control plane's own TLS listener: DNS `localhost`,
   * IP `127.0.0.1` and `spiffe://<td>/control`, serverAuth + clientAuth.
   */
  async issueServingCertificate(extra?: {
    dnsNames?: string[];
    ipAddresses?: string[];
  }): Promise<ServingCertificate> {
    const keys = await generateP256(true);
    const signed = await this.#issue({
      publicKey: keys.publicKey,
      spiffeId: controlSpiffeId(this.trustDomain),
      subject: [{ O: ['Weft'] }, { CN: ['weft control'] }],
      validityMs: SERVING_VALIDITY_MS,
      dnsNames: ['localhost', ...(extra?.dnsNames ?? [])],
      ipAddresses: ['127.0.0.1', ...(extra?.ipAddresses ?? [])],
    });
    return { ...signed, keyPem: await exportPkcs8Pem(keys.privateKey) };
  }

  async #issue(params: {
    publicKey: x509.PublicKey | CryptoKey;
    spiffeId: string;
    subject: x509.JsonName;
    validityMs: number;
    dnsNames?: string[];
    ipAddresses?: string[];
  }): Promise<SignedCertificate> {
    const now = this.#clock.now();
    const notBefore = now - SKEW_MS;
    const notAfter = now + params.validityMs;
    // Never outlive the root: a leaf valid past its issuer fails verification anyway.
    const rootNotAfter = this.#root.notAfter.getTime();
    const cappedNotAfter = Math.min(notAfter, rootNotAfter);
    const serialNumber = randomSerial(this.#randomBytes);
    const names: x509.JsonGeneralNames = [
      ...(params.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(params.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
      { type: 'url', value: params.spiffeId },
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: params.subject,
      issuer: this.#root.subjectName,
      notBefore: new Date(notBefore),
      notAfter: new Date(cappedNotAfter),
      signingAlgorithm: ECDSA_SHA256,
      publicKey: params.publicKey,
      signingKey: this.#rootKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.SubjectKeyIdentifierExtension.create(params.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.#root.publicKey),
      ],
    });
    const certificatePem = cert.toString('pem') + '\n';
    return {
      certificatePem,
      chainPem: certificatePem,
      spiffeId: params.spiffeId,
      notBefore,
      notAfter: cappedNotAfter,
      serialNumber,
    };
  }
}

/** Parse a PEM CSR, verify its self-signature and require an ECDSA P-256 key. */
async function checkCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  if (typeof csrPem !== 'string' || !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw new WeftError('WEFT_CA_INVALID_CSR', 'the CSR must be a PEM "CERTIFICATE REQUEST" block');
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new WeftError('WEFT_CA_INVALID_CSR', `the CSR cannot be parsed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
    throw new WeftError(
      'WEFT_CA_INVALID_CSR',
      `the CSR's key is ${alg.name ?? 'unknown'}${alg.namedCurve ? ' ' + alg.namedCurve : ''}: Weft signs only ECDSA P-256 keys`,
    );
  }
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (err) {
    throw new WeftError(
      'WEFT_CA_INVALID_CSR',
      `the CSR's signature cannot be checked: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  if (!ok) throw new WeftError('WEFT_CA_INVALID_CSR', "the CSR's signature does not match its key");
  return csr;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write via a temporary file in the same directory, fsync, then rename (atomic on POSIX). */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${nodeRandomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
