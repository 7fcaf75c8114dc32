/**
 * The push stream end to end over real loopback sockets: a real CA, the attestation endpoint on
 * node:http, the gRPC push server, and the proxy-side session. Waits are conditions on Watches
 * (no sleeps, no polling); each is bounded by a timeout signal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Snapshot } from '../../src/api/index.ts';
import { PUSH_PROTO_LOADER_OPTIONS, PUSH_PROTO_PATH } from '../../src/api/index.ts';
import { createLogger, isWeftError, systemClock } from '../../src/lib/index.ts';
import {
  CertificateAuthority,
  attestHttpHandler,
  createAttestor,
  ensureJoinToken,
} from '../../src/control/ca/index.ts';
import { createPushServer } from '../../src/control/push/index.ts';
import type { PushServer } from '../../src/control/push/index.ts';
import { connectControlPlane } from '../../src/proxy/control-client/index.ts';
import { generateKeyAndCsr, spiffeIdOf } from '../../src/proxy/identity/index.ts';

const TD = 'cluster.local';
const WEB = `spiffe://${TD}/ns/default/sa/web`;
const DB = `spiffe://${TD}/ns/default/sa/db`;

function snapshot(node: string, revision: number, marker: string): Snapshot {
  const body = {
    node,
    revision,
    mesh: {
      trustDomain: TD,
      defaultPolicy: 'deny' as const,
      certTtlSeconds: 600,
      rootNamespace: 'weft-system',
      allowLogPercent: 0,
    },
    nodes: [{ name: node, address: '127.0.0.1', tunnelPort: 15008, labels: { marker } }],
    instances: [],
    localInstances: [],
    services: [],
    routes: [],
    trafficPolicies: [],
    listeners: [],
    security: { authorizationPolicies: [], peerAuthentications: [], networkPolicies: [], namespaces: [] },
  };
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { version, ...body };
}

const within = (ms = 15_000) => AbortSignal.timeout(ms);

void test('push stream: attest, snapshot + ACK, publish, NACK, SignWorkload rules, forged node, restart and resync', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-push-'));
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger({
    sink: { write: (l: string) => logLines.push(JSON.parse(l)) },
    level: 'debug',
  });
  const ca = await CertificateAuthority.open({ stateDir: dir, trustDomain: TD, clock: systemClock });
  const joinToken = await ensureJoinToken(dir);
  const current = new Map<string, Snapshot>([['node-1', snapshot('node-1', 1, 'a')]]);
  const pushOptions = {
    ca,
    snapshotFor: (node: string) => current.get(node),
    allowedIdentities: (node: string) => new Set(node === 'node-1' ? [WEB] : []),
    logger,
    clock: systemClock,
  };
  let push: PushServer = createPushServer(pushOptions);
  await push.listen('127.0.0.1', 0);

  const attestNode = createAttestor({
    ca,
    joinToken,
    nodeExists: (n) => n === 'node-1',
    pushAddress: () => push.address() ?? '',
    logger,
  });
  const handler = attestHttpHandler(attestNode, logger);
  const http = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const applied: Snapshot[] = [];
  const session = connectControlPlane({
    apiUrl,
    nodeName: 'node-1',
    joinToken,
    logger,
    clock: systemClock,
    backoff: { baseMs: 20, maxMs: 200 },
    onSnapshot: (s) => {
      if (s.nodes[0]?.labels['marker'] === 'bad') throw new Error('listener 127.2.0.1:80 conflicts');
      applied.push(s);
    },
  });

  try {
    // 1. First snapshot arrives and is acknowledged.
    const v1 = current.get('node-1')!.version;
    await session.states.until((s) => s.connected && s.version === v1, within());
    await push.statuses.until((st) => st.some((n) => n.node === 'node-1' && n.ackedVersion === v1), within());
    assert.equal(session.trustBundle(), ca.trustBundle());
    const st1 = push.status()[0]!;
    assert.equal(st1.connected, true);
    assert.equal(st1.sentVersion, v1);

    // 2. A change is pushed on publish() (no polling by the proxy).
    current.set('node-1', snapshot('node-1', 2, 'b'));
    const v2 = current.get('node-1')!.version;
    push.publish();
    await session.states.until((s) => s.version === v2, within());
    await push.statuses.until((st) => st[0]?.ackedVersion === v2, within());
    // publish() without a change sends nothing new.
    push.publish();
    assert.deepEqual(
      applied.map((s) => s.revision),
      [1, 2],
    );

    // 3. A snapshot the proxy cannot apply is NACKed with its error; the last good one stays.
    current.set('node-1', snapshot('node-1', 3, 'bad'));
    const v3 = current.get('node-1')!.version;
    push.publish();
    const nacked = await push.statuses.until((st) => st[0]?.lastNack?.version === v3, within());
    assert.match(nacked[0]!.lastNack!.error, /conflicts/);
    assert.equal(nacked[0]!.ackedVersion, v2);
    assert.equal(session.state().version, v2);

    // 4. SignWorkload: identities on the node are signed, others refused and logged.
    const { csrPem } = await generateKeyAndCsr();
    const svid = await session.signWorkload(WEB, csrPem);
    assert.equal(spiffeIdOf(svid.certificatePem), WEB);
    assert.ok(svid.notAfter > Date.now() + 500_000 && svid.notAfter <= Date.now() + 600_000);
    await assert.rejects(session.signWorkload(DB, csrPem), (e) => isWeftError(e, 'WEFT_CA_NOT_ON_NODE'));
    assert.ok(
      logLines.some(
        (l) =>
          l['msg'] === 'workload certificate refused: identity not on node' &&
          l['node'] === 'node-1' &&
          l['identity'] === DB,
      ),
    );

    // 5. A node certificate from another CA is rejected at the TLS handshake.
    const otherCa = await CertificateAuthority.open({
      stateDir: join(dir, 'other'),
      trustDomain: TD,
      clock: systemClock,
    });
    const forgedKey = await generateKeyAndCsr();
    const forged = await otherCa.signNodeCertificate(forgedKey.csrPem, 'node-1');
    const def = protoLoader.loadSync(PUSH_PROTO_PATH, { ...PUSH_PROTO_LOADER_OPTIONS });
    const Ctor = (grpc.loadPackageDefinition(def) as any).weft.push.v1
      .MeshConfigService as grpc.ServiceClientConstructor;
    const forgedClient = new Ctor(
      push.address()!,
      grpc.credentials.createSsl(
        Buffer.from(ca.trustBundle()),
        Buffer.from(forgedKey.keyPem),
        Buffer.from(forged.certificatePem),
        { checkServerIdentity: () => undefined },
      ),
      { 'grpc.ssl_target_name_override': 'localhost' },
    ) as any;
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) =>
        forgedClient.SignWorkload(
          { csrPem, spiffeId: WEB },
          { deadline: Date.now() + 5000 },
          (e: grpc.ServiceError) => resolve(e),
        ),
      );
      assert.ok(err, 'the forged client must fail');
      assert.ok(
        [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(err.code),
        `code ${err.code}`,
      );
    } finally {
      forgedClient.close();
    }
    assert.equal(push.status().length, 1, 'no session for the forged client');

    // 6. The control plane goes away; the proxy keeps its last good snapshot and retries.
    await push.close();
    await session.states.until((s) => !s.connected, within());
    assert.equal(session.state().version, v2);
    assert.equal(push.status()[0]?.connected, false);
    current.set('node-1', snapshot('node-1', 4, 'd'));
    const v4 = current.get('node-1')!.version;
    push = createPushServer(pushOptions);
    await push.listen('127.0.0.1', 0);
    // It re-attests (learning the new address), says hello with v2, and receives v4.
    await session.states.until((s) => s.connected && s.version === v4, within());
    await push.statuses.until((st) => st[0]?.ackedVersion === v4 && st[0]?.connected === true, within());
    assert.deepEqual(
      applied.map((s) => s.revision),
      [1, 2, 4],
    );

    // 7. Another restart with nothing changed: hello's lastVersion means nothing is resent.
    await push.close();
    await session.states.until((s) => !s.connected, within());
    push = createPushServer(pushOptions);
    await push.listen('127.0.0.1', 0);
    const back = await push.statuses.until((st) => st[0]?.connected === true, within());
    assert.equal(back[0]!.sentVersion, v4);
    assert.equal(back[0]!.ackedVersion, v4);
    await session.states.until((s) => s.connected, within());
    assert.equal(applied.length, 3);
  } finally {
    await session.close();
    await push.close();
    await new Promise((r) => http.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});
