/**
 * Small X.509 helpers over @peculiar/x509 and Node's WebCrypto: PEM for keys (Node's tls wants
 * PKCS#8 PEM), the URI SANs of a certificate, and random serial numbers (RFC 5280 4.1.2.2:
 * positive, at most 20 octets; CA/B Forum asks for at least 64 bits of randomness — we use 128).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const subtle = webcrypto.subtle;

export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function fromPem(pem: string, label: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!m || m[1] === undefined) throw new Error(`no ${label} block in PEM`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

export async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

export async function importPkcs8Pem(pem: string): Promise<CryptoKey> {
  return subtle.importKey('pkcs8', fromPem(pem, 'PRIVATE KEY'), EC_P256, false, ['sign']);
}

export async function generateP256(extractable: boolean): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(EC_P256, extractable, ['sign', 'verify'])) as CryptoKeyPair;
}

/** 16 random bytes as a positive, minimally encoded DER INTEGER (hex). */
export function randomSerial(randomBytes: (n: number) => Uint8Array): string {
  const bytes = Uint8Array.from(randomBytes(16));
  if (bytes.length !== 16) throw new Error('randomBytes returned the wrong length');
  // Clear the sign bit (serials are positive) and keep the first octet non-zero (minimal encoding).
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** Every URI in the certificate's subjectAltName (empty when there is none). */
export function uriSans(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

/**
 * The SPIFFE ID of a certificate (DER bytes or PEM): its only URI SAN. Undefined when it has none
 * or more than one (X509-SVID 2: validators must reject an SVID with more than one URI SAN).
 */
export function spiffeIdOfCertificate(cert: Uint8Array | string): string | undefined {
  const c = new x509.X509Certificate(typeof cert === 'string' ? cert : Uint8Array.from(cert));
  const uris = uriSans(c);
  return uris.length === 1 && uris[0]?.startsWith('spiffe://') ? uris[0] : undefined;
}
