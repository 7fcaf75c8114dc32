import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, readFile, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { FakeClock, isWeftError } from '../../lib/index.ts';
import { CertificateAuthority } from './certificate-authority.ts';
import { validateSpiffeId } from './spiffe-id.ts';

async function csrFor(
  alg: {
    name: string;
    namedCurve?: string;
    modulusLength?: number;
    publicExponent?: Uint8Array;
    hash?: string;
  } = {
    name: 'ECDSA',
    namedCurve: 'P-256',
  },
  san?: string,
): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(alg as any, true, ['sign', 'verify'])) as any;
  const signingAlgorithm = alg.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : (alg as any);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=ignored',
    keys,
    signingAlgorithm,
    extensions: san ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: san }])] : [],
  });
  return csr.toString('pem');
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-ca-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test('creates the root on first start (key 0600, no temp files left) and reloads the same one', async () => {
  await withDir(async (dir) => {
    const clock = new FakeClock();
    const ca = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'example.org', clock });
    const key = await stat(join(dir, 'ca', 'root.key'));
    assert.equal(key.mode & 0o777, 0o600);
    assert.deepEqual((await readdir(join(dir, 'ca'))).sort(), ['root.crt', 'root.key']);
    const root = new x509.X509Certificate(ca.trustBundle());
    assert.equal(root.subject, 'O=Weft, CN=Weft root CA example.org');
    const bc = root.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    assert.equal(bc?.critical, true);
    const ku = root.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.equal(root.notAfter.getTime() - clock.now(), 3650 * 24 * 3600 * 1000);
    assert.ok(await root.verify({ signatureOnly: true }));

    const again = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'example.org', clock });
    assert.equal(again.trustBundle(), ca.trustBundle());
    assert.equal(await readFile(join(dir, 'ca', 'root.crt'), 'utf8'), ca.trustBundle());
  });
});

void test('refuses a stored root of another trust domain, a certificate without key, and a mismatched key', async () => {
  await withDir(async (dir) => {
    const clock = new FakeClock();
    await CertificateAuthority.open({ stateDir: dir, trustDomain: 'a.test', clock });
    await assert.rejects(CertificateAuthority.open({ stateDir: dir, trustDomain: 'b.test', clock }), (e) =>
      isWeftError(e, 'WEFT_CA_TRUST_DOMAIN_MISMATCH'),
    );
    await withDir(async (other) => {
      await CertificateAuthority.open({ stateDir: other, trustDomain: 'a.test', clock });
      await writeFile(join(dir, 'ca', 'root.key'), await readFile(join(other, 'ca', 'root.key')));
      await assert.rejects(CertificateAuthority.open({ stateDir: dir, trustDomain: 'a.test', clock }), (e) =>
        isWeftError(e, 'WEFT_CA_STATE_CORRUPT'),
      );
    });
    await rm(join(dir, 'ca', 'root.key'));
    await assert.rejects(CertificateAuthority.open({ stateDir: dir, trustDomain: 'a.test', clock }), (e) =>
      isWeftError(e, 'WEFT_CA_STATE_CORRUPT'),
    );
  });
});

void test('workload SVID follows the SPIFFE X509-SVID profile and ignores the CSR SANs', async () => {
  await withDir(async (dir) => {
    const clock = new FakeClock(Date.UTC(2026, 2, 3, 4, 5, 6));
    const serials = [new Uint8Array(16).fill(0xff), new Uint8Array(16).fill(0x00)];
    const ca = await CertificateAuthority.open({
      stateDir: dir,
      trustDomain: 'cluster.local',
      clock,
      randomBytes: (n) => serials.shift() ?? new Uint8Array(n).fill(7),
    });
    const id = 'spiffe://cluster.local/ns/default/sa/web';
    const signed = await ca.signWorkloadSvid(
      await csrFor(undefined, 'spiffe://cluster.local/ns/evil/sa/root'),
      id,
      3600,
    );
    const cert = new x509.X509Certificate(signed.certificatePem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assert.deepEqual(
      san?.names.items.map((n) => [n.type, n.value]),
      [['url', id]],
    );
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, false);
    assert.equal(bc?.critical, true);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.critical, true);
    assert.ok((ku!.usages & x509.KeyUsageFlags.digitalSignature) !== 0);
    assert.equal(ku!.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign), 0);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual(
      [...(eku?.usages ?? [])].sort(),
      [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth].sort(),
    );
    assert.equal(cert.notBefore.getTime(), clock.now() - 60_000);
    assert.equal(cert.notAfter.getTime(), clock.now() + 3600_000);
    assert.equal(signed.notAfter, clock.now() + 3600_000);
    assert.equal(cert.subject, 'O=Weft');
    // Root serial took the first random value; this one the second, made positive and minimal.
    assert.equal(cert.serialNumber, '01' + '00'.repeat(15));
    assert.ok(
      await cert.verify({
        publicKey: new x509.X509Certificate(ca.trustBundle()).publicKey,
        date: new Date(clock.now()),
      }),
    );
    assert.equal(signed.chainPem, signed.certificatePem);
  });
});

