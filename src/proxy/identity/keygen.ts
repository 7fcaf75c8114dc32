/**
 * Key material made on the proxy: an ECDSA P-256 key pair from WebCrypto and a PKCS#10 CSR that
 * proves possession of it. The private key never leaves this process; Node's `tls` needs it as
 * PKCS#8 PEM, so it is exported once, here. The CSR carries the requested SPIFFE ID only as a
 * hint — the CA decides the identity (SPIFFE X509-SVID: the CA sets the URI SAN).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyAndCsr {
  /** PKCS#8 PEM of the private key, for `tls.createSecureContext({ key })`. */
  keyPem: string;
  /** PEM "CERTIFICATE REQUEST". */
  csrPem: string;
}

/** Generate a fresh P-256 key and a CSR for it (subject O=Weft, optional URI SAN hint). */
export async function generateKeyAndCsr(hint?: {
  spiffeId?: string;
  commonName?: string;
}): Promise<KeyAndCsr> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const name: x509.JsonName = [{ O: ['Weft'] }];
  if (hint?.commonName) name.push({ CN: [hint.commonName] });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: ECDSA_SHA256,
    extensions: hint?.spiffeId
      ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: hint.spiffeId }])]
      : [],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${(pkcs8.match(/.{1,64}/g) ?? []).join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { keyPem, csrPem: csr.toString('pem') + '\n' };
}

/** The SPIFFE ID of a certificate (DER or PEM): its only URI SAN, else undefined (X509-SVID 2). */
export function spiffeIdOf(cert: Uint8Array | string): string | undefined {
  try {
    const c = new x509.X509Certificate(typeof cert === 'string' ? cert : Uint8Array.from(cert));
    const san = c.getExtension(x509.SubjectAlternativeNameExtension);
    const uris = san ? san.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
    return uris.length === 1 && uris[0]?.startsWith('spiffe://') ? uris[0] : undefined;
  } catch {
    return undefined;
  }
}

/** notAfter of a PEM certificate, in milliseconds since the epoch. */
export function notAfterOf(certPem: string): number {
  return new x509.X509Certificate(certPem).notAfter.getTime();
}
