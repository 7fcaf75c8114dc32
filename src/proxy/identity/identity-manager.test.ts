import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, Watch, isWeftError, silentLogger } from '../../lib/index.ts';
import { IdentityManager } from './identity-manager.ts';
import type { Svid } from './identity-manager.ts';
import { spiffeIdOf } from './keygen.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/web';
const HOUR = 3600_000;

/** A fake signer: records calls, issues 1 h certificates on the fake clock, can be told to fail. */
function fakeSigner(clock: FakeClock) {
  const calls = new Watch(0);
  let failing = false;
  return {
    calls,
    setFailing: (f: boolean) => (failing = f),
    signer: {
      signWorkload: async (spiffeId: string, csrPem: string) => {
        calls.set(calls.get() + 1);
        if (failing) throw new Error('control plane away');
        assert.match(csrPem, /BEGIN CERTIFICATE REQUEST/);
        const n = calls.get();
        return {
          certificatePem: `cert-${n}-${spiffeId}`,
          chainPem: `chain-${n}`,
          notAfter: clock.now() + HOUR,
        };
      },
    },
  };
}

void test('renews at half life with a new key; the change event fires', async () => {
  const clock = new FakeClock();
  const f = fakeSigner(clock);
  const ids = new IdentityManager({ signer: f.signer, clock, logger: silentLogger, random: () => 0.5 });
  const changes: Svid[] = [];
  ids.onChange((s) => changes.push(s));
  const first = await ids.ensure(ID);
  assert.equal(first.certPem, `cert-1-${ID}`);
  assert.match(first.keyPem, /BEGIN PRIVATE KEY/);
  clock.advance(HOUR / 2 - 1);
  assert.equal(f.calls.get(), 1, 'not renewed before half life');
  clock.advance(1);
  await f.calls.until((n) => n === 2);
  const changed = new Watch(changes.length);
  const stop = ids.onChange(() => changed.set(changes.length));
  await changed.until(() => ids.current(ID)?.certPem === `cert-2-${ID}`);
  stop();
  const second = ids.current(ID)!;
  assert.notEqual(second.keyPem, first.keyPem);
  assert.equal(second.notAfter, clock.now() + HOUR);
  assert.deepEqual(
    changes.map((c) => c.certPem),
    [`cert-1-${ID}`, `cert-2-${ID}`],
  );
  ids.close();
});

void test('a failed renewal retries with backoff while the old certificate keeps serving', async () => {
  const clock = new FakeClock();
  const f = fakeSigner(clock);
  const ids = new IdentityManager({
    signer: f.signer,
    clock,
    logger: silentLogger,
    random: () => 0.5,
    backoff: { baseMs: 1000, maxMs: 8000 },
  });
  const first = await ids.ensure(ID);
  f.setFailing(true);
  clock.advance(HOUR / 2);
  await f.calls.until((n) => n === 2);
  assert.equal(ids.current(ID), first, 'old certificate still current');
  // Drain microtasks so the failed call settles and sets its retry timer (500 ms: half the 1 s ceiling).
  await new Promise((r) => setImmediate(r));
  clock.advance(499);
  assert.equal(f.calls.get(), 2);
  clock.advance(1);
  await f.calls.until((n) => n === 3); // second failure; next ceiling 2 s → 1 s
  await new Promise((r) => setImmediate(r));
  f.setFailing(false);
  clock.advance(1000);
  await f.calls.until((n) => n === 4);
  const svids = new Watch<Svid | undefined>(ids.current(ID));
  const stop = ids.onChange((s) => svids.set(s));
  const renewed = await svids.until((s) => s?.certPem === `cert-4-${ID}`);
  stop();
  assert.ok(renewed);
  ids.close();
});

void test('ensure and release are reference-counted; release stops renewal', async () => {
  const clock = new FakeClock();
  const f = fakeSigner(clock);
  const ids = new IdentityManager({ signer: f.signer, clock, logger: silentLogger });
  await ids.ensure(ID);
  await ids.ensure(ID);
  assert.equal(f.calls.get(), 1, 'one certificate for both users');
  ids.release(ID);
  assert.deepEqual(ids.identities(), [ID]);
  ids.release(ID);
  assert.deepEqual(ids.identities(), []);
  assert.equal(ids.current(ID), undefined);
  clock.advance(2 * HOUR);
  assert.equal(f.calls.get(), 1, 'no renewal after release');
  ids.close();
});

void test('a waiter is rejected when its identity is released before issue', async () => {
  const clock = new FakeClock();
  const ids = new IdentityManager({
    signer: { signWorkload: () => new Promise(() => undefined) },
    clock,
    logger: silentLogger,
  });
  const p = ids.ensure(ID);
  ids.release(ID);
  await assert.rejects(p, (e) => isWeftError(e, 'WEFT_IDENTITY_RELEASED'));
  ids.close();
});

void test('with the real CA: the SVID names the identity and matches its key', async () => {
  // Import lazily: the CA is control-plane code, used here only as a realistic signer.
  const { CertificateAuthority } = await import('../../control/ca/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'weft-ids-'));
  try {
    const clock = new FakeClock(Date.now());
    const ca = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'cluster.local', clock });
    const ids = new IdentityManager({
      signer: {
        signWorkload: async (id, csr) => {
          const s = await ca.signWorkloadSvid(csr, id, 120);
          return { certificatePem: s.certificatePem, chainPem: s.chainPem, notAfter: s.notAfter };
        },
      },
      clock,
      logger: silentLogger,
    });
    const svid = await ids.ensure(ID);
    assert.equal(spiffeIdOf(svid.certPem), ID);
    const cert = new X509Certificate(svid.certPem);
    assert.ok(cert.checkPrivateKey(createPrivateKey(svid.keyPem)));
    assert.ok(cert.verify(new X509Certificate(ca.trustBundle()).publicKey));
    const svids = new Watch<Svid>(svid);
    ids.onChange((s) => svids.set(s));
    clock.advance(60_000);
    const next = await svids.until((s) => s.certPem !== svid.certPem);
    assert.equal(spiffeIdOf(next.certPem), ID);
    assert.ok(new X509Certificate(next.certPem).checkPrivateKey(createPrivateKey(next.keyPem)));
    ids.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
