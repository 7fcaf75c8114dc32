/**
 * Outbound assembly: connections a local instance opens to its capture listeners are carried to the
 * destination's node proxy through the tunnel, presenting the caller's SVID.
 *
 *   capture listener (knows the source instance) ─┬─ tcp service:  balance → CONNECT stream → splice
 *                                                  └─ http/grpc:    parse → route → resilience → forward
 *                                                                   (HTTP/1.1 pool or HTTP/2 session per
 *                                                                    endpoint, each over CONNECT streams)
 *
 * The resilience layer (docs/resilience.md, "Wiring points"): per request — fault injection from the
 * rule's FaultInjection, the circuit breaker of the destination service, the request deadline; per
 * try — the balancer over the endpoints outlier detection and active health checks leave in
 * rotation (grouped by locality when enabled), the per-try timeout, the outcome recorded for
 * outlier detection; on failure — a Retrier created lazily, the retry budget, backoff, and another
 * endpoint. When nothing fails a request costs a few comparisons more than without it.
 *
 * Composition only: the mechanisms live in tunnel/, l4/, http/, lb/, resilience/ and policy's router.
 */
import type { Agent, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type {
  BackendRef,
  ConnectionPoolSettings,
  EndpointEntry,
  FaultInjectionSpec,
  InstanceEntry,
  ListenerEntry,
  LocalityLbSetting,
  OutlierDetection,
  RouteRule,
  ServiceEntry,
} from '../api/index.ts';
import type { Clock, Logger, Timer, TurnBudget } from '../lib/index.ts';
import { errorMessage, systemClock } from '../lib/index.ts';
// The engine's own folders, not policy/index.ts: the proxy does not load the analyser.
import { normalizePath } from '../policy/authz/index.ts';
import type { Authorizer, Decision } from '../policy/authz/index.ts';
import { compileRouter, pickWeighted } from '../policy/routing/index.ts';
import type { RouteMatchResult, Router } from '../policy/routing/index.ts';
import type { RuntimeConfig } from './config/index.ts';
import { forwardableHeaders, sniffHttp, writeChunkByChunk } from './http/index.ts';
import { DownstreamConnection, forwardResponse, headerLines, UpstreamPool } from './http1/index.ts';
import type { Exchange as FastExchange, FastRequest, HeadHeaders } from './http1/index.ts';
import { splice } from './l4/index.ts';
import { ListenerSet } from './listener/index.ts';
import { createBalancer, hashKeyFor } from './lb/index.ts';
import type { Balancer, LoadBalancerSettings } from './lb/index.ts';
import {
  breakerThresholds,
  CircuitBreaker,
  compileFault,
  decideFault,
  FAULT_HEADER,
  GRPC_NONE,
  grpcRetryPolicy,
  HealthChecker,
  httpRetryPolicy,
  OUTCOME_CONNECT_FAILURE,
  OUTCOME_RESET,
  OUTCOME_TIMEOUT,
  OutlierDetector,
  outlierConfig,
  OVERLOADED_HEADER,
  parseHealthCheckAnnotation,
  pickPriority,
  planLocality,
  POOL_TIMEOUT_DEFAULTS,
  poolTimeouts,
  ReplayBody,
  Retrier,
  RetryBudget,
  routeTimeouts,
  TimeoutError,
  tryTimeoutMs,
  withTimeout,
} from './resilience/index.ts';
import type {
  BreakerResource,
  CompiledFault,
  FaultDecision,
  HealthCheckConfig,
  PoolTimeouts,
  RetryPolicy,
  RouteTimeouts,
} from './resilience/index.ts';

type LbEndpointEntry = EndpointEntry & { key: string };
import type { HboneClient } from './tunnel/index.ts';
import type { ProxyMetrics } from './telemetry/index.ts';
import { applyFilters, localReply } from './routing/index.ts';

// Not `import … from 'node:http'`, which loads undici (~4 MB): docs/architecture.md, "Proxy memory".
const http = process.getBuiltinModule('node:http');

/**
 * Headers only proxies may set for each other: a workload's own values are dropped, so it cannot
 * pick the rate-limit service, the route name, or pass as a health probe at the destination.
 */
function withoutInternalHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  delete headers[ROUTE_HEADER];
  delete headers[SERVICE_HEADER];
  delete headers[PROBE_HEADER];
  return headers;
}

/** Request header that turns on debug response headers (`x-weft-attempts`). */
export const DEBUG_HEADER = 'x-weft-debug';
/** Response header with the number of tries made, in debug mode. */
export const ATTEMPTS_HEADER = 'x-weft-attempts';
/** Set by the destination proxy on a 503 when the local instance refused the connection. */
export const UPSTREAM_ERROR_HEADER = 'x-weft-upstream-error';
/** Header the destination proxy reads to apply `key: Route` rate-limit descriptors. */
export const ROUTE_HEADER = 'x-weft-route';
/**
 * The destination service the caller addressed: an instance port can back several services, and
 * the destination proxy applies that service's rate limits.
 */
export const SERVICE_HEADER = 'x-weft-service';
/** Marks an active health probe; the destination proxy answers it without authorization. */
export const PROBE_HEADER = 'x-weft-probe';

/**
 * Resilience state of one destination service, kept across config changes so that breaker counts,
 * ejections, health and the retry budget survive a push; settings are updated in place.
 */
class ClusterState {
  readonly key: string;
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget;
  pool: PoolTimeouts;
  outlier: OutlierDetector | undefined;
  outlierSpec = '';
  health: HealthChecker | undefined;
  healthSpec = '';
  /** Bumped on every ejection/return/health change, so plans can tell their view is stale. */
  generation = 0;
  constructor(key: string, cp: ConnectionPoolSettings | undefined, clock: Clock) {
    this.key = key;
    this.breaker = new CircuitBreaker(key, breakerThresholds(cp));
    this.budget = new RetryBudget({ clock });
    this.pool = poolTimeouts(cp);
  }
  close(): void {
    this.outlier?.close();
    this.health?.close();
  }
}

/** The compiled resilience settings of one route rule (or of a service without routes). */
interface RulePolicy {
  retry: RetryPolicy;
  timeouts: RouteTimeouts;
  /** Undefined: no fault; null: the ExtensionRef names no FaultInjection (answered 500). */
  fault: CompiledFault | undefined | null;
  faultName: string;
}

const HTTP_DEFAULT_POLICY: RulePolicy = Object.freeze({
  retry: httpRetryPolicy(undefined),
  timeouts: routeTimeouts(undefined),
  fault: undefined,
  faultName: '',
});
const GRPC_DEFAULT_POLICY: RulePolicy = Object.freeze({
  ...HTTP_DEFAULT_POLICY,
  retry: grpcRetryPolicy(),
});

interface ServicePlan {
  service: ServiceEntry;
  cluster: ClusterState;
  /** Every endpoint of the service. */
  all: LbEndpointEntry[];
  balancer: Balancer<LbEndpointEntry>;
  hashPolicy: LoadBalancerSettings | undefined;
  lbPolicy: LoadBalancerSettings | undefined;
  /** The endpoints in rotation the balancers were last built for (identity compared). */
  view: readonly LbEndpointEntry[] | undefined;
  /** Locality-aware balancing (Istio: needs outlier detection or, in Weft, a health check). */
  locality: { caller: string; setting: LocalityLbSetting | undefined } | undefined;
  /** Per priority level: balancer and traffic share (set when there is more than one level). */
  levels: Balancer<LbEndpointEntry>[] | undefined;
  loads: number[];
}

/** Per-config caches, rebuilt when a new snapshot arrives. */
class OutboundTables {
  readonly routers = new Map<string, Router>();
  readonly plans = new Map<string, ServicePlan>();
  readonly rules = new WeakMap<RouteRule, RulePolicy>();
  readonly config: RuntimeConfig;
  readonly authz: Authorizer;
  constructor(config: RuntimeConfig, authz: Authorizer) {
    this.config = config;
    this.authz = authz;
  }
}

