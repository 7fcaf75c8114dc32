/**
 * Key material made on the proxy: an ECDSA P-256 key pair and a PKCS#10 CSR that proves possession
 * of it. The private key never leaves this process; Node's `tls` needs it as PKCS#8 PEM, so it is
 * exported once, here. The CSR carries the requested SPIFFE ID only as a hint — the CA decides the
 * identity (SPIFFE X509-SVID: the CA sets the URI SAN).
 *
 * Everything uses node:crypto: the CSR is a few dozen bytes of DER built by hand (RFC 2986), which
 * keeps an X.509 library (and ~18 MB of resident memory) out of every node proxy.
 */
import { X509Certificate, generateKeyPair, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** generateKeyPair as a promise, without node:util (which, imported as an ES module, loads ~0.7 MB more). */
function generateEcKeyPair(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return new Promise((resolve, reject) =>
    generateKeyPair('ec', { namedCurve: 'prime256v1' }, (err, publicKey, privateKey) =>
      err ? reject(err) : resolve({ privateKey, publicKey }),
    ),
  );
}

export interface KeyAndCsr {
  /** PKCS#8 PEM of the private key, for `tls.createSecureContext({ key })`. */
  keyPem: string;
  /** PEM "CERTIFICATE REQUEST". */
  csrPem: string;
}

// ---- minimal DER (X.690) encoding -----------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(v & 0x7f);
      v >>>= 7;
    } while (v > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

const OID_ORGANIZATION = '2.5.4.10';
const OID_COMMON_NAME = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
}

/** Generate a fresh P-256 key and a CSR for it (subject O=Weft, optional URI SAN hint). */
export async function generateKeyAndCsr(hint?: {
  spiffeId?: string;
  commonName?: string;
}): Promise<KeyAndCsr> {
  const { privateKey, publicKey } = await generateEcKeyPair();
  const rdns = [set(seq(oid(OID_ORGANIZATION), utf8('Weft')))];
  if (hint?.commonName) rdns.push(set(seq(oid(OID_COMMON_NAME), utf8(hint.commonName))));
  const attributes = hint?.spiffeId
    ? // [0] { extensionRequest { SEQUENCE OF Extension { subjectAltName: [6] uniformResourceIdentifier } } }
      tlv(
        0xa0,
        seq(
          oid(OID_EXTENSION_REQUEST),
          set(
            seq(
              seq(oid(OID_SUBJECT_ALT_NAME), tlv(0x04, seq(tlv(0x86, Buffer.from(hint.spiffeId, 'ascii'))))),
            ),
          ),
        ),
      )
    : tlv(0xa0);
  const info = seq(
    tlv(0x02, Buffer.from([0])), // version 0 (RFC 2986 §4.1)
    seq(...rdns),
    publicKey.export({ type: 'spki', format: 'der' }),
    attributes,
  );
  // node:crypto's ECDSA signatures are DER-encoded Ecdsa-Sig-Value, as X.509 wants them.
  const signature = sign('sha256', info, privateKey);
  const csr = seq(
    info,
    seq(oid(OID_ECDSA_WITH_SHA256)),
    tlv(0x03, Buffer.from([0]), signature), // BIT STRING, no unused bits
  );
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return { keyPem, csrPem: pem('CERTIFICATE REQUEST', csr) };
}

/** The SPIFFE ID of a certificate (DER or PEM): its only URI SAN, else undefined (X509-SVID 2). */
export function spiffeIdOf(cert: Uint8Array | string): string | undefined {
  try {
    const c = new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
    const uris = (c.subjectAltName ?? '')
      .split(', ')
      .filter((n) => n.startsWith('URI:'))
      .map((n) => n.slice(4));
    return uris.length === 1 && uris[0]?.startsWith('spiffe://') ? uris[0] : undefined;
  } catch {
    return undefined;
  }
}

/** notAfter of a PEM certificate, in milliseconds since the epoch. */
export function notAfterOf(certPem: string): number {
  return Date.parse(new X509Certificate(certPem).validTo);
}
