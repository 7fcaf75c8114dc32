import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { FakeClock, createLogger, isWeftError } from '../../lib/index.ts';
import { CertificateAuthority } from './certificate-authority.ts';
import { attestHttpHandler, createAttestor, ensureJoinToken, tokensEqual } from './attestation.ts';
import { spiffeIdOfCertificate } from './x509-util.ts';

async function csr(): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as any;
  return (
    await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'O=Weft',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    })
  ).toString('pem');
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'weft-attest-'));
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ sink: { write: (l: string) => lines.push(JSON.parse(l)) }, level: 'debug' });
  const ca = await CertificateAuthority.open({
    stateDir: dir,
    trustDomain: 'cluster.local',
    clock: new FakeClock(),
  });
  const joinToken = await ensureJoinToken(dir);
  const attestNode = createAttestor({
    ca,
    joinToken,
    nodeExists: (name) => name === 'node-1',
    pushAddress: () => '127.0.0.1:15012',
    logger,
  });
  return {
    dir,
    ca,
    joinToken,
    attestNode,
    lines,
    logger,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

void test('join token is created once with mode 0600 and then reused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-token-'));
  try {
    const a = await ensureJoinToken(dir);
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(join(dir, 'join-token'))).mode & 0o777, 0o600);
    assert.equal(await ensureJoinToken(dir), a);
    assert.equal((await readFile(join(dir, 'join-token'), 'utf8')).trim(), a);
    assert.ok(tokensEqual(a, a));
    assert.ok(!tokensEqual(a, a + 'x'));
    assert.ok(!tokensEqual(a, ''));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a known node with the right token gets its node certificate, the bundle and the push address', async () => {
  const s = await setup();
  try {
    const res = await s.attestNode({ nodeName: 'node-1', joinToken: s.joinToken, csrPem: await csr() });
    assert.equal(spiffeIdOfCertificate(res.certificatePem), 'spiffe://cluster.local/node/node-1');
    assert.equal(res.trustBundlePem, s.ca.trustBundle());
    assert.equal(res.pushAddress, '127.0.0.1:15012');
  } finally {
    await s.cleanup();
  }
});

void test('a bad token or an unknown node is refused and the reason logged', async () => {
  const s = await setup();
  try {
    const refused = (e: unknown) => isWeftError(e, 'WEFT_CA_ATTESTATION_REFUSED');
    await assert.rejects(
      s.attestNode({ nodeName: 'node-1', joinToken: 'wrong', csrPem: await csr() }),
      refused,
    );
    await assert.rejects(
      s.attestNode({ nodeName: 'node-9', joinToken: s.joinToken, csrPem: await csr() }),
      refused,
    );
    const reasons = s.lines
      .filter((l) => l['msg'] === 'node attestation refused')
      .map((l) => [l['node'], l['reason']]);
    assert.deepEqual(reasons, [
      ['node-1', 'bad join token'],
      ['node-9', 'no such node'],
    ]);
  } finally {
    await s.cleanup();
  }
});

void test('the HTTP adapter answers 200, 403 with the code, and 400 for a bad body', async () => {
  const s = await setup();
  const handler = attestHttpHandler(s.attestNode, s.logger);
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const post = (path: string, body: string) =>
      fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const ok = await post(
      '/v1/nodes/node-1/attest',
      JSON.stringify({ joinToken: s.joinToken, csrPem: await csr() }),
    );
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { certificatePem: string; pushAddress: string };
    assert.equal(spiffeIdOfCertificate(body.certificatePem), 'spiffe://cluster.local/node/node-1');
    const no = await post(
      '/v1/nodes/node-1/attest',
      JSON.stringify({ joinToken: 'nope', csrPem: await csr() }),
    );
    assert.equal(no.status, 403);
    assert.equal(
      ((await no.json()) as { error: { code: string } }).error.code,
      'WEFT_CA_ATTESTATION_REFUSED',
    );
    const bad = await post('/v1/nodes/node-1/attest', '{');
    assert.equal(bad.status, 400);
    const badCsr = await post(
      '/v1/nodes/node-1/attest',
      JSON.stringify({ joinToken: s.joinToken, csrPem: 'x' }),
    );
    assert.equal(badCsr.status, 400);
    assert.equal(((await badCsr.json()) as { error: { code: string } }).error.code, 'WEFT_CA_INVALID_CSR');
  } finally {
    await new Promise((r) => server.close(r));
    await s.cleanup();
  }
});