/** The result of one try: a response (commit or discard it) or a local error outcome. */
interface TryResult {
  /** HTTP status of the response; 0 when the try failed locally. */
  status: number;
  /** The outcome for the classifier: the status, or an OUTCOME_* constant. */
  outcome: number;
  /** grpc-status of a trailers-only response, else GRPC_NONE. */
  grpc: number;
  error: unknown;
  /** Forward this response to the caller, with extra headers. */
  commit?: (extra: Record<string, string> | undefined) => void;
  /** Throw this response away (a retry follows). */
  discard?: () => void;
}

/** What the resilience loop needs of the response side: Node's response classes and the fast path's. */
interface ResponseState {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** The request body as the retry decision sees it. */
interface RetryableBody {
  /** Body size when it can be sent again; -1 when it cannot. */
  replayableBytes(): number;
  /** The current try failed: stop feeding it. */
  detach(): void;
}

/** The request fields routing and hashing read, whichever server parsed the request. */
interface RequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: HeadHeaders;
}

/** One request being forwarded, whatever its protocol: what #run needs to drive the tries. */
interface Exchange {
  tables: OutboundTables;
  ctx: ConnContext;
  plan: ServicePlan;
  targetPort: number;
  hashKey: string | undefined;
  policy: RulePolicy;
  method: string;
  path: string;
  debug: boolean;
  body: RetryableBody;
  res: ResponseState;
  srcSvc: string;
  reply: (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => void;
  send: (ep: LbEndpointEntry, signal: AbortSignal) => Promise<TryResult>;
  abort: (fault: FaultDecision, headers: Record<string, string>) => void;
}

export interface OutboundOptions {
  tunnel: HboneClient;
  logger: Logger;
  metrics: ProxyMetrics;
  random?: () => number;
  /** For route timeouts (default: the system clock). */
  clock?: Clock;
  /** Shared with the inbound side: how many requests one event-loop turn writes into tunnels. */
  turnBudget?: TurnBudget;
}

interface ConnContext {
  listener: ListenerEntry;
  source: InstanceEntry;
  /** Metric labels of the connection's (source, destination service), built at its first request. */
  metricsKey?: string;
}

export class Outbound {
  readonly #tunnel: HboneClient;
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #turnBudget: TurnBudget | undefined;
  #tables: OutboundTables | undefined;
  readonly #listeners: ListenerSet;
  readonly #sockets = new Set<net.Socket>();
  readonly #h1 = http.createServer({ noDelay: true, keepAliveTimeout: 300_000 });
  readonly #h2 = http2.createServer({ settings: { enablePush: false } });
  readonly #connContext = new WeakMap<object, ConnContext>();
  #pendingH2: ConnContext | undefined;
  readonly #h2SessionContext = new WeakMap<http2.Http2Session, ConnContext>();
  /** Keep-alive CONNECT streams of the HTTP/1.1 fast path, per (source identity, endpoint). */
  readonly #pool = new UpstreamPool();
  /** One HTTP/1.1 keep-alive pool per source identity; connections are CONNECT streams. */
  readonly #agents = new Map<string, Agent>();
  /** One HTTP/2 session per (source identity, endpoint), running over a CONNECT stream. */
  readonly #h2Sessions = new Map<string, http2.ClientHttp2Session>();
  readonly #inflight = new Map<string, number>();
  /** Resilience state per destination service `ns/name`, kept across configs. */
  readonly #clusters = new Map<string, ClusterState>();
  /** DestinationRule connectTimeout by endpoint address (the pool's createConnection knows only that). */
  readonly #connectMs = new Map<string, number>();

