import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { generateKeyAndCsr } from './keygen.ts';

function openssl(args: string[], input: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

test('the hand-built CSR is a valid PKCS#10 request: openssl verifies its self-signature', async () => {
  const { csrPem, keyPem } = await generateKeyAndCsr({
    spiffeId: 'spiffe://td.test/ns/a/sa/b',
    commonName: 'b',
  });
  const text = openssl(['req', '-verify', '-noout', '-text'], csrPem);
  assert.match(text, /Subject: O ?= ?Weft, CN ?= ?b/);
  assert.match(text, /URI:spiffe:\/\/td\.test\/ns\/a\/sa\/b/);
  assert.match(text, /ecdsa-with-SHA256/);
  // The CSR's public key is the key's own public half.
  const fromCsr = openssl(['req', '-pubkey', '-noout'], csrPem);
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' });
  assert.equal(fromCsr.trim(), String(fromKey).trim());
});

test('without a hint the CSR has no attributes and still verifies; every call makes a new key', async () => {
  const a = await generateKeyAndCsr();
  const b = await generateKeyAndCsr();
  assert.doesNotThrow(() => openssl(['req', '-verify', '-noout'], a.csrPem));
  assert.notEqual(a.keyPem, b.keyPem);
  assert.match(a.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
});
