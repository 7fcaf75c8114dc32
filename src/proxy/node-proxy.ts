/**
 * The node proxy, assembled: control-plane session (attestation, snapshots, SVID signing), workload
 * identities, the tunnel listener, inbound and outbound paths, and the admin listener.
 *
 * A snapshot is applied in order — convert and compile (any error → NACK, last good config stays),
 * obtain SVIDs for new local instances, bind the tunnel listener, then the capture listeners — and
 * only then acknowledged. Without the control plane the proxy keeps serving on its last good config
 * and certificates; the session reconnects and resyncs by itself.
 */
import type { Snapshot } from '../api/index.ts';
import type { Clock, Logger } from '../lib/index.ts';
import { systemClock, TurnBudget } from '../lib/index.ts';
import { listenAdmin } from './admin/index.ts';
import { compileProxyAuthorizer } from './authz/index.ts';
import type { Authorizer } from '../policy/authz/index.ts';
import { compileConfig } from './config/index.ts';
import type { RuntimeConfig } from './config/index.ts';
import { connectControlPlane } from './control-client/index.ts';
import type { ControlSession } from './control-client/index.ts';
import { IdentityManager } from './identity/index.ts';
import { Inbound } from './inbound.ts';
import { Outbound } from './outbound.ts';
import { ProxyMetrics } from './telemetry/index.ts';
import { HboneClient, listenHbone } from './tunnel/index.ts';
import type { TunnelCredentials } from './tunnel/index.ts';

export interface NodeProxyOptions {
  nodeName: string;
  apiUrl: string;
  joinToken: string;
  adminHost?: string;
  /** 0 picks a free port. */
  adminPort?: number;
  logger: Logger;
  clock?: Clock;
  /**
   * How many HTTP/1.1 requests (source side) and responses (destination side) one event-loop turn
   * writes into tunnels before the rest wait for the next turn (default 16; 0 turns the bound
   * off). Node's HTTP/2 session flushes once per turn, so without a bound a burst of 64 requests
   * leaves in one write and the peer proxy idles until the last is ready; docs/architecture.md,
   * "Flushing the tunnel every few messages".
   */
  turnBudget?: number;
}

/** The default of NodeProxyOptions.turnBudget, chosen by measurement (docs/benchmarks.md). */
export const DEFAULT_TURN_BUDGET = 16;

export class NodeProxy {
  readonly #options: NodeProxyOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly metrics = new ProxyMetrics();
  #session: ControlSession | undefined;
  #identities: IdentityManager | undefined;
  #config: RuntimeConfig | undefined;
  #tunnelServer: { close(): Promise<void>; port: number } | undefined;
  #tunnelBound = '';
  #admin: { port: number; close(): Promise<void> } | undefined;
  readonly #inbound: Inbound;
  readonly #outbound: Outbound;
  readonly #tunnel: HboneClient;
  readonly #credentials: TunnelCredentials;
  #applying: Promise<void> = Promise.resolve();