  constructor(options: OutboundOptions) {
    this.#tunnel = options.tunnel;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
    this.#turnBudget = options.turnBudget;
    this.#listeners = new ListenerSet('capture listener', this.#logger, (socket, key) =>
      this.#onConnection(socket, key),
    );
    this.#h1.on('request', (req, res) => this.#onH1Request(req, res));
    this.#h1.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket as net.Socket, head));
    this.#h1.on('clientError', (_err, socket) => socket.destroy());
    this.#h2.on('session', (session) => {
      if (this.#pendingH2) this.#h2SessionContext.set(session, this.#pendingH2);
      session.on('error', () => undefined);
    });
    this.#h2.on('request', (req, res) => this.#onH2Request(req, res));
  }

  /** Apply a new config: bind new capture listeners, close the ones that went away. */
  async setConfig(config: RuntimeConfig, authz: Authorizer): Promise<void> {
    this.#tables = new OutboundTables(config, authz);
    this.#updateClusters(config);
    await this.#listeners.reconcile(config.listeners);
  }

  listenerCount(): number {
    return this.#listeners.size;
  }

  async close(): Promise<void> {
    for (const c of this.#clusters.values()) c.close();
    this.#clusters.clear();
    this.#listeners.close();
    for (const s of this.#sockets) s.destroy();
    for (const a of this.#agents.values()) a.destroy();
    for (const s of this.#h2Sessions.values()) s.destroy();
    this.#pool.close();
  }

  #onConnection(socket: net.Socket, key: string): void {
    socket.on('error', () => undefined);
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    const tables = this.#tables;
    const listener = tables?.config.listeners.get(key);
    const source = listener ? tables!.config.instances.get(listener.source) : undefined;
    if (!tables || !listener || !source) {
      socket.destroy();
      return;
    }
    const ctx: ConnContext = { listener, source };
    if (listener.protocol === 'tcp') {
      this.#l4(socket, ctx, tables);
      return;
    }
    sniffHttp(socket, (sniffed) => {
      this.#connContext.set(sniffed.stream, ctx);
      if (sniffed.protocol === 'h2') {
        this.#pendingH2 = ctx;
        this.#h2.emit('connection', sniffed.stream);
        this.#pendingH2 = undefined;
      } else {
        // HTTP/1.1 takes the fast path; a request it declines hands the connection to #h1.
        new DownstreamConnection(
          sniffed.stream,
          (req, ex) => this.#fastRequest(ctx, req, ex),
          (stream, reason) => {
            this.#metrics.inc('weft_proxy_http1_full_path_total', `direction="outbound",reason="${reason}"`);
            this.#h1.emit('connection', stream);
          },
          this.#turnBudget,
        );
      }
    });
  }

  /**
   * Validate the resilience settings a config carries (health-check annotations, pool settings) so a
   * bad one is NACKed with the rest of the snapshot. Throws WeftError.
   */
  static validate(config: RuntimeConfig): void {
    for (const svc of config.services.values())
      if (svc.healthCheck !== undefined) parseHealthCheckAnnotation(svc.healthCheck);
  }

  /** Carry resilience state over to a new config: update settings, drop services that went away. */
  #updateClusters(config: RuntimeConfig): void {
    for (const [key, c] of this.#clusters) {
      const svc = config.services.get(key);
      if (!svc) {
        c.close();
        this.#clusters.delete(key);
        continue;
      }
      this.#configureCluster(c, config, svc);
    }
  }

  #cluster(config: RuntimeConfig, svc: ServiceEntry, key: string): ClusterState {
    let c = this.#clusters.get(key);
    if (c) return c;
    c = new ClusterState(key, trafficPolicyOf(config, key)?.connectionPool, this.#clock);
    this.#clusters.set(key, c);
    this.#configureCluster(c, config, svc);
    return c;
  }

  #configureCluster(c: ClusterState, config: RuntimeConfig, svc: ServiceEntry): void {
    const tp = trafficPolicyOf(config, c.key);
    c.breaker.update(breakerThresholds(tp?.connectionPool));
    c.pool = poolTimeouts(tp?.connectionPool);
    for (const e of svc.endpoints) this.#connectMs.set(e.address, c.pool.connectMs);
    const keys = svc.endpoints.map((e) => `${e.namespace}/${e.instance}`);
    const od = tp?.outlierDetection;
    const odSpec = od ? JSON.stringify(od) : '';
    if (odSpec !== c.outlierSpec) {
      c.outlier?.close();
      c.outlierSpec = odSpec;
      c.outlier = od
        ? new OutlierDetector(outlierConfig(od), this.#clock, (e) => {
            c.generation++;
            this.#metrics.inc('weft_proxy_outlier_events_total', `destination="${c.key}",type="${e.type}"`);
            this.#logger.info('outlier detection', { destination: c.key, ...e });
          })
        : undefined;
    }
    c.outlier?.setEndpoints(keys);
    const hcSpec = svc.healthCheck ?? '';
    if (hcSpec !== c.healthSpec) {
      c.health?.close();
      c.healthSpec = hcSpec;
      c.health = hcSpec
        ? new HealthChecker(
            parseHealthCheckAnnotation(hcSpec),
            this.#clock,
            (key, hc, signal) => this.#probe(c.key, key, hc, signal),
            (e) => {
              c.generation++;
              this.#metrics.inc('weft_proxy_health_events_total', `destination="${c.key}",type="${e.type}"`);
              this.#logger.info('health check', { destination: c.key, ...e });
            },
          )
        : undefined;
    }
    c.health?.setEndpoints(keys);
  }

  #plan(tables: OutboundTables, serviceKey: string): ServicePlan | undefined {
    const plan = tables.plans.get(serviceKey);
    if (plan) return plan;
    const service = tables.config.services.get(serviceKey);
    if (!service) return undefined;
    const tp = trafficPolicyOf(tables.config, serviceKey);
    const lbPolicy = tp?.loadBalancer as LoadBalancerSettings | undefined;
    const endpoints: LbEndpointEntry[] = service.endpoints.map((e) => ({
      ...e,
      key: `${e.namespace}/${e.instance}`,
    }));
    const cluster = this.#cluster(tables.config, service, serviceKey);
    const self = tables.config.nodes.get(tables.config.snapshot.node);
    const caller = self ? localityOfLabels(self.labels) : '';
    const setting = tp?.loadBalancer?.localityLbSetting;
    // Istio applies locality load balancing only where outlier detection can see failures; Weft
    // also accepts an active health check. `enabled: false` turns it off.
    const localityOn =
      caller !== '' &&
      setting?.enabled !== false &&
      (tp?.outlierDetection !== undefined || service.healthCheck !== undefined);
    const created: ServicePlan = {
      service,
      cluster,
      all: endpoints,
      balancer: this.#newBalancer(lbPolicy, endpoints),
      hashPolicy: lbPolicy?.consistentHash ? lbPolicy : undefined,
      lbPolicy,
      view: undefined,
      locality: localityOn ? { caller, setting } : undefined,
      levels: undefined,
      loads: [],
    };
    tables.plans.set(serviceKey, created);
    return created;
  }

  #newBalancer(lbPolicy: LoadBalancerSettings | undefined, endpoints: readonly LbEndpointEntry[]) {
    return createBalancer<LbEndpointEntry>(lbPolicy, endpoints, {
      random: this.#random,
      inflight: (e) => this.#inflight.get(e.key) ?? 0,
    });
  }

  /**
   * One endpoint for one try: from the endpoints outlier detection and health checks leave in
   * rotation (the views are cached arrays: on the success path this is two identity checks), by
   * locality level when enabled. `avoid` (the previous try's endpoint) is avoided when another is
   * available, as Istio's default `previous_hosts` retry predicate does.
   */
  #pick(
    plan: ServicePlan,
    hashKey: string | undefined,
    avoid: string | undefined,
  ): LbEndpointEntry | undefined {
    const c = plan.cluster;
    let view: readonly LbEndpointEntry[] = plan.all;
    if (c.outlier !== undefined) view = c.outlier.filter(view);
    if (c.health !== undefined) view = c.health.filter(view);
    if (view !== plan.view) this.#rebuild(plan, view);
    let balancer = plan.balancer;
    if (plan.levels !== undefined) {
      const level = pickPriority(plan.loads, this.#random());
      balancer = plan.levels[level < 0 ? 0 : level] ?? balancer;
    }
    let ep = balancer.pick({ hashKey });
    for (let i = 0; i < 3 && avoid !== undefined && ep !== undefined && ep.key === avoid; i++)
      ep = balancer.pick({});
    return ep;
  }

  #rebuild(plan: ServicePlan, view: readonly LbEndpointEntry[]): void {
    plan.view = view;
    if (plan.locality !== undefined) {
      const inRotation = new Set(view.map((e) => e.key));
      const lp = planLocality(
        plan.all,
        plan.locality.caller,
        (k) => inRotation.has(k),
        plan.locality.setting,
      );
      if (lp.levels.length > 1) {
        plan.levels = lp.levels.map((l, i) =>
          this.#newBalancer(plan.lbPolicy, lp.healthy[i]!.length > 0 ? lp.healthy[i]! : l.endpoints),
        );
        plan.loads = lp.loads;
        return;
      }
    }
    plan.levels = undefined;
    plan.balancer.update(view);
  }

  /** The compiled retry, timeout and fault settings of a matched rule (cached per rule). */
  #rulePolicy(tables: OutboundTables, match: RouteMatchResult | undefined, grpc: boolean): RulePolicy {
    if (match === undefined) return grpc ? GRPC_DEFAULT_POLICY : HTTP_DEFAULT_POLICY;
    const rule = match.rule;
    let p = tables.rules.get(rule);
    if (p) return p;
    let fault: CompiledFault | undefined | null;
    let faultName = '';
    for (const f of rule.filters) {
      if (f.type !== 'ExtensionRef' || f.extensionRef.kind !== 'FaultInjection') continue;
      faultName = `${match.route.namespace}/${f.extensionRef.name}`;
      const spec = tables.config.faultInjections.get(faultName);
      // Gateway API: a filter reference that cannot be resolved must not be skipped; the requests
      // it would have processed get an error response (HTTPRouteFilter, ExtensionRef).
      fault = spec ? compileFault(spec as FaultInjectionSpec) : null;
    }
    const isGrpc = match.route.kind === 'GRPCRoute';
    p = {
      retry: isGrpc ? grpcRetryPolicy() : httpRetryPolicy(rule.retry),
      timeouts: routeTimeouts(rule.timeouts),
      fault,
      faultName,
    };
    tables.rules.set(rule, p);
    return p;
  }

  /**
   * An active health probe of one endpoint, through the tunnel like any call (the endpoint's address
   * is only reachable on its own node): a CONNECT stream presenting the identity of a local
   * instance, then `GET path` marked with PROBE_HEADER, which the destination proxy answers without
   * authorization. TCP probes only need the CONNECT to be accepted.
   */
  #probe(clusterKey: string, key: string, hc: HealthCheckConfig, signal: AbortSignal): Promise<boolean> {
    const tables = this.#tables;
    const svc = tables?.config.services.get(clusterKey);
    const ep = svc?.endpoints.find((e) => `${e.namespace}/${e.instance}` === key);
    const source = tables ? firstLocal(tables.config) : undefined;
    const port = svc?.ports[0]?.targetPort;
    if (!tables || !svc || !ep || !source || port === undefined) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let stream: Duplex;
      try {
        stream = this.#tunnelStream(tables, source, ep, port, { [PROBE_HEADER]: 'health' });
      } catch {
        resolve(false);
        return;
      }
      signal.addEventListener('abort', () => stream.destroy(), { once: true });
      stream.on('error', () => resolve(false));
      (stream as http2.ClientHttp2Stream).once('response', (h) => {
        if (Number(h[':status']) !== 200) {
          stream.destroy();
          resolve(false);
          return;
        }
        if (hc.type === 'tcp') {
          stream.destroy();
          resolve(true);
          return;
        }
        const req = http.request(
          {
            createConnection: () => socketShim(writeChunkByChunk(stream)),
            host: ep.address,
            port,
            path: hc.path,
            headers: { [PROBE_HEADER]: 'health', 'user-agent': 'weft-health-check', connection: 'close' },
          },
          (res) => {
            res.resume();
            const st = res.statusCode ?? 0;
            resolve(st >= 200 && st < 400);
            res.on('end', () => stream.destroy());
          },
        );
        req.on('error', () => resolve(false));
        req.end();
      });
    });
  }

  #router(tables: OutboundTables, ns: string, name: string, port: number): Router {
    const key = `${ns}/${name}:${port}`;
    let router = tables.routers.get(key);
    if (!router) {
      router = compileRouter(tables.config.snapshot.routes, { namespace: ns, name, port });
      tables.routers.set(key, router);
    }
    return router;
  }

  /**
   * A CONNECT stream to `ep` through its node's proxy. It fails with ETIMEDOUT when the tunnel does
   * not accept it within the DestinationRule's connectTimeout (default 10 s).
   */
  #tunnelStream(
    tables: OutboundTables,
    source: InstanceEntry,
    ep: EndpointEntry,
    port: number,
    extra?: Record<string, string>,
  ): Duplex {
    const node = tables.config.nodes.get(ep.node);
    if (!node) throw new Error(`endpoint ${ep.instance} is on unknown node ${ep.node}`);
    const stream = this.#tunnel.connect(
      {
        nodeAddress: node.address,
        nodePort: node.tunnelPort,
        destinationIdentity: ep.spiffeId,
        sourceIdentity: source.spiffeId,
      },
      `${ep.address}:${port}`,
      extra
        ? { 'x-weft-source': `${source.namespace}/${source.name}`, ...extra }
        : { 'x-weft-source': `${source.namespace}/${source.name}` },
    );
    const connectMs = this.#connectMs.get(ep.address) ?? POOL_TIMEOUT_DEFAULTS.connectMs;
    const timer = this.#clock.setTimeout(() => {
      const err = new Error(`tunnel to ${ep.instance} not established within ${connectMs} ms`);
      (err as NodeJS.ErrnoException).code = 'ETIMEDOUT';
      stream.destroy(err);
    }, connectMs);
    stream.once('response', () => timer.cancel());
    stream.once('close', () => timer.cancel());
    return stream;
  }

  /** Kubernetes NetworkPolicy egress of the calling instance, decided where the call starts. */
  #egress(tables: OutboundTables, ctx: ConnContext, ep: EndpointEntry, targetPort: number): Decision {
    return tables.authz.checkEgress(
      { namespace: ctx.source.namespace, name: ctx.source.workload },
      { ip: ep.address, namespace: ep.namespace, labels: ep.labels, name: ep.workload },
      targetPort,
      'TCP',
    );
  }

  #targetPort(service: ServiceEntry, port: number): number | undefined {
    return service.ports.find((p) => p.port === port)?.targetPort;
  }

  // ---- L4 -------------------------------------------------------------------------------------

  #l4(socket: net.Socket, ctx: ConnContext, tables: OutboundTables): void {
    const svcKey = `${ctx.listener.service.namespace}/${ctx.listener.service.name}`;
    const labels = this.#metrics.key({ source: ctx.source.spiffeId, destination: svcKey });
    const plan = this.#plan(tables, svcKey);
    const ep = plan ? this.#pick(plan, socket.remoteAddress, undefined) : undefined;
    const targetPort = plan ? this.#targetPort(plan.service, ctx.listener.port) : undefined;
    if (!plan || !ep || targetPort === undefined) {
      this.#metrics.inc('weft_proxy_connections_total', `${labels},result="no_endpoint"`);
      this.#logger.warn('no endpoint for service', { service: svcKey, source: ctx.source.name });
      socket.destroy();
      return;
    }
    const egress = this.#egress(tables, ctx, ep, targetPort);
    if (!egress.allowed) {
      this.#metrics.inc('weft_proxy_denied_total', `${labels},layer="networkpolicy-egress"`);
      this.#logger.info('authz decision', {
        decision: 'deny',
        source: ctx.source.spiffeId,
        destination: svcKey,
        port: targetPort,
        policy: egress.policy,
        reason: egress.reason,
      });
      socket.destroy();
      return;
    }
    let stream: Duplex;
    try {
      stream = this.#tunnelStream(tables, ctx.source, ep, targetPort);
    } catch (err) {
      this.#metrics.inc('weft_proxy_connections_total', `${labels},result="tunnel_error"`);
      this.#logger.warn('tunnel unavailable', { service: svcKey, error: err });
      socket.destroy();
      return;
    }
    (stream as http2.ClientHttp2Stream).on('response', (headers) => {
      const status = Number(headers[':status']);
      if (status !== 200) {
        this.#metrics.inc('weft_proxy_connections_total', `${labels},result="refused_${status}"`);
        const deniedBy = headers['x-weft-denied-by'];
        this.#logger.info('connection refused by destination', { service: svcKey, status, deniedBy });
        socket.destroy();
        stream.destroy();
      }
    });
    this.#metrics.inc('weft_proxy_connections_total', `${labels},result="opened"`);
    splice(
      socket,
      stream,
      (stats) => {
        this.#metrics.inc('weft_proxy_bytes_total', 'direction="sent"', stats.bytesAtoB);
        this.#metrics.inc('weft_proxy_bytes_total', 'direction="received"', stats.bytesBtoA);
      },
      { toB: this.#turnBudget },
    );
  }

  // ---- L7 -------------------------------------------------------------------------------------

  /** Route and balance one request; undefined with a local reply already sent when it cannot go on. */
  #resolve(
    tables: OutboundTables,
    ctx: ConnContext,
    req: RequestLike,
    reply: (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => void,
  ):
    | { redirect: RouteMatchResult }
    | {
        targetPort: number;
        plan: ServicePlan;
        match: RouteMatchResult | undefined;
        svcKey: string;
        hashKey: string | undefined;
      }
    | undefined {
    const svc = ctx.listener.service;
    const router = this.#router(tables, svc.namespace, svc.name, ctx.listener.port);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    // Routes match the normalised path, the same one authorization sees at the destination.
    const normalized = normalizePath(url);
    if (!normalized.ok) {
      reply(400, { error: 'bad request path', reason: normalized.reason });
      return undefined;
    }
    const path = normalized.path;
    const query = q < 0 ? '' : url.slice(q + 1);
    const headers = req.headers;
    const host = String(headers[':authority'] ?? headers['host'] ?? '');
    let match: RouteMatchResult | undefined;
    let backend = { namespace: svc.namespace, name: svc.name, port: ctx.listener.port };
    if (router.hasRoutes) {
      match = router.match({
        method: req.method ?? 'GET',
        path,
        query,
        host,
        header: (n) => {
          const v = headers[n];
          return Array.isArray(v) ? v.join(',') : v;
        },
      });
      if (!match) {
        reply(404, { error: 'no route matches', service: `${svc.namespace}/${svc.name}`, path });
        return undefined;
      }
      // A redirect rule answers locally and needs no backend (Gateway API HTTPRequestRedirectFilter);
      // the caller applies it through applyFilters.
      if (match.rule.filters.some((f) => f.type === 'RequestRedirect')) return { redirect: match };
      const ref = pickWeighted(match.backends, this.#random);
      if (!ref) {
        reply(500, {
          error: 'route has no backend with weight > 0',
          route: `${match.route.namespace}/${match.route.name}`,
        });
        return undefined;
      }
      backend = { namespace: ref.namespace, name: ref.name, port: ref.port ?? ctx.listener.port };
    }
    const svcKey = `${backend.namespace}/${backend.name}`;
    const plan = this.#plan(tables, svcKey);
    if (!plan) {
      reply(503, { error: 'backend service does not exist', service: svcKey });
      return undefined;
    }
    const targetPort = this.#targetPort(plan.service, backend.port);
    if (targetPort === undefined) {
      reply(503, { error: `service has no port ${backend.port}`, service: svcKey });
      return undefined;
    }
    const hashKey = plan.hashPolicy
      ? hashKeyFor(plan.hashPolicy, {
          header: (n: string) => {
            const v = headers[n];
            return Array.isArray(v) ? v.join(',') : v;
          },
          query: (n: string) => new URLSearchParams(query).get(n) ?? undefined,
          cookie: (n: string) => cookieValue(headers['cookie'] as string | undefined, n),
          sourceIp: ctx.source.address,
        })
      : undefined;
    return { targetPort, plan, match, svcKey, hashKey };
  }

  /**
   * Pick the endpoint of one try and check the caller's NetworkPolicy egress to it. Undefined with a
   * local reply sent when there is none or egress denies it.
   */
  #endpointFor(
    tables: OutboundTables,
    ctx: ConnContext,
    plan: ServicePlan,
    targetPort: number,
    hashKey: string | undefined,
    avoid: string | undefined,
    reply: (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => void,
  ): LbEndpointEntry | undefined {
    const ep = this.#pick(plan, hashKey, avoid);
    if (!ep) {
      reply(503, { error: 'no healthy endpoint', service: plan.cluster.key });
      return undefined;
    }
    const egress = this.#egress(tables, ctx, ep, targetPort);
    if (!egress.allowed) {
      reply(
        403,
        { error: 'access denied', policy: egress.policy ?? null, rule: null, reason: egress.reason },
        { 'x-weft-denied-by': egress.policy ?? 'networkpolicy' },
      );
      return undefined;
    }
    return ep;
  }

  /** Per-request metric labels and the function that records the outcome and latency. */
  #requestMetrics(ctx: ConnContext): { srcSvc: string; finish(code: number): void } {
    const started = performance.now();
    const srcSvc = (ctx.metricsKey ??= this.#metrics.key({
      source: ctx.source.spiffeId,
      destination: `${ctx.listener.service.namespace}/${ctx.listener.service.name}`,
    }));
    return {
      srcSvc,
      finish: (code) => {
        this.#metrics.inc('weft_proxy_requests_total', this.#metrics.withCode(srcSvc, code));
        this.#metrics.observe('weft_proxy_request_duration_ms', srcSvc, performance.now() - started);
      },
    };
  }

  /**
   * What both HTTP versions do before forwarding: route and balance, answer redirects and filter
   * replies locally, build the forwarded headers (the proxies' own headers set here and only here),
   * mirror, and look up the rule's resilience policy. Undefined when the request was answered.
   */
  #prepare(
    tables: OutboundTables,
    ctx: ConnContext,
    req: IncomingMessage | http2.Http2ServerRequest,
    res: ServerResponse | http2.Http2ServerResponse,
    reply: (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => void,
    finish: (code: number) => void,
    grpc: boolean,
  ) {
    const target = this.#resolve(tables, ctx, req, reply);
    if (!target) return undefined;
    if ('redirect' in target) {
      applyFilters(target.redirect, req, {}, res, ctx.listener.port);
      finish(res.statusCode);
      return undefined;
    }
    // HTTP/2 keeps `te: trailers` end to end (gRPC needs it).
    const headers = withoutInternalHeaders(forwardableHeaders(req.headers, req.httpVersionMajor === 2));
    const filtered = applyFilters(target.match, req, headers, res, ctx.listener.port);
    if (filtered.done) {
      finish(res.statusCode);
      return undefined;
    }
    const ruleName = target.match?.rule.name;
    if (ruleName !== undefined) headers[ROUTE_HEADER] = ruleName;
    headers[SERVICE_HEADER] = target.svcKey;
    this.#mirror(tables, ctx, target.match, req, headers, filtered.path);
    return { target, headers, filtered, policy: this.#rulePolicy(tables, target.match, grpc) };
  }

  #onH1Request(req: IncomingMessage, res: ServerResponse): void {
    const ctx = this.#connContext.get(req.socket);
    const tables = this.#tables;
    if (!ctx || !tables) {
      res.writeHead(503).end();
      return;
    }
    const { srcSvc, finish } = this.#requestMetrics(ctx);
    const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      if (res.headersSent || res.destroyed) return;
      localReply(res, status, body, headers);
      finish(status);
    };
    const prepared = this.#prepare(tables, ctx, req, res, reply, finish, false);
    if (!prepared) return;
    const { target, headers, filtered, policy } = prepared;
    const agent = this.#agent(ctx.source);
    const method = req.method ?? 'GET';
    const knownEmpty =
      req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    const body = new ReplayBody(req, policy.retry.maxBufferedBodyBytes, knownEmpty);
    const ex: Exchange = {
      tables,
      ctx,
      plan: target.plan,
      targetPort: target.targetPort,
      hashKey: target.hashKey,
      policy,
      method,
      path: filtered.path,
      debug: req.headers[DEBUG_HEADER] === '1',
      body,
      res,
      srcSvc,
      reply,
      send: (ep, signal) =>
        new Promise<TryResult>((resolve) => {
          const upstream = http.request({
            agent,
            host: ep.address,
            port: target.targetPort,
            method,
            path: filtered.path,
            headers,
          });
          const onAbort = () => upstream.destroy();
          signal.addEventListener('abort', onAbort, { once: true });
          let committed = false;
          upstream.on('error', (err) => {
            resolve({ status: 0, outcome: errorOutcome(err), grpc: GRPC_NONE, error: err });
            // After this try's response was forwarded, an upstream error cuts it short.
            if (committed && !res.writableFinished) res.destroy();
          });
          upstream.once('response', (ures) => {
            signal.removeEventListener('abort', onAbort);
            const status = ures.statusCode ?? 502;
            resolve({
              status,
              outcome:
                status === 503 && ures.headers[UPSTREAM_ERROR_HEADER] === 'connect'
                  ? OUTCOME_CONNECT_FAILURE
                  : status,
              grpc: GRPC_NONE,
              error: undefined,
              discard: () => {
                ures.resume();
                upstream.destroy();
              },
              commit: (extra) => {
                committed = true;
                const out = forwardableHeaders(ures.headers);
                filtered.responseHeaders(out);
                if (extra !== undefined) Object.assign(out, extra);
                res.writeHead(status, out);
                ures.pipe(res);
                ures.on('end', () => finish(status));
              },
            });
          });
          body.attach(upstream);
          res.once('close', () => {
            if (!res.writableFinished) upstream.destroy();
          });
        }),
      abort: (fault, extra) =>
        reply(fault.abortHttp || 500, { error: 'fault injected', fault: policy.faultName }, extra),
    };
    void this.#run(ex);
  }

  /**
   * An HTTP/1.1 request on the fast path (docs/architecture.md, "The HTTP/1.1 fast path"): routed,
   * balanced and driven through the same resilience loop as #onH1Request, but parsed by http1's
   * codec and forwarded over pooled CONNECT streams without Node's HTTP machinery. Returns false,
   * having answered nothing, when the matched rule has filters (redirects, rewrites, header changes,
   * mirrors, faults): those requests, and the rest of the connection, go to #h1.
   */
  #fastRequest(ctx: ConnContext, req: FastRequest, ex: FastExchange): boolean | string {
    const tables = this.#tables;
    if (!tables) return 'no config';
    const head = req.head;
    const { srcSvc, finish } = this.#requestMetrics(ctx);
    const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      if (ex.headersSent || ex.destroyed) return;
      ex.replyJson(status, body, headers);
      finish(status);
    };
    const target = this.#resolve(tables, ctx, head, reply);
    if (target === undefined) return true;
    if ('redirect' in target || (target.match !== undefined && target.match.rule.filters.length > 0))
      return 'route filters';
    const headers = withoutInternalHeaders(forwardableHeaders(head.headers));
    const ruleName = target.match?.rule.name;
    if (ruleName !== undefined) headers[ROUTE_HEADER] = ruleName;
    headers[SERVICE_HEADER] = target.svcKey;
    const method = head.method;
    const text = `${method} ${head.url} HTTP/1.1\r\n${headerLines(headers)}\r\n`;
    const data = req.body === undefined ? text : Buffer.concat([Buffer.from(text, 'latin1'), req.body]);
    const bodyBytes = req.body?.length ?? 0;
    const x: Exchange = {
      tables,
      ctx,
      plan: target.plan,
      targetPort: target.targetPort,
      hashKey: target.hashKey,
      policy: this.#rulePolicy(tables, target.match, false),
      method,
      path: head.url,
      debug: head.headers[DEBUG_HEADER] === '1',
      body: { replayableBytes: () => bodyBytes, detach: () => undefined },
      res: ex,
      srcSvc,
      reply,
      send: (ep, signal) =>
        this.#fastSend(tables, ctx.source, ep, target.targetPort, data, method, ex, finish, signal),
      abort: (fault, extra) =>
        reply(fault.abortHttp || 500, { error: 'fault injected', fault: x.policy.faultName }, extra),
    };
    void this.#run(x);
    return true;
  }

  /** One try of a fast-path request: a pooled CONNECT stream to `ep`, the request, the response head. */
  #fastSend(
    tables: OutboundTables,
    source: InstanceEntry,
    ep: LbEndpointEntry,
    port: number,
    data: string | Buffer,
    method: string,
    ex: FastExchange,
    finish: (code: number) => void,
    signal: AbortSignal,
  ): Promise<TryResult> {
    let up;
    try {
      up = this.#pool.acquire(`${source.spiffeId}|${ep.address}:${port}`, () =>
        this.#fastTunnel(tables, source, ep, port),
      );
    } catch (err) {
      return Promise.resolve({ status: 0, outcome: OUTCOME_CONNECT_FAILURE, grpc: GRPC_NONE, error: err });
    }
    const conn = up;
    const onAbort = () => conn.discard();
    signal.addEventListener('abort', onAbort, { once: true });
    return conn.send(data, method === 'HEAD').then(
      (r): TryResult => {
        signal.removeEventListener('abort', onAbort);
        const status = r.head.status;
        return {
          status,
          outcome:
            status === 503 && r.head.headers[UPSTREAM_ERROR_HEADER] === 'connect'
              ? OUTCOME_CONNECT_FAILURE
              : status,
          grpc: GRPC_NONE,
          error: undefined,
          discard: () => conn.discard(),
          commit: (extra) => {
            ex.once('close', () => {
              if (ex.finished) finish(status);
            });
            // A client gone mid-response leaves the upstream mid-message: it cannot be reused.
            ex.once('close', () => {
              if (!ex.finished) conn.discard();
            });
            forwardResponse(conn, r, ex, extra);
          },
        };
      },
      (err: unknown): TryResult => {
        signal.removeEventListener('abort', onAbort);
        return { status: 0, outcome: errorOutcome(err), grpc: GRPC_NONE, error: err };
      },
    );
  }

  /** A CONNECT stream for the fast path's pool; a refusal by the destination proxy fails the try. */
  #fastTunnel(tables: OutboundTables, source: InstanceEntry, ep: EndpointEntry, port: number): Duplex {
    const stream = writeChunkByChunk(this.#tunnelStream(tables, source, ep, port));
    (stream as http2.ClientHttp2Stream).once('response', (h) => {
      const status = Number(h[':status']);
      if (status === 200) return;
      const err = new Error(
        `the destination proxy refused the stream: ${status} ${String(h['x-weft-denied-by'] ?? h['x-weft-error'] ?? '')}`,
      );
      (err as NodeJS.ErrnoException).code = 'ECONNRESET';
      stream.destroy(err);
    });
    return stream;
  }

  /**
   * One request through the resilience layer (docs/resilience.md, "Wiring points"): fault, breaker,
   * deadline; then tries until one succeeds, the policy or budget says stop, or time runs out.
   * Never rejects: every failure ends in a response to the caller.
   */
  async #run(x: Exchange): Promise<void> {
    const { policy, plan, res } = x;
    const cluster = plan.cluster;
    let faultFlag: Record<string, string> | undefined;
    if (policy.fault !== undefined) {
      if (policy.fault === null) {
        x.reply(500, {
          error: `FaultInjection ${policy.faultName} named by the route rule does not exist`,
        });
        return;
      }
      const d = decideFault(policy.fault, this.#random);
      if (d.delayMs > 0) {
        this.#fault(x, 'delay', 'DI');
        faultFlag = { [FAULT_HEADER]: 'delay' };
        await this.#sleep(d.delayMs);
        if (res.destroyed) return;
      }
      if (d.abortHttp > 0 || d.abortGrpc >= 0) {
        this.#fault(x, 'abort', 'FI');
        x.abort(d, { [FAULT_HEADER]: faultFlag ? 'delay,abort' : 'abort' });
        return;
      }
    }
    const breaker = cluster.breaker;
    if (!breaker.tryAcquire('requests')) return this.#overloaded(x, 'requests');
    // HTTP/1.1 has one request per connection: requests beyond maxConnections wait for one, and
    // those beyond maxConnections + http1MaxPendingRequests are refused (Envoy's pending queue).
    let pending = false;
    if (breaker.activeRequests > breaker.thresholds.maxConnections) {
      if (!breaker.tryAcquire('pendingRequests')) {
        breaker.release('requests');
        return this.#overloaded(x, 'pendingRequests');
      }
      pending = true;
    }
    let liveKey: string | undefined;
    let requestTimer: Timer | undefined;
    let expired = false;
    let ac: AbortController | undefined;
    res.once('close', () => {
      breaker.release('requests');
      if (pending) breaker.release('pendingRequests');
      requestTimer?.cancel();
      if (liveKey !== undefined) this.#inflightAdd(liveKey, -1);
      liveKey = undefined;
      ac?.abort();
    });
    cluster.budget.recordRequest();
    const requestMs = policy.timeouts.requestMs;
    const deadline = requestMs > 0 ? this.#clock.monotonic() + requestMs : 0;
    if (requestMs > 0) {
      ac = new AbortController();
      const controller = ac;
      requestTimer = this.#clock.setTimeout(() => {
        expired = true;
        controller.abort(new TimeoutError('request', requestMs));
        if (!res.headersSent)
          x.reply(504, { error: 'upstream request timeout', service: cluster.key, timeoutMs: requestMs });
        else res.destroy();
      }, requestMs);
    }
    let retrier: Retrier | undefined;
    let avoid: string | undefined;
    let retryHeld = false;
    // Bounded: every pass either returns or takes one of policy.attempts retries.
    for (let attempt = 1; attempt <= policy.retry.attempts + 1; attempt++) {
      const ep = this.#endpointFor(x.tables, x.ctx, plan, x.targetPort, x.hashKey, avoid, x.reply);
      if (!ep) break;
      const tryMs = tryTimeoutMs(policy.timeouts, deadline, deadline === 0 ? 0 : this.#clock.monotonic());
      this.#inflightAdd(ep.key, 1);
      liveKey = ep.key;
      let r: TryResult;
      try {
        r = await withTimeout((signal) => x.send(ep, signal), tryMs, this.#clock, 'try', ac?.signal);
      } catch (err) {
        r = {
          status: 0,
          outcome: err instanceof TimeoutError && !expired ? OUTCOME_TIMEOUT : errorOutcome(err),
          grpc: GRPC_NONE,
          error: err,
        };
      }
      if (retryHeld) {
        breaker.release('retries');
        retryHeld = false;
      }
      if (expired || res.destroyed) {
        r.discard?.();
        return;
      }
      cluster.outlier?.record(ep.key, r.outcome);
      let final =
        policy.retry.attempts === 0 || policy.retry.classifier.classify(r.outcome, r.grpc) === 'success';
      if (!final) {
        retrier ??= new Retrier(policy.retry, cluster.budget, this.#random, this.#clock);
        const d = retrier.decide(x.method, r.outcome, r.grpc, x.body.replayableBytes());
        if (!d.retry) {
          if (d.reason === 'budget') this.#retryMetric(x, 'budget_exhausted');
          final = true;
        } else if (!breaker.tryAcquire('retries')) {
          this.#retryMetric(x, 'overflow');
          final = true;
        } else {
          retryHeld = true;
          this.#retryMetric(x, 'retried');
          r.discard?.();
          x.body.detach();
          this.#inflightAdd(ep.key, -1);
          liveKey = undefined;
          avoid = ep.key;
          if (d.delayMs > 0) await this.#sleep(d.delayMs);
          if (expired || res.destroyed) {
            breaker.release('retries');
            return;
          }
          continue;
        }
      }
      const extra =
        x.debug || faultFlag !== undefined
          ? { ...faultFlag, ...(x.debug ? { [ATTEMPTS_HEADER]: String(attempt) } : {}) }
          : undefined;
      if (r.commit !== undefined) {
        r.commit(extra);
        return;
      }
      this.#inflightAdd(ep.key, -1);
      liveKey = undefined;
      if (r.outcome === OUTCOME_TIMEOUT)
        x.reply(504, { error: 'upstream request timeout', service: cluster.key, timeoutMs: tryMs }, extra);
      else
        x.reply(
          503,
          { error: 'upstream unavailable', service: cluster.key, cause: errorMessage(r.error) },
          extra,
        );
      return;
    }
  }

  #inflightAdd(key: string, by: number): void {
    this.#inflight.set(key, (this.#inflight.get(key) ?? 0) + by);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }

  #overloaded(x: Exchange, resource: BreakerResource): void {
    this.#metrics.inc(
      'weft_proxy_overloaded_total',
      `destination="${x.plan.cluster.key}",resource="${resource}"`,
    );
    x.reply(
      503,
      {
        error: 'overloaded',
        service: x.plan.cluster.key,
        resource,
        limit: x.plan.cluster.breaker.limit(resource),
      },
      { [OVERLOADED_HEADER]: resource },
    );
  }

  #retryMetric(x: Exchange, result: 'retried' | 'budget_exhausted' | 'overflow'): void {
    this.#metrics.inc('weft_proxy_retries_total', `destination="${x.plan.cluster.key}",result="${result}"`);
  }

  /** Injected faults are counted and logged with Envoy's response flags (DI, FI). */
  #fault(x: Exchange, kind: 'delay' | 'abort', flag: 'DI' | 'FI'): void {
    this.#metrics.inc('weft_proxy_faults_injected_total', `${x.srcSvc},kind="${kind}"`);
    this.#logger.info('fault injected', {
      flag,
      kind,
      fault: x.policy.faultName,
      source: x.ctx.source.spiffeId,
      destination: x.plan.cluster.key,
      request: `${x.method} ${x.path}`,
    });
  }

  /**
   * RequestMirror (Gateway API HTTPRequestMirrorFilter): a copy of the request goes to the mirror
   * backend, fire and forget — its answer and its failures are discarded and never delay or change
   * the caller's response. `percent` (default 100) of requests are mirrored. Like Envoy, the copy's
   * Host/:authority gets a `-shadow` suffix so the mirror can tell copies apart.
   */
  #mirror(
    tables: OutboundTables,
    ctx: ConnContext,
    match: RouteMatchResult | undefined,
    req: IncomingMessage | http2.Http2ServerRequest,
    headers: OutgoingHttpHeaders,
    path: string,
  ): void {
    if (!match) return;
    for (const f of match.rule.filters) {
      if (f.type !== 'RequestMirror') continue;
      const percent = f.requestMirror.percent ?? 100;
      if (percent <= 0 || (percent < 100 && this.#random() * 100 >= percent)) continue;
      try {
        this.#sendMirror(tables, ctx, f.requestMirror.backendRef, req, headers, path);
      } catch (err) {
        this.#metrics.inc('weft_proxy_errors_total', 'kind="mirror"');
        this.#logger.debug('mirror failed', { error: err });
      }
    }
  }

  #sendMirror(
    tables: OutboundTables,
    ctx: ConnContext,
    ref: BackendRef,
    req: IncomingMessage | http2.Http2ServerRequest,
    headers: OutgoingHttpHeaders,
    path: string,
  ): void {
    const plan = this.#plan(tables, `${ref.namespace}/${ref.name}`);
    const targetPort = plan ? this.#targetPort(plan.service, ref.port ?? ctx.listener.port) : undefined;
    const ep = plan ? this.#pick(plan, undefined, undefined) : undefined;
    if (!plan || !ep || targetPort === undefined) {
      this.#metrics.inc('weft_proxy_errors_total', 'kind="mirror_no_endpoint"');
      return;
    }
    const host = String(req.headers[':authority'] ?? req.headers.host ?? ref.name);
    const shadowHost = host.replace(/^([^:]*)/, '$1-shadow');
    const onError = () => this.#metrics.inc('weft_proxy_errors_total', 'kind="mirror"');
    if (req instanceof http.IncomingMessage) {
      const copy = http.request({
        agent: this.#agent(ctx.source),
        host: ep.address,
        port: targetPort,
        method: req.method,
        path,
        headers: { ...headers, host: shadowHost },
      });
      copy.on('response', (r) => r.resume());
      copy.on('error', onError);
      req.pipe(copy);
      return;
    }
    const session = this.#h2Session(tables, ctx.source, ep, targetPort);
    const copy = session.request({
      ...headers,
      ':method': req.method,
      ':path': path,
      ':authority': shadowHost,
      ':scheme': 'http',
    });
    copy.on('response', () => copy.resume());
    copy.on('error', onError);
    req.pipe(copy);
  }

  #agent(source: InstanceEntry): Agent {
    let agent = this.#agents.get(source.spiffeId);
    if (agent) return agent;
    agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, keepAliveMsecs: 30_000 });
    // Every pooled "socket" is a CONNECT stream to the endpoint's node proxy.
    (agent as unknown as { createConnection: unknown }).createConnection = (
      options: { host?: string; port?: number | string },
      cb: (err: Error | null, s?: Duplex) => void,
    ) => {
      const tables = this.#tables;
      const ep = tables?.config.endpointsByAddress.get(String(options.host));
      if (!tables || !ep) {
        cb(new Error(`no endpoint at ${options.host}`));
        return undefined;
      }
      try {
        // The client's batched writes must reach the HTTP/2 stream one by one (see sniff.ts).
        return socketShim(writeChunkByChunk(this.#tunnelStream(tables, source, ep, Number(options.port))));
      } catch (err) {
        cb(err as Error);
        return undefined;
      }
    };
    this.#agents.set(source.spiffeId, agent);
    return agent;
  }

  #onH2Request(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
    const ctx = this.#h2SessionContext.get(req.stream.session!);
    const tables = this.#tables;
    if (!ctx || !tables) {
      res.writeHead(503).end();
      return;
    }
    const isGrpc = String(req.headers['content-type'] ?? '').startsWith('application/grpc');
    const { srcSvc, finish } = this.#requestMetrics(ctx);
    const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      if (res.headersSent || res.stream.closed) return;
      if (isGrpc) grpcReply(res, status, String(body['error'] ?? ''), headers);
      else localReply(res, status, body, headers);
      finish(status);
    };
    const prepared = this.#prepare(tables, ctx, req, res, reply, finish, isGrpc);
    if (!prepared) return;
    const { target, headers, filtered, policy } = prepared;
    const method = req.method;
    const authority = req.headers[':authority'] as string | undefined;
    const body = new ReplayBody(req, policy.retry.maxBufferedBodyBytes, false);
    const ex: Exchange = {
      tables,
      ctx,
      plan: target.plan,
      targetPort: target.targetPort,
      hashKey: target.hashKey,
      policy,
      method,
      path: filtered.path,
      debug: req.headers[DEBUG_HEADER] === '1',
      body,
      res,
      srcSvc,
      reply,
      send: (ep, signal) =>
        new Promise<TryResult>((resolve) => {
          let upstream: http2.ClientHttp2Stream;
          try {
            const session = this.#h2Session(tables, ctx.source, ep, target.targetPort);
            upstream = session.request({
              ...headers,
              ':method': method,
              ':path': filtered.path,
              ':authority': authority ?? ep.address,
              ':scheme': 'http',
            });
          } catch (err) {
            resolve({ status: 0, outcome: OUTCOME_CONNECT_FAILURE, grpc: GRPC_NONE, error: err });
            return;
          }
          const cancel = () => {
            if (!upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
          };
          signal.addEventListener('abort', cancel, { once: true });
          let committed = false;
          upstream.on('error', (err) => {
            resolve({ status: 0, outcome: errorOutcome(err), grpc: GRPC_NONE, error: err });
            if (committed && !res.stream.closed) res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          });
          upstream.on('close', () => {
            // Closed without response headers (RST_STREAM): a reset.
            resolve({ status: 0, outcome: OUTCOME_RESET, grpc: GRPC_NONE, error: new Error('stream reset') });
          });
          upstream.once('response', (h, flags) => {
            signal.removeEventListener('abort', cancel);
            const status = Number(h[':status'] ?? 502);
            const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
            const gs = endStream && h['grpc-status'] !== undefined ? Number(h['grpc-status']) : GRPC_NONE;
            resolve({
              status,
              outcome:
                status === 503 && h[UPSTREAM_ERROR_HEADER] === 'connect' ? OUTCOME_CONNECT_FAILURE : status,
              grpc: Number.isInteger(gs) ? gs : GRPC_NONE,
              error: undefined,
              discard: cancel,
              commit: (extra) => {
                committed = true;
                const out = forwardableHeaders(h);
                filtered.responseHeaders(out);
                if (extra !== undefined) Object.assign(out, extra);
                if (endStream) {
                  // Trailers-only response (how gRPC sends an error): END_STREAM must stay on the
                  // HEADERS frame, or the client waits for trailers that never come (gRPC over
                  // HTTP/2, "Responses").
                  res.stream.respond({ ...out, ':status': status }, { endStream: true });
                  finish(status);
                  return;
                }
                res.writeHead(status, out);
                upstream.on('trailers', (t) => res.addTrailers(forwardableHeaders(t)));
                upstream.pipe(res);
                upstream.on('end', () => finish(status));
              },
            });
          });
          body.attach(upstream);
          res.once('close', cancel);
        }),
      abort: (fault, extra) => {
        if (isGrpc && fault.abortGrpc >= 0) {
          if (res.stream.closed) return;
          res.stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': String(fault.abortGrpc),
              'grpc-message': encodeURIComponent(`fault injected by ${policy.faultName}`),
              ...extra,
            },
            { endStream: true },
          );
          finish(200);
          return;
        }
        reply(fault.abortHttp || 500, { error: 'fault injected', fault: policy.faultName }, extra);
      },
    };
    void this.#run(ex);
  }

  #h2Session(
    tables: OutboundTables,
    source: InstanceEntry,
    ep: EndpointEntry,
    port: number,
  ): http2.ClientHttp2Session {
    const key = `${source.spiffeId}|${ep.address}:${port}`;
    const existing = this.#h2Sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const stream = this.#tunnelStream(tables, source, ep, port);
    const session = http2.connect(`http://${ep.address}:${port}`, {
      createConnection: () => stream,
      settings: { enablePush: false },
    });
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.#h2Sessions.get(key) === session) this.#h2Sessions.delete(key);
    });
    this.#h2Sessions.set(key, session);
    return session;
  }

  // ---- WebSocket and other HTTP/1.1 upgrades: route, then a raw tunnel stream -----------------

  #onUpgrade(req: IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', () => undefined);
    const ctx = this.#connContext.get(req.socket);
    const tables = this.#tables;
    if (!ctx || !tables) {
      socket.destroy();
      return;
    }
    const reply = (status: number, body: Record<string, unknown>) => {
      const text = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    };
    const target = this.#resolve(tables, ctx, req, reply);
    if (!target) return;
    if ('redirect' in target) {
      reply(400, { error: 'the matching rule redirects; an upgrade request cannot follow a redirect' });
      return;
    }
    const ep = this.#endpointFor(
      tables,
      ctx,
      target.plan,
      target.targetPort,
      target.hashKey,
      undefined,
      reply,
    );
    if (!ep) return;
    let stream: Duplex;
    try {
      stream = this.#tunnelStream(tables, ctx.source, ep, target.targetPort);
    } catch (err) {
      reply(503, { error: 'tunnel unavailable', cause: errorMessage(err) });
      return;
    }
    stream.write(rawRequestHead(req));
    if (head.length > 0) stream.write(head);
    splice(socket, stream);
  }
}