void test('node and serving certificates carry the right identities', async () => {
  await withDir(async (dir) => {
    const clock = new FakeClock();
    const ca = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'cluster.local', clock });
    const node = await ca.signNodeCertificate(await csrFor(), 'node-1');
    assert.equal(node.spiffeId, 'spiffe://cluster.local/node/node-1');
    assert.equal(node.notAfter - clock.now(), 24 * 3600 * 1000);
    const serving = await ca.issueServingCertificate();
    const cert = new x509.X509Certificate(serving.certificatePem);
    assert.deepEqual(
      cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => [n.type, n.value]),
      [
        ['dns', 'localhost'],
        ['ip', '127.0.0.1'],
        ['url', 'spiffe://cluster.local/control'],
      ],
    );
    assert.match(serving.keyPem, /BEGIN PRIVATE KEY/);
  });
});

void test('refuses bad CSRs, foreign or malformed SPIFFE IDs, bad node names and TTLs', async () => {
  await withDir(async (dir) => {
    const ca = await CertificateAuthority.open({
      stateDir: dir,
      trustDomain: 'cluster.local',
      clock: new FakeClock(),
    });
    const good = await csrFor();
    const id = 'spiffe://cluster.local/ns/default/sa/web';
    const code = (c: string) => (e: unknown) => isWeftError(e, c);
    await assert.rejects(ca.signWorkloadSvid('not a csr', id, 3600), code('WEFT_CA_INVALID_CSR'));
    const p384 = await csrFor({ name: 'ECDSA', namedCurve: 'P-384' });
    await assert.rejects(ca.signWorkloadSvid(p384, id, 3600), code('WEFT_CA_INVALID_CSR'));
    const rsa = await csrFor({
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    });
    await assert.rejects(ca.signWorkloadSvid(rsa, id, 3600), code('WEFT_CA_INVALID_CSR'));
    // Tamper with the signed body: flip one bit in the subject's CN value.
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(good).rawData);
    const at = der.indexOf(Buffer.from('ignored'));
    der[at] = der[at]! ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.signWorkloadSvid(tampered, id, 3600), code('WEFT_CA_INVALID_CSR'));
    await assert.rejects(
      ca.signWorkloadSvid(good, 'spiffe://other.td/ns/a/sa/b', 3600),
      code('WEFT_CA_INVALID_SPIFFE_ID'),
    );
    await assert.rejects(ca.signWorkloadSvid(good, id, 10), code('WEFT_CA_INVALID_TTL'));
    await assert.rejects(ca.signNodeCertificate(good, 'Bad_Name'), code('WEFT_CA_INVALID_NODE_NAME'));
  });
});

void test('validateSpiffeId follows the SPIFFE ID syntax', () => {
  assert.deepEqual(validateSpiffeId('spiffe://td.local/ns/a/sa/b', 'td.local'), {
    trustDomain: 'td.local',
    path: '/ns/a/sa/b',
  });
  for (const bad of [
    '',
    'http://td.local/x',
    'spiffe://td.local',
    'spiffe://td.local/',
    'spiffe://td.local/a//b',
    'spiffe://td.local/a/../b',
    'spiffe://td.local/a/%20',
    'spiffe://TD.local/a',
    'spiffe://td.local/a?x=1',
    'spiffe://other/a',
    'spiffe://td.local/' + 'a'.repeat(2100),
  ]) {
    assert.throws(
      () => validateSpiffeId(bad, 'td.local'),
      (e) => isWeftError(e, 'WEFT_CA_INVALID_SPIFFE_ID'),
      bad,
    );
  }
});
