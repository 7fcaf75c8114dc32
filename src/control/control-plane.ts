/**
 * The control plane, assembled (no logic of its own): store → mesh model → per-node snapshots →
 * push stream; the CA behind attestation and SVID signing; the HTTP API in front of the store.
 * Every committed revision rebuilds the model and publishes; proxies receive only snapshots whose
 * content changed for them.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildMeshModel,
  checkResources,
  identitiesOnNode,
  parseResourceObject,
  snapshotFor,
} from '../api/index.ts';
import type { Diagnostic, MeshModel, Resource, Snapshot } from '../api/index.ts';
import type { Clock, Logger } from '../lib/index.ts';
import { systemClock } from '../lib/index.ts';
import { CertificateAuthority, createAttestor, ensureJoinToken } from './ca/index.ts';
import { createPushServer } from './push/index.ts';
import type { PushServer } from './push/index.ts';
import { loadOrCreateToken, startControlServer } from './server/index.ts';
import type { ResourceValidator, RunningControlServer } from './server/index.ts';
import { openSqliteStore, storeFile } from './store/index.ts';
import type { Store } from './store/index.ts';

export interface ControlPlaneOptions {
  stateDir: string;
  host?: string;
  /** HTTP API port (0: any). */
  apiPort?: number;
  /** Push stream port (0: any). */
  pushPort?: number;
  /** Trust domain of a new CA; an existing CA keeps its own. */
  trustDomain?: string;
  logger: Logger;
  clock?: Clock;
}

export interface ControlPlane {
  apiUrl: string;
  pushAddress: string;
  token: string;
  joinToken: string;
  trustDomain: string;
  store: Store;
  push: PushServer;
  close(): Promise<void>;
}

/** The file client commands read to find a local control plane. */
export interface ControlFile {
  apiUrl: string;
  pushAddress: string;
  pid: number;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const token = await loadOrCreateToken(options.stateDir);
  const joinToken = await ensureJoinToken(options.stateDir);
  const store = openSqliteStore({ file: storeFile(options.stateDir), clock, logger });

  const initial = await store.list();
  const configuredTd = initial.find((r) => r.kind === 'MeshConfig')?.spec['trustDomain'];
  const ca = await CertificateAuthority.open({
    stateDir: options.stateDir,
    trustDomain: options.trustDomain ?? (typeof configuredTd === 'string' ? configuredTd : 'cluster.local'),
    clock,
  });
  const trustDomain = ca.trustDomain;

  let model: MeshModel = buildMeshModel(initial, await store.revision());
  let snapshots = new Map<string, Snapshot>();
  const snapshotOf = (node: string): Snapshot | undefined => {
    if (!model.nodes.some((n) => n.name === node)) return undefined;
    let s = snapshots.get(node);
    if (!s) snapshots.set(node, (s = snapshotFor(model, node)));
    return s;
  };

  const push = createPushServer({
    ca,
    snapshotFor: snapshotOf,
    allowedIdentities: (node) => identitiesOnNode(model, node),
    logger: logger.child({ component: 'push' }),
    clock,
  });
  const pushBound = await push.listen(host, options.pushPort ?? 0);
  const pushAddress = `${pushBound.host}:${pushBound.port}`;

  const attest = createAttestor({
    ca,
    joinToken,
    nodeExists: (name) => model.nodes.some((n) => n.name === name),
    pushAddress: () => push.address() ?? pushAddress,
    logger: logger.child({ component: 'attest' }),
  });

  const validator: ResourceValidator = {
    parseObject: (raw) => parseResourceObject(raw),
    checkAll: (resources: readonly Resource[]): Diagnostic[] => {
      const out = checkResources([...resources]);
      const mc = resources.find((r) => r.kind === 'MeshConfig');
      const td = mc?.spec['trustDomain'];
      if (typeof td === 'string' && td !== trustDomain) {
        out.push({
          severity: 'error',
          code: 'WEFT_TRUST_DOMAIN_CHANGE',
          path: 'spec.trustDomain',
          message: `the mesh CA was created for trust domain "${trustDomain}"; a running mesh cannot change it to "${td}" (start a new state directory with --trust-domain ${td})`,
        });
      }
      return out;
    },
  };

  const server: RunningControlServer = await startControlServer({
    store,
    token,
    validator,
    logger: logger.child({ component: 'api' }),
    host,
    port: options.apiPort ?? 0,
    statusProvider: () => {
      // Every Node resource is listed: one whose proxy never connected is not ready either.
      const seen = new Set(push.status().map((s) => s.node));
      const never = model.nodes
        .filter((n) => !seen.has(n.name))
        .map((n) => ({
          node: n.name,
          connected: false,
          ackedVersion: '',
          latestVersion: snapshotOf(n.name)?.version ?? '',
          lastNack: null,
          since: '',
        }));
      return [
        ...never,
        ...push.status().map((s) => ({
          node: s.node,
          connected: s.connected,
          ackedVersion: s.ackedVersion ?? '',
          latestVersion: snapshotOf(s.node)?.version ?? '',
          lastNack: s.lastNack
            ? {
                version: s.lastNack.version,
                message: s.lastNack.error,
                time: new Date(s.lastNack.at).toISOString(),
              }
            : null,
          since: new Date(s.connected ? s.connectedAt : s.lastSeen).toISOString(),
        })),
      ].sort((a, b) => (a.node < b.node ? -1 : 1));
    },
    extraRoutes: [
      {
        method: 'POST',
        path: '/v1/nodes/{name}/attest',
        auth: 'none',
        handle: async (req) => {
          const body = (req.body ?? {}) as { joinToken?: unknown; csrPem?: unknown };
          const result = await attest({
            nodeName: req.params['name'] ?? '',
            joinToken: typeof body.joinToken === 'string' ? body.joinToken : '',
            csrPem: typeof body.csrPem === 'string' ? body.csrPem : '',
          });
          return { body: result };
        },
      },
    ],
  });

  const unwatch = store.watch(model.revision, (ev) => {
    void (async () => {
      const resources = await store.list();
      model = buildMeshModel(resources, ev.revision);
      snapshots = new Map();
      if (model.captureLimit) logger.warn('loopback capture is off', { reason: model.captureLimit });
      logger.info('revision committed', { revision: ev.revision, actor: ev.actor, message: ev.message });
      push.publish();
    })().catch((err: unknown) => logger.error('rebuilding the mesh model failed', { error: err }));
  });

  const controlFile: ControlFile = { apiUrl: server.url, pushAddress, pid: process.pid };
  const file = join(options.stateDir, 'control.json');
  await writeFile(`${file}.tmp`, JSON.stringify(controlFile, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
  logger.info('control plane ready', { api: server.url, push: pushAddress, trustDomain });

  return {
    apiUrl: server.url,
    pushAddress,
    token,
    joinToken,
    trustDomain,
    store,
    push,
    close: async () => {
      unwatch();
      await server.close();
      await push.close();
      await store.close();
    },
  };
}