/** The DestinationRule trafficPolicy of a service, if any. */
function trafficPolicyOf(
  config: RuntimeConfig,
  key: string,
):
  | {
      connectionPool?: ConnectionPoolSettings;
      outlierDetection?: OutlierDetection;
      loadBalancer?: LoadBalancerSettings & { localityLbSetting?: LocalityLbSetting };
    }
  | undefined {
  return config.trafficPolicies.get(key)?.trafficPolicy as ReturnType<typeof trafficPolicyOf>;
}

/** `region/zone/subzone` from Kubernetes/Istio topology labels ('' when no region). */
function localityOfLabels(labels: Record<string, string>): string {
  const region = labels['topology.kubernetes.io/region'] ?? '';
  if (region === '') return '';
  return [region, labels['topology.kubernetes.io/zone'] ?? '', labels['topology.istio.io/subzone'] ?? '']
    .join('/')
    .replace(/\/+$/, '');
}

/** Some local instance whose identity health probes can present. */
function firstLocal(config: RuntimeConfig): InstanceEntry | undefined {
  for (const i of config.localByAddress.values()) return i;
  return undefined;
}

/** A local error before response headers → an outcome: no connection (nothing sent) or a reset. */
function errorOutcome(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH'
    ? OUTCOME_CONNECT_FAILURE
    : OUTCOME_RESET;
}

function rawRequestHead(req: IncomingMessage): string {
  let s = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    s += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return s + '\r\n';
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** gRPC errors travel as trailers-only responses with HTTP 200 (gRPC over HTTP/2 spec). */
function grpcReply(
  res: http2.Http2ServerResponse,
  httpStatus: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  // HTTP → gRPC status mapping from the gRPC spec (doc/http-grpc-status-mapping.md).
  const code =
    httpStatus === 403 ? 7 : httpStatus === 404 ? 12 : httpStatus === 503 ? 14 : httpStatus === 429 ? 14 : 2;
  res.stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': encodeURIComponent(message),
      ...extra,
    },
    { endStream: true },
  );
}

/**
 * Node's HTTP client pool expects net.Socket methods on what createConnection returns; a CONNECT
 * stream is a Duplex without them. The keep-alive and Nagle knobs have no meaning on a stream.
 */
function socketShim(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>;
  s['setKeepAlive'] ??= () => s;
  s['setNoDelay'] ??= () => s;
  s['ref'] ??= () => s;
  s['unref'] ??= () => s;
  s['setTimeout'] ??= () => s;
  return s;
}