  constructor(options: NodeProxyOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#credentials = {
      trustBundle: () => this.#session?.trustBundle() ?? '',
      credentials: (id) => {
        const svid = this.#identities?.current(id);
        return svid ? { keyPem: svid.keyPem, certPem: svid.chainPem } : undefined;
      },
    };
    this.#tunnel = new HboneClient(this.#credentials, this.#logger.child({ component: 'tunnel' }));
    const limit = options.turnBudget ?? DEFAULT_TURN_BUDGET;
    const turnBudget = limit > 0 ? new TurnBudget(limit) : undefined;
    this.#inbound = new Inbound({
      logger: this.#logger.child({ component: 'inbound' }),
      metrics: this.metrics,
      clock: this.#clock,
      turnBudget,
    });
    // Memory as gauges, read when /metrics is scraped: a leak shows as a rising heap, V8 growing
    // its old space as a rising RSS with a flat heap.
    this.metrics.setGauges(() => {
      const m = process.memoryUsage();
      return {
        weft_proxy_resident_memory_bytes: m.rss,
        weft_proxy_heap_used_bytes: m.heapUsed,
        weft_proxy_external_memory_bytes: m.external + m.arrayBuffers,
      };
    });
    this.#outbound = new Outbound({
      tunnel: this.#tunnel,
      logger: this.#logger.child({ component: 'outbound' }),
      metrics: this.metrics,
      clock: this.#clock,
      turnBudget,
    });
  }

  get adminPort(): number | undefined {
    return this.#admin?.port;
  }

  ready(): boolean {
    return this.#config !== undefined;
  }

  async start(): Promise<void> {
    this.#admin = await listenAdmin(
      {
        ready: () => this.ready(),
        configDump: () => ({
          node: this.#options.nodeName,
          version: this.#config?.snapshot.version ?? null,
          revision: this.#config?.snapshot.revision ?? null,
          control: this.#session?.state() ?? null,
          snapshot: this.#config?.snapshot ?? null,
        }),
        certs: () =>
          (this.#identities?.identities() ?? []).map((id) => {
            const svid = this.#identities!.current(id);
            return { spiffeId: id, notAfter: svid ? new Date(svid.notAfter).toISOString() : null };
          }),
        metrics: () => this.metrics.render(),
      },
      this.#options.adminHost ?? '127.0.0.1',
      this.#options.adminPort ?? 0,
    );
    this.#session = await connectControlPlane({
      apiUrl: this.#options.apiUrl,
      nodeName: this.#options.nodeName,
      joinToken: this.#options.joinToken,
      logger: this.#logger.child({ component: 'control' }),
      clock: this.#clock,
      onSnapshot: (s: Snapshot) => this.#onSnapshot(s),
    });
    this.#identities = new IdentityManager({
      signer: this.#session,
      clock: this.#clock,
      logger: this.#logger.child({ component: 'identity' }),
    });
  }

  /**
   * Everything that can reject a snapshot runs synchronously here, so a throw becomes a NACK and the
   * last good config stays; binding listeners and obtaining SVIDs then run in order, one snapshot at
   * a time (a failure there is logged and retried with the next snapshot).
   */
  #onSnapshot(snapshot: Snapshot): void {
    const config = compileConfig(snapshot);
    Outbound.validate(config);
    const authz = compileProxyAuthorizer(snapshot);
    this.#applying = this.#applying
      .then(() => this.#apply(snapshot, config, authz))
      .catch((err: unknown) =>
        this.#logger.error('applying config failed', { version: snapshot.version, error: err }),
      );
  }

  async #apply(snapshot: Snapshot, config: RuntimeConfig, authz: Authorizer): Promise<void> {
    await this.#inbound.setConfig(config, authz);
    while (!this.#identities) await new Promise((r) => setImmediate(r));
    const wanted = new Set<string>();
    for (const inst of config.localByAddress.values()) wanted.add(inst.spiffeId);
    // ensure() counts references: take one per identity newly wanted, drop those no longer wanted.
    const held = new Set(this.#identities.identities());
    await Promise.all([...wanted].filter((id) => !held.has(id)).map((id) => this.#identities!.ensure(id)));
    for (const id of held) if (!wanted.has(id)) this.#identities.release(id);
    const self = config.nodes.get(this.#options.nodeName);
    if (!self) throw new Error(`snapshot has no Node entry for ${this.#options.nodeName}`);
    const bindKey = `${self.address}:${self.tunnelPort}`;
    if (this.#tunnelBound !== bindKey) {
      await this.#tunnelServer?.close();
      this.#tunnelServer = await listenHbone(
        {
          credentials: this.#credentials,
          trustDomain: () => this.#config?.snapshot.mesh.trustDomain ?? snapshot.mesh.trustDomain,
          logger: this.#logger.child({ component: 'tunnel' }),
          onStream: (stream, info) => this.#inbound.onStream(stream, info),
        },
        self.address,
        self.tunnelPort,
      );
      this.#tunnelBound = bindKey;
    }
    await this.#outbound.setConfig(config, authz);
    this.#config = config;
    this.#logger.info('config applied', {
      version: snapshot.version,
      revision: snapshot.revision,
      listeners: this.#outbound.listenerCount(),
      instances: config.localByAddress.size,
    });
  }

  async stop(): Promise<void> {
    await this.#session?.close();
    this.#identities?.close();
    await this.#outbound.close();
    await this.#inbound.close();
    this.#tunnel.close();
    await this.#tunnelServer?.close();
    await this.#admin?.close();
  }
}
