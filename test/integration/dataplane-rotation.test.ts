/**
 * Data plane conformance, SVID rotation under load (SLOW-ish: ~15 s, bounded).
 *
 * MeshConfig refuses a certTtl below 10 minutes, and a proxy renews at half life, so a real renewal
 * takes 5 minutes. To see several renewals in seconds, this file runs the two proxies in the test
 * process (the control plane is still a child process, certificates are real and TLS checks real
 * time) on a clock whose long timers — the renewal timers — fire 75× sooner; short timers (call
 * timeouts, backoff) are left alone. While traffic flows without pause, every identity is renewed at
 * least twice; no request may fail, and new tunnel connections present the new certificate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import { CertificateAuthority } from '../../src/control/ca/index.ts';
import type { Clock } from '../../src/lib/index.ts';
import { systemClock } from '../../src/lib/index.ts';
import { generateKeyAndCsr } from '../../src/proxy/identity/index.ts';
import { sniForSpiffeId } from '../../src/proxy/tunnel/identity-names.ts';
import { startMesh, TUNNEL_PORT, waitFor } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, service, workload } from '../harness/resources.ts';
import { httpRequest, startEcho } from '../harness/workloads.ts';

const TD = 'dp-rotation.test';
const SPEED = 75;
/** Real time, but timers of a minute or more fire SPEED times sooner (600 s cert → renew every 4 s). */
const fastRenewals: Clock = {
  now: () => systemClock.now(),
  monotonic: () => systemClock.monotonic(),
  setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms >= 60_000 ? ms / SPEED : ms),
};

let mesh: Mesh;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 35,
    meshConfig: { certTtl: '10m' },
    inProcessClock: fastRenewals,
    resources: [
      workload('client', 'node-0'),
      workload('echo', 'node-1'),
      service('echo', [{ port: 8080 }]),
      allowFrom(TD, ['client']),
    ],
  });
  const e = await startEcho(mesh.instance('echo'), 8080);
  closers.push(() => e.close());
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
});

async function certs(admin: string): Promise<Map<string, string>> {
  const list = (await (await fetch(`${admin}/certs`)).json()) as { spiffeId: string; notAfter: string }[];
  return new Map(list.map((c) => [c.spiffeId, c.notAfter]));
}

/** The serial of the certificate node-1's tunnel presents for echo to a new connection. */
async function servingSerial(): Promise<string> {
  const ca = await CertificateAuthority.open({
    stateDir: mesh.stateDir,
    trustDomain: TD,
    clock: systemClock,
  });
  const id = `spiffe://${TD}/ns/default/sa/client`;
  const { keyPem, csrPem } = await generateKeyAndCsr({ spiffeId: id });
  const signed = await ca.signWorkloadSvid(csrPem, id, 600);
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: mesh.proxies[1]!.address,
      port: TUNNEL_PORT,
      servername: sniForSpiffeId(mesh.instance('echo').spiffeId),
      ALPNProtocols: ['h2'],
      key: keyPem,
      cert: signed.chainPem,
      rejectUnauthorized: false,
    });
    s.once('secureConnect', () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.once('error', reject);
  });
}

test('SVIDs rotate at half life under continuous load with zero failed requests', async () => {
  const target = mesh.capture('client-0', 'echo', 8080);
  const clientId = `spiffe://${TD}/ns/default/sa/client`;
  const echoId = `spiffe://${TD}/ns/default/sa/echo`;
  const first = {
    client: (await certs(mesh.proxies[0]!.admin)).get(clientId)!,
    echo: (await certs(mesh.proxies[1]!.admin)).get(echoId)!,
  };
  const serialBefore = await servingSerial();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const seen = { client: new Set<string>([first.client]), echo: new Set<string>([first.echo]) };
  const worker = async (w: number) => {
    for (let i = 0; running && i < 20_000; i++) {
      try {
        // Alternate pooled and fresh connections, so both old and new tunnel sessions carry traffic.
        const r = await httpRequest(target, `/rot/${w}/${i}`, i % 2 ? { agent } : {});
        if (r.status === 200 && r.json().caller === clientId) ok++;
        else failures.push(`${w}/${i}: HTTP ${r.status} ${r.body}`);
      } catch (err) {
        failures.push(`${w}/${i}: ${String(err)}`);
      }
    }
  };
  const load = Promise.all([0, 1, 2].map(worker));
  try {
    await waitFor(
      'two renewals of each identity',
      async () => {
        seen.client.add((await certs(mesh.proxies[0]!.admin)).get(clientId)!);
        seen.echo.add((await certs(mesh.proxies[1]!.admin)).get(echoId)!);
        return seen.client.size >= 3 && seen.echo.size >= 3;
      },
      40_000,
      200,
    );
  } finally {
    running = false;
    await load;
    agent.destroy();
  }
  assert.ok(ok > 100, `only ${ok} requests succeeded`);
  assert.deepEqual(failures, [], `failed requests:\n${failures.slice(0, 5).join('\n')}`);
  assert.notEqual(await servingSerial(), serialBefore, 'a new connection sees the renewed certificate');
});
