/**
 * Checks the CA's certificates with the real `openssl` binary, an independent X.509 implementation:
 * chain verification for TLS client and server purposes, the SPIFFE X509-SVID profile as openssl
 * prints it, and a CSR made by the proxy side (`openssl req -verify`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../src/lib/index.ts';
import { CertificateAuthority } from '../../src/control/ca/index.ts';
import { generateKeyAndCsr } from '../../src/proxy/identity/index.ts';

const run = promisify(execFile);
const openssl = async (...args: string[]) => (await run('openssl', args, { timeout: 20_000 })).stdout;

void test('openssl verifies SVIDs, node and serving certificates against the root', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-openssl-'));
  try {
    const ca = await CertificateAuthority.open({
      stateDir: dir,
      trustDomain: 'cluster.local',
      clock: systemClock,
    });
    const rootPath = join(dir, 'ca', 'root.crt');

    const rootText = await openssl('x509', '-in', rootPath, '-text', '-noout');
    assert.match(rootText, /CA:TRUE/);
    assert.match(rootText, /Certificate Sign, CRL Sign/);
    assert.match(rootText, /URI:spiffe:\/\/cluster\.local\s*$/m);
    assert.match(rootText, /Subject: O\s*=\s*Weft, CN\s*=\s*Weft root CA cluster\.local/);

    const { csrPem, keyPem } = await generateKeyAndCsr({ spiffeId: 'spiffe://cluster.local/ns/x/sa/forged' });
    const csrPath = join(dir, 'w.csr');
    await writeFile(csrPath, csrPem);
    const reqOut = await run('openssl', ['req', '-in', csrPath, '-verify', '-noout'], { timeout: 20_000 });
    assert.match(reqOut.stdout + reqOut.stderr, /verify OK/i);
    // The proxy's PKCS#8 key is readable by openssl too (Node's tls uses the same library).
    const keyPath = join(dir, 'w.key');
    await writeFile(keyPath, keyPem, { mode: 0o600 });
    assert.match(await openssl('pkey', '-in', keyPath, '-noout', '-text'), /prime256v1|P-256/);

    const svid = await ca.signWorkloadSvid(csrPem, 'spiffe://cluster.local/ns/default/sa/web', 3600);
    const svidPath = join(dir, 'svid.crt');
    await writeFile(svidPath, svid.certificatePem);
    for (const purpose of ['sslclient', 'sslserver']) {
      const out = await openssl('verify', '-CAfile', rootPath, '-purpose', purpose, svidPath);
      assert.match(out, /: OK/);
    }
    const text = await openssl('x509', '-in', svidPath, '-text', '-noout');
    assert.equal((text.match(/URI:/g) ?? []).length, 1, 'exactly one URI SAN');
    assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
    assert.doesNotMatch(text, /forged/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Subject: O\s*=\s*Weft/);
    // The public key in the certificate is the one from the CSR.
    const pubFromCert = await openssl('x509', '-in', svidPath, '-pubkey', '-noout');
    const pubFromKey = await openssl('pkey', '-in', keyPath, '-pubout');
    assert.equal(pubFromCert, pubFromKey);

    const node = await ca.signNodeCertificate((await generateKeyAndCsr()).csrPem, 'node-1');
    const nodePath = join(dir, 'node.crt');
    await writeFile(nodePath, node.certificatePem);
    assert.match(await openssl('verify', '-CAfile', rootPath, '-purpose', 'sslclient', nodePath), /: OK/);
    assert.match(
      await openssl('x509', '-in', nodePath, '-noout', '-ext', 'subjectAltName'),
      /URI:spiffe:\/\/cluster\.local\/node\/node-1/,
    );

    const serving = await ca.issueServingCertificate();
    const servingPath = join(dir, 'serving.crt');
    await writeFile(servingPath, serving.certificatePem);
    assert.match(
      await openssl(
        'verify',
        '-CAfile',
        rootPath,
        '-purpose',
        'sslserver',
        '-verify_ip',
        '127.0.0.1',
        servingPath,
      ),
      /: OK/,
    );
    assert.match(
      await openssl(
        'verify',
        '-CAfile',
        rootPath,
        '-purpose',
        'sslserver',
        '-verify_hostname',
        'localhost',
        servingPath,
      ),
      /: OK/,
    );

    // A certificate from another CA does not verify against this root.
    const otherDir = join(dir, 'other');
    const other = await CertificateAuthority.open({
      stateDir: otherDir,
      trustDomain: 'cluster.local',
      clock: systemClock,
    });
    const foreign = await other.signWorkloadSvid(csrPem, 'spiffe://cluster.local/ns/default/sa/web', 3600);
    const foreignPath = join(dir, 'foreign.crt');
    await writeFile(foreignPath, foreign.certificatePem);
    await assert.rejects(openssl('verify', '-CAfile', rootPath, foreignPath));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
