/**
 * Inbound assembly: CONNECT streams arriving through the tunnel are checked against the local
 * instances, authorized with the shared engine (policy/authz), and delivered in plain text to the
 * instance — piped for TCP services, parsed for HTTP/gRPC services so that request-level policy
 * applies and the verified caller identity reaches the workload in `x-forwarded-client-cert`
 * (always replacing whatever the caller sent).
 *
 * Rate limits (RateLimitPolicy) are enforced here, at the destination's proxy: it sees every caller
 * of its instances, knows the verified caller identity, and only requests authorization admitted
 * consume a budget. A refusal is 429 with `retry-after` and `x-ratelimit-*`; admitted requests carry
 * the `x-ratelimit-*` headers of the rule closest to its limit.
 *
 * Composition only: mechanisms live in tunnel/, l4/, http/, ratelimit/, resilience/ (the health-check
 * annotation) and policy's authorization engine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { InstanceEntry, RateLimitPolicySpec, ServiceEntry } from '../api/index.ts';
import type { Clock, Logger, TurnBudget } from '../lib/index.ts';
import { errorMessage, systemClock } from '../lib/index.ts';
import { normalizePath, prepareConnection } from '../policy/authz/index.ts';
import type {
  Authorizer,
  Decision,
  PeerInfo,
  PreparedConnection,
  WorkloadAuthorizer,
} from '../policy/authz/index.ts';
import type { InboundPort, RuntimeConfig } from './config/index.ts';
import { forwardableHeaders, sniffHttp, xfccValue } from './http/index.ts';
import { DownstreamConnection, forwardResponse, headerLines, UpstreamPool } from './http1/index.ts';
import type {
  Exchange as FastExchange,
  FastRequest,
  HeadHeaders,
  UpstreamConnection,
} from './http1/index.ts';
import { splice } from './l4/index.ts';
import { ListenerSet } from './listener/index.ts';
import { RateLimiter, RedisGcraStore, RespClient } from './ratelimit/index.ts';
import type { RateLimitResult } from './ratelimit/index.ts';
import { isIdempotent, parseHealthCheckAnnotation } from './resilience/index.ts';
import { localReply } from './routing/index.ts';
import type { ProxyMetrics } from './telemetry/index.ts';
import type { TunnelStreamInfo } from './tunnel/index.ts';

// Not `import … from 'node:http'`, which loads undici (~4 MB): docs/architecture.md, "Proxy memory".
const http = process.getBuiltinModule('node:http');

interface InboundContext {
  instance: InstanceEntry;
  port: number;
  inbound: InboundPort;
  /** Verified SPIFFE ID of the caller; undefined for plaintext from outside the mesh. */
  peerIdentity: string | undefined;
  peerAddress: string;
  authorizer: WorkloadAuthorizer;
  metricsKey: string;
  /** The caller as NetworkPolicy sees it (labels only when its instance is known and proven). */
  peer?: PeerInfo;
  /** The connection as the authorization engine reads it, parsed at its first request. */
  prepared?: PreparedConnection;
}

/** Headers the source proxy adds for this proxy only (see outbound.ts); never forwarded. */
const ROUTE_HEADER = 'x-weft-route';
const SERVICE_HEADER = 'x-weft-service';
const PROBE_HEADER = 'x-weft-probe';
const UPSTREAM_ERROR_HEADER = 'x-weft-upstream-error';

/** The request fields authorization, rate limits and forwarding read, whichever server parsed it. */
interface RequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: HeadHeaders;
}

interface PolicyLimiter {
  /** `ns/name` of the RateLimitPolicy. */
  id: string;
  /** The spec it was built from (JSON), to keep counters across pushes that do not change it. */
  spec: string;
  limiter: RateLimiter;
  metricsKey: string;
}

export interface InboundOptions {
  logger: Logger;
  metrics: ProxyMetrics;
  clock?: Clock;
  /** Log allowed decisions too (denials are always logged). */
  logAllowed?: boolean;
  /** Uniform in [0, 1), for sampling allowed decisions into the log (default Math.random). */
  random?: () => number;
  /** Shared with the outbound side: how many responses one event-loop turn writes into tunnels. */
  turnBudget?: TurnBudget;
}

export class Inbound {
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #logAllowed: boolean;
  readonly #random: () => number;
  #config: RuntimeConfig | undefined;
  #authz: Authorizer | undefined;
  readonly #h1 = http.createServer({ noDelay: true, keepAliveTimeout: 300_000 });
  readonly #h2 = http2.createServer({ settings: { enablePush: false } });
  readonly #ctx = new WeakMap<object, InboundContext>();
  #pendingH2: InboundContext | undefined;
  readonly #h2Ctx = new WeakMap<http2.Http2Session, InboundContext>();
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 256 });
  /** Keep-alive connections to local instances for the HTTP/1.1 fast path, per instance address:port. */
  readonly #pool: UpstreamPool;
  readonly #turnBudget: TurnBudget | undefined;
  readonly #h2Upstreams = new Map<string, http2.ClientHttp2Session>();
  readonly #streams = new Set<Duplex>();
  readonly #l4 = new Set<{ ctx: InboundContext; peer: PeerInfo; close(): void }>();
  readonly #plaintext: ListenerSet;
  #plaintextTargets = new Map<string, { instance: InstanceEntry; port: number; inbound: InboundPort }>();
  readonly #clock: Clock;
  /** Rate limiters by destination service `ns/name`. */
  #limiters = new Map<string, PolicyLimiter[]>();
  /** One Redis client per address, shared by the global policies that name it. */
  readonly #redis = new Map<string, { client: RespClient; store: RedisGcraStore }>();
  /** Health-check path of services that opted in, for probes answered without authorization. */
  readonly #probePaths = new WeakMap<ServiceEntry, string | null>();

  constructor(options: InboundOptions) {
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? systemClock;
    this.#logAllowed = options.logAllowed ?? false;
    this.#random = options.random ?? Math.random;
    this.#turnBudget = options.turnBudget;
    this.#pool = new UpstreamPool({ turnBudget: options.turnBudget });
    this.#plaintext = new ListenerSet('plaintext inbound listener', this.#logger, (socket, key) =>
      this.#onPlaintext(socket, key),
    );
    this.#h1.on('request', (req, res) => this.#onH1Request(req, res));
    this.#h1.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    this.#h1.on('clientError', (_err, socket) => socket.destroy());
    this.#h2.on('session', (session) => {
      if (this.#pendingH2) this.#h2Ctx.set(session, this.#pendingH2);
      session.on('error', () => undefined);
    });
    this.#h2.on('request', (req, res) => this.#onH2Request(req, res));
  }

  /**
   * Switch to a new config and its compiled authorizer (both built before the snapshot was ACKed),
   * and bind the plaintext listeners of the local instances (one per instance and served port).
   */
  async setConfig(config: RuntimeConfig, authz: Authorizer): Promise<void> {
    this.#config = config;
    this.#authz = authz;
    this.#recheckL4(authz);
    this.#updateLimiters(config);
    const targets = new Map<string, { instance: InstanceEntry; port: number; inbound: InboundPort }>();
    for (const [key, list] of config.inboundPorts) {
      const colon = key.lastIndexOf(':');
      const instance = config.localByAddress.get(key.slice(0, colon));
      const inbound = pickInbound(list);
      if (!instance || !inbound) continue;
      const port = Number(key.slice(colon + 1));
      targets.set(`${instance.plaintextAddress}:${port}`, { instance, port, inbound });
    }
    this.#plaintextTargets = targets;
    await this.#plaintext.reconcile(
      new Map([...targets].map(([key, t]) => [key, { address: t.instance.plaintextAddress, port: t.port }])),
    );
  }

  /** Build the rate limiters of a new config, keeping those whose policy did not change. */
  #updateLimiters(config: RuntimeConfig): void {
    const old = new Map<string, PolicyLimiter>();
    for (const list of this.#limiters.values()) for (const l of list) old.set(l.id, l);
    const next = new Map<string, PolicyLimiter[]>();
    const usedRedis = new Set<string>();
    for (const [svcKey, policies] of config.rateLimitPolicies) {
      const list: PolicyLimiter[] = [];
      for (const p of policies) {
        const id = `${p.namespace}/${p.name}`;
        const spec = p.spec as unknown as RateLimitPolicySpec;
        const address = spec.mode === 'global' ? spec.redis?.address : undefined;
        if (address !== undefined) usedRedis.add(address);
        const json = JSON.stringify(p.spec);
        const prev = old.get(id);
        if (prev && prev.spec === json) {
          list.push(prev);
          continue;
        }
        list.push({
          id,
          spec: json,
          limiter: new RateLimiter(id, spec, this.#clock, address ? this.#redisStore(address) : undefined),
          metricsKey: `destination="${svcKey}",policy="${id}"`,
        });
      }
      next.set(svcKey, list);
    }
    this.#limiters = next;
    for (const [address, r] of this.#redis) {
      if (!usedRedis.has(address)) {
        r.client.close();
        this.#redis.delete(address);
      }
    }
  }

  #redisStore(address: string): RedisGcraStore {
    let r = this.#redis.get(address);
    if (!r) {
      const colon = address.lastIndexOf(':');
      const client = new RespClient({
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        clock: this.#clock,
      });
      r = { client, store: new RedisGcraStore(client) };
      this.#redis.set(address, r);
    }
    return r.store;
  }

  /**
   * Apply the service's rate limits to a request (undefined when it has none). Each policy is
   * checked; the first refusal wins, else the headers of the last policy with any are returned.
   */
  async #rateLimit(
    ctx: InboundContext,
    req: RequestLike,
    limiters: PolicyLimiter[],
  ): Promise<RateLimitResult | undefined> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const headers = req.headers;
    const request = {
      sourceIdentity: ctx.peerIdentity ?? '',
      path: q < 0 ? url : url.slice(0, q),
      route: ctx.peerIdentity ? String(headers[ROUTE_HEADER] ?? '') : '',
      header: (n: string) => {
        const v = headers[n];
        return Array.isArray(v) ? v.join(',') : v;
      },
    };
    let out: RateLimitResult | undefined;
    for (const l of limiters) {
      const r = await l.limiter.check(request);
      const result = r.storeFailure
        ? r.allowed
          ? 'failed_open'
          : 'failed_closed'
        : r.allowed
          ? 'allowed'
          : 'limited';
      this.#metrics.inc('weft_proxy_ratelimit_total', `${l.metricsKey},result="${result}"`);
      if (r.storeFailure)
        this.#logger.warn('rate-limit store unavailable', {
          policy: l.id,
          failureMode: l.limiter.failureMode,
        });
      if (!r.allowed) {
        this.#logger.info('rate limited', { policy: l.id, rule: r.rule, source: ctx.peerIdentity ?? null });
        return r;
      }
      if (r.headers.length > 0 || out === undefined) out = r;
    }
    return out;
  }

  /**
   * The rate limiters of the service the caller addressed. A mesh caller names it (SERVICE_HEADER),
   * believed only when this instance port backs that service; otherwise the port's own service.
   */
  #limitersFor(ctx: InboundContext, req: RequestLike): PolicyLimiter[] | undefined {
    if (this.#limiters.size === 0) return undefined;
    const named = ctx.peerIdentity ? req.headers[SERVICE_HEADER] : undefined;
    if (typeof named === 'string') {
      const ports = this.#config?.inboundPorts.get(`${ctx.instance.address}:${ctx.port}`);
      if (ports?.some((p) => `${p.service.namespace}/${p.service.name}` === named))
        return this.#limiters.get(named);
    }
    return this.#limiters.get(`${ctx.inbound.service.namespace}/${ctx.inbound.service.name}`);
  }

  /** Is this the active health probe of a service that opted in (answered without authorization)? */
  #isProbe(ctx: InboundContext, req: RequestLike): boolean {
    if (req.headers[PROBE_HEADER] !== 'health' || req.method !== 'GET' || !ctx.peerIdentity) return false;
    const svc = ctx.inbound.service;
    let path = this.#probePaths.get(svc);
    if (path === undefined) {
      path = null;
      if (svc.healthCheck !== undefined) {
        try {
          path = parseHealthCheckAnnotation(svc.healthCheck).path;
        } catch {
          path = null;
        }
      }
      this.#probePaths.set(svc, path);
    }
    return path !== null && req.url === path;
  }

  async close(): Promise<void> {
    for (const r of this.#redis.values()) r.client.close();
    this.#redis.clear();
    this.#plaintext.close();
    for (const s of this.#streams) s.destroy();
    this.#agent.destroy();
    this.#pool.close();
    for (const s of this.#h2Upstreams.values()) s.destroy();
  }

  /** A CONNECT stream from the tunnel. */
  onStream(stream: http2.ServerHttp2Stream, info: TunnelStreamInfo): void {
    const config = this.#config;
    const authz = this.#authz;
    if (!config || !authz) {
      stream.respond({ ':status': 503 }, { endStream: true });
      return;
    }
    const colon = info.authority.lastIndexOf(':');
    const address = info.authority.slice(0, colon);
    const port = Number(info.authority.slice(colon + 1));
    const instance = config.localByAddress.get(address);
    if (!instance || !Number.isInteger(port)) {
      stream.respond({ ':status': 404, 'x-weft-error': 'no such local instance' }, { endStream: true });
      return;
    }
    if (info.localIdentity !== instance.spiffeId) {
      this.#logger.warn('tunnel: caller asked for another identity than the target instance holds', {
        asked: info.localIdentity,
        instance: instance.name,
        holds: instance.spiffeId,
      });
      stream.respond({ ':status': 403, 'x-weft-error': 'identity mismatch' }, { endStream: true });
      return;
    }
    const inbound = pickInbound(config.inboundPorts.get(info.authority));
    if (!inbound) {
      stream.respond(
        { ':status': 404, 'x-weft-error': 'port not served by any service' },
        { endStream: true },
      );
      return;
    }
    const claimed = info.headers['x-weft-source'];
    const source = typeof claimed === 'string' ? config.instances.get(claimed) : undefined;
    // The caller's labels (for NetworkPolicy) come from the instance its proxy names, believed only
    // when that instance holds the identity the caller proved with its certificate.
    const peer =
      source && source.spiffeId === info.peerIdentity
        ? { ip: source.address, namespace: source.namespace, labels: source.labels, name: source.workload }
        : { ip: info.remoteAddress };
    // source.ip is the calling instance's own address (Istio: the source workload's IP), known
    // from its proxy and believed on the same terms as its labels; else the tunnel peer address.
    const ctx = this.#context(authz, instance, port, inbound, info.peerIdentity, peer.ip);
    ctx.peer = peer;
    this.#streams.add(stream);
    stream.on('close', () => this.#streams.delete(stream));
    const denied = this.#admit(authz, ctx, peer);
    if (denied) {
      stream.respond(
        { ':status': 403, 'x-weft-denied-by': denied.policy ?? 'default-deny' },
        { endStream: true },
      );
      return;
    }
    if (inbound.port.protocol === 'tcp') {
      this.#pipeL4(stream, ctx);
      return;
    }
    stream.respond({ ':status': 200 });
    this.#serveHttp(stream, ctx, true);
  }

  /**
   * A plaintext connection from outside the mesh to an instance's plaintext address. PeerAuthentication
   * decides first: STRICT (Weft's default) closes it; PERMISSIVE and DISABLE admit it with no
   * identity, and authorization decides as for anyone without a certificate.
   */
  #onPlaintext(socket: net.Socket, key: string): void {
    socket.on('error', () => undefined);
    const config = this.#config;
    const authz = this.#authz;
    const entry = this.#plaintextTargets.get(key);
    if (!config || !authz || !entry) {
      socket.destroy();
      return;
    }
    const { instance, port, inbound } = entry;
    const mtls = authz.resolveMtls(instance.namespace, instance.workload, port);
    const ctx = this.#context(authz, instance, port, inbound, undefined, socket.remoteAddress ?? '');
    if (mtls.mode === 'STRICT') {
      this.#metrics.inc('weft_proxy_denied_total', `${ctx.metricsKey},layer="mtls"`);
      this.#logger.info('authz decision', {
        decision: 'deny',
        source: null,
        sourceAddress: socket.remoteAddress,
        destination: `${inbound.service.namespace}/${inbound.service.name}`,
        workload: `${instance.namespace}/${instance.workload}`,
        port,
        reason: `plaintext refused: mTLS mode STRICT (${mtls.reason})`,
      });
      socket.destroy();
      return;
    }
    this.#streams.add(socket);
    socket.on('close', () => this.#streams.delete(socket));
    if (this.#admit(authz, ctx, { ip: socket.remoteAddress ?? '' })) {
      socket.destroy();
      return;
    }
    if (inbound.port.protocol === 'tcp') {
      const upstream = net.connect({ host: instance.address, port, noDelay: true });
      upstream.on('error', () => socket.destroy());
      this.#trackL4(ctx, { ip: socket.remoteAddress ?? '' }, socket, upstream);
      splice(socket, upstream);
      return;
    }
    this.#serveHttp(socket, ctx, false);
  }

  #context(
    authz: Authorizer,
    instance: InstanceEntry,
    port: number,
    inbound: InboundPort,
    peerIdentity: string | undefined,
    peerAddress: string,
  ): InboundContext {
    return {
      instance,
      port,
      inbound,
      peerIdentity,
      peerAddress,
      authorizer: authz.forWorkload(instance.namespace, instance.workload),
      metricsKey: this.#metrics.key({
        source: peerIdentity ?? 'unauthenticated',
        destination: `${inbound.service.namespace}/${inbound.service.name}`,
      }),
    };
  }

  /**
   * Connection-level admission: AuthorizationPolicy on the connection where no HTTP field is needed
   * (a TCP service is decided here; an HTTP service denied here still answers each request with a
   * readable 403 later), then NetworkPolicy ingress. Returns the denial, or undefined to go on.
   */
  #admit(authz: Authorizer, ctx: InboundContext, peer: PeerInfo): Decision | undefined {
    const l7 = ctx.inbound.port.protocol !== 'tcp';
    if (!l7) {
      const decision = ctx.authorizer.checkConnection(this.#connInfo(ctx));
      if (!decision.allowed) {
        this.#logDecision(ctx, decision, undefined);
        this.#metrics.inc('weft_proxy_denied_total', `${ctx.metricsKey},layer="l4"`);
        return decision;
      }
    }
    const ingress = authz.checkIngress(
      { namespace: ctx.instance.namespace, name: ctx.instance.workload },
      peer,
      ctx.port,
      'TCP',
    );
    if (!ingress.allowed) {
      this.#logDecision(ctx, ingress, undefined);
      this.#metrics.inc('weft_proxy_denied_total', `${ctx.metricsKey},layer="networkpolicy"`);
      return ingress;
    }
    return undefined;
  }

  /** Parse HTTP on an admitted byte stream (HTTP/1.1 or HTTP/2 prior knowledge). */
  #serveHttp(stream: Duplex, ctx: InboundContext, isTunnelStream: boolean): void {
    sniffHttp(
      stream,
      (sniffed) => {
        this.#ctx.set(sniffed.stream, ctx);
        if (sniffed.protocol === 'h2') {
          this.#pendingH2 = ctx;
          this.#h2.emit('connection', sniffed.stream);
          this.#pendingH2 = undefined;
        } else {
          // HTTP/1.1 takes the fast path; a request it declines hands the connection to #h1.
          new DownstreamConnection(
            sniffed.stream,
            (req, ex) => this.#fastRequest(ctx, req, ex),
            (s, reason) => {
              this.#metrics.inc('weft_proxy_http1_full_path_total', `direction="inbound",reason="${reason}"`);
              this.#h1.emit('connection', s);
            },
          );
        }
      },
      isTunnelStream,
    );
  }

  #connInfo(ctx: InboundContext) {
    return {
      source: { principal: ctx.peerIdentity, ip: ctx.peerAddress },
      destination: { ip: ctx.instance.address, port: ctx.port },
    };
  }

  #pipeL4(stream: http2.ServerHttp2Stream, ctx: InboundContext): void {
    const upstream = net.connect({ host: ctx.instance.address, port: ctx.port, noDelay: true });
    upstream.on('error', (err) => {
      if (!stream.headersSent) {
        this.#metrics.inc('weft_proxy_errors_total', 'kind="upstream_connect"');
        this.#logger.warn('local instance refused the connection', {
          instance: ctx.instance.name,
          error: err,
        });
        stream.respond({ ':status': 503, 'x-weft-error': 'upstream connect failed' }, { endStream: true });
      }
    });
    upstream.once('connect', () => {
      if (stream.destroyed) {
        upstream.destroy();
        return;
      }
      stream.respond({ ':status': 200 });
      this.#metrics.inc('weft_proxy_connections_total', `${ctx.metricsKey},result="accepted"`);
      this.#trackL4(ctx, ctx.peer ?? { ip: ctx.peerAddress }, stream, upstream);
      splice(stream, upstream, undefined, { toA: this.#turnBudget });
    });
  }

  /**
   * Open TCP connections are decided again whenever the config changes (ztunnel does the same):
   * one that the new policies would refuse is closed.
   */
  #trackL4(ctx: InboundContext, peer: PeerInfo, a: Duplex, b: Duplex): void {
    const entry = { ctx, peer, close: () => (a.destroy(), b.destroy()) };
    this.#l4.add(entry);
    a.once('close', () => this.#l4.delete(entry));
  }

  #recheckL4(authz: Authorizer): void {
    for (const entry of this.#l4) {
      const ctx = {
        ...entry.ctx,
        authorizer: authz.forWorkload(entry.ctx.instance.namespace, entry.ctx.instance.workload),
      };
      if (this.#admit(authz, ctx, entry.peer)) {
        this.#logger.info('closing a connection the new config no longer allows', {
          source: ctx.peerIdentity,
          workload: `${ctx.instance.namespace}/${ctx.instance.workload}`,
          port: ctx.port,
        });
        entry.close();
        this.#l4.delete(entry);
      }
    }
  }

  #decide(ctx: InboundContext, req: RequestLike): Decision {
    const headers = req.headers;
    // The policies in force now, not when the connection opened: a pooled connection must not keep
    // a permission that a newer config took away (forWorkload is a cached lookup).
    const authorizer =
      this.#authz?.forWorkload(ctx.instance.namespace, ctx.instance.workload) ?? ctx.authorizer;
    ctx.prepared ??= prepareConnection(this.#connInfo(ctx));
    const decision = authorizer.checkRequest(ctx.prepared, {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      host: String(headers[':authority'] ?? headers.host ?? ''),
      header: (n) => {
        const v = headers[n];
        return Array.isArray(v) ? v.join(',') : v;
      },
    });
    if (!decision.allowed || this.#logAllowed || this.#sampleAllowed()) this.#logDecision(ctx, decision, req);
    if (!decision.allowed) this.#metrics.inc('weft_proxy_denied_total', `${ctx.metricsKey},layer="l7"`);
    return decision;
  }

  /** Allowed decisions are logged for MeshConfig telemetry.sampling percent of requests. */
  #sampleAllowed(): boolean {
    const pct = this.#config?.snapshot.mesh.allowLogPercent ?? 0;
    return pct > 0 && this.#random() * 100 < pct;
  }

  #countRequest(ctx: InboundContext, code: number): void {
    this.#metrics.inc('weft_proxy_inbound_requests_total', this.#metrics.withCode(ctx.metricsKey, code));
  }

  #logDecision(ctx: InboundContext, d: Decision, req: RequestLike | undefined): void {
    this.#logger.info('authz decision', {
      decision: d.allowed ? 'allow' : 'deny',
      source: ctx.peerIdentity,
      sourceAddress: ctx.peerAddress,
      destination: `${ctx.inbound.service.namespace}/${ctx.inbound.service.name}`,
      workload: `${ctx.instance.namespace}/${ctx.instance.workload}`,
      port: ctx.port,
      request: req ? `${req.method} ${req.url}` : undefined,
      policy: d.policy,
      rule: d.rule,
      reason: d.reason,
    });
  }

  #upstreamHeaders(ctx: InboundContext, req: RequestLike, keepTe: boolean) {
    const headers = forwardableHeaders(req.headers, keepTe);
    // Always replaced: a caller's own XFCC never reaches the workload; plaintext callers have none.
    if (ctx.peerIdentity)
      headers['x-forwarded-client-cert'] = xfccValue(ctx.instance.spiffeId, ctx.peerIdentity);
    else delete headers['x-forwarded-client-cert'];
    delete headers[ROUTE_HEADER];
    delete headers[SERVICE_HEADER];
    delete headers[PROBE_HEADER];
    return headers;
  }

  #onH1Request(req: IncomingMessage, res: ServerResponse): void {
    const ctx = this.#ctx.get(req.socket);
    if (!ctx) {
      res.writeHead(503).end();
      return;
    }
    const path = normalizedTarget(req.url);
    if (path === undefined) {
      localReply(res, 400, { error: 'bad request path', path: req.url ?? '' });
      return;
    }
    if (!this.#isProbe(ctx, req)) {
      const decision = this.#decide(ctx, req);
      if (!decision.allowed) {
        answer(res, denied(decision));
        this.#countRequest(ctx, 403);
        return;
      }
    }
    const limiters = this.#limitersFor(ctx, req);
    if (limiters === undefined) {
      this.#forwardH1(ctx, req, res, path, undefined);
      return;
    }
    req.pause();
    this.#rateLimit(ctx, req, limiters).then(
      (rl) => {
        if (rl && !rl.allowed) {
          this.#countRequest(ctx, 429);
          answer(res, limited(rl));
          req.resume();
          return;
        }
        this.#forwardH1(ctx, req, res, path, rl);
      },
      (err: unknown) => {
        this.#logger.error('rate limit check failed', { error: err });
        localReply(res, 500, { error: 'rate limit check failed' });
      },
    );
  }

  /**
   * An HTTP/1.1 request on the fast path (docs/architecture.md, "The HTTP/1.1 fast path"): the same
   * checks as #onH1Request — path normalisation, authorization, rate limits — then forwarded over a
   * pooled keep-alive connection to the instance with http1's codec instead of Node's HTTP
   * machinery. Health probes and unnormalisable paths are declined (false) and take the full path.
   */
  #fastRequest(ctx: InboundContext, req: FastRequest, ex: FastExchange): boolean | string {
    const head = req.head;
    const path = normalizedTarget(head.url);
    if (path === undefined) return 'path';
    if (this.#isProbe(ctx, head)) return 'health probe';
    const decision = this.#decide(ctx, head);
    if (!decision.allowed) {
      fastAnswer(ex, denied(decision));
      this.#countRequest(ctx, 403);
      return true;
    }
    const headers = this.#upstreamHeaders(ctx, head, false);
    const text = `${head.method} ${path} HTTP/1.1\r\n${headerLines(headers)}\r\n`;
    const data = req.body === undefined ? text : Buffer.concat([Buffer.from(text, 'latin1'), req.body]);
    const limiters = this.#limitersFor(ctx, head);
    if (limiters === undefined) {
      this.#fastForward(ctx, data, head.method, ex, undefined, isIdempotent(head.method));
      return true;
    }
    this.#rateLimit(ctx, head, limiters).then(
      (rl) => {
        if (ex.destroyed) return;
        if (rl && !rl.allowed) {
          this.#countRequest(ctx, 429);
          fastAnswer(ex, limited(rl));
          return;
        }
        this.#fastForward(ctx, data, head.method, ex, rl, isIdempotent(head.method));
      },
      (err: unknown) => {
        this.#logger.error('rate limit check failed', { error: err });
        ex.replyJson(500, { error: 'rate limit check failed' });
      },
    );
    return true;
  }

  /**
   * Send a fast-path request to the local instance. A pooled connection can be closed by the
   * instance just as a request is written to it (the keep-alive race every client pool has); an
   * idempotent request that failed that way, with nothing answered, is tried once more on a new
   * connection.
   */
  #fastForward(
    ctx: InboundContext,
    data: string | Buffer,
    method: string,
    ex: FastExchange,
    rl: RateLimitResult | undefined,
    mayRetry: boolean,
  ): void {
    const key = `${ctx.instance.address}:${ctx.port}`;
    let opened = false;
    const conn: UpstreamConnection = this.#pool.acquire(key, () => {
      opened = true;
      return net.connect({ host: ctx.instance.address, port: ctx.port, noDelay: true });
    });
    const onClientGone = () => {
      if (!ex.finished) conn.discard();
    };
    conn.send(data, method === 'HEAD').then(
      (r) => {
        if (ex.destroyed) {
          conn.discard();
          return;
        }
        const status = r.head.status;
        this.#countRequest(ctx, status);
        ex.once('close', onClientGone);
        forwardResponse(
          conn,
          r,
          ex,
          rl && rl.headers.length > 0 ? Object.fromEntries(rl.headers) : undefined,
        );
      },
      (err: unknown) => {
        if (ex.destroyed) return;
        if (!opened && mayRetry) {
          this.#fastForward(ctx, data, method, ex, rl, false);
          return;
        }
        fastAnswer(ex, upstreamUnavailable(ctx, err));
      },
    );
  }

  #forwardH1(
    ctx: InboundContext,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    rl: RateLimitResult | undefined,
  ): void {
    const upstream = http.request({
      agent: this.#agent,
      host: ctx.instance.address,
      port: ctx.port,
      method: req.method,
      path,
      headers: this.#upstreamHeaders(ctx, req, false),
    });
    upstream.on('response', (ures) => {
      this.#countRequest(ctx, ures.statusCode ?? 502);
      const out = forwardableHeaders(ures.headers);
      if (rl) for (const [k, v] of rl.headers) out[k] = v;
      res.writeHead(ures.statusCode ?? 502, out);
      ures.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) answer(res, upstreamUnavailable(ctx, err));
      else res.destroy();
    });
    req.pipe(upstream);
    req.resume();
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }

  #onH2Request(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
    const ctx = this.#h2Ctx.get(req.stream.session!);
    if (!ctx) {
      res.writeHead(503).end();
      return;
    }
    const isGrpc = String(req.headers['content-type'] ?? '').startsWith('application/grpc');
    const path = normalizedTarget(req.url);
    if (path === undefined) {
      localReply(res, 400, { error: 'bad request path', path: req.url ?? '' });
      return;
    }
    if (!this.#isProbe(ctx, req)) {
      const decision = this.#decide(ctx, req);
      if (!decision.allowed) {
        this.#countRequest(ctx, 403);
        if (isGrpc) {
          res.stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '7',
              'grpc-message': encodeURIComponent(`access denied: ${decision.reason}`),
              'x-weft-denied-by': decision.policy ?? 'default-deny',
            },
            { endStream: true },
          );
        } else answer(res, denied(decision));
        return;
      }
    }
    const limiters = this.#limitersFor(ctx, req);
    if (limiters === undefined) {
      this.#forwardH2(ctx, req, res, path, undefined);
      return;
    }
    req.pause();
    this.#rateLimit(ctx, req, limiters).then(
      (rl) => {
        if (rl && !rl.allowed) {
          this.#countRequest(ctx, 429);
          if (isGrpc) {
            if (res.stream.closed) return;
            // Envoy's rate-limit filter answers gRPC callers RESOURCE_EXHAUSTED.
            res.stream.respond(
              {
                ':status': 200,
                'content-type': 'application/grpc',
                'grpc-status': '8',
                'grpc-message': encodeURIComponent(`rate limited by ${rl.rule}`),
                ...Object.fromEntries(rl.headers),
              },
              { endStream: true },
            );
          } else answer(res, limited(rl));
          return;
        }
        this.#forwardH2(ctx, req, res, path, rl);
      },
      (err: unknown) => {
        this.#logger.error('rate limit check failed', { error: err });
        if (!res.headersSent) localReply(res, 500, { error: 'rate limit check failed' });
      },
    );
  }

  #forwardH2(
    ctx: InboundContext,
    req: http2.Http2ServerRequest,
    res: http2.Http2ServerResponse,
    path: string,
    rl: RateLimitResult | undefined,
  ): void {
    let session: http2.ClientHttp2Session;
    const key = `${ctx.instance.address}:${ctx.port}`;
    const existing = this.#h2Upstreams.get(key);
    if (existing && !existing.closed && !existing.destroyed) session = existing;
    else {
      session = http2.connect(`http://${key}`, { settings: { enablePush: false } });
      session.on('error', () => undefined);
      session.on('close', () => {
        if (this.#h2Upstreams.get(key) === session) this.#h2Upstreams.delete(key);
      });
      this.#h2Upstreams.set(key, session);
    }
    const upstream = session.request({
      ...this.#upstreamHeaders(ctx, req, true),
      ':method': req.method,
      ':path': path,
      ':authority': String(req.headers[':authority'] ?? key),
      ':scheme': 'http',
    });
    upstream.on('response', (h, flags) => {
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) {
        // Trailers-only response (gRPC errors): keep END_STREAM on HEADERS (gRPC over HTTP/2).
        res.stream.respond(
          { ...forwardableHeaders(h), ':status': Number(h[':status'] ?? 502) },
          { endStream: true },
        );
        return;
      }
      this.#countRequest(ctx, Number(h[':status'] ?? 502));
      const out = forwardableHeaders(h);
      if (rl) for (const [k, v] of rl.headers) out[k] = v;
      res.writeHead(Number(h[':status'] ?? 502), out);
      upstream.on('trailers', (t) => res.addTrailers(forwardableHeaders(t)));
      upstream.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent)
        localReply(
          res,
          503,
          { error: 'upstream unavailable', cause: errorMessage(err) },
          connectRefused(err) ? { [UPSTREAM_ERROR_HEADER]: 'connect' } : {},
        );
      else res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    req.pipe(upstream);
    req.resume();
    res.on('close', () => {
      if (!upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
    });
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const ctx = this.#ctx.get(req.socket);
    if (!ctx) {
      socket.destroy();
      return;
    }
    const decision = this.#decide(ctx, req);
    if (!decision.allowed) {
      const body = JSON.stringify(denied(decision).body);
      socket.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-weft-denied-by: ${decision.policy ?? 'default-deny'}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const upstream = net.connect({ host: ctx.instance.address, port: ctx.port, noDelay: true });
    upstream.on('error', () => socket.destroy());
    const headers = this.#upstreamHeaders(ctx, req, false);
    let head0 = `${req.method} ${req.url} HTTP/1.1\r\n`;
    // Upgrade needs its hop-by-hop headers back.
    headers['connection'] = 'Upgrade';
    headers['upgrade'] = String(req.headers.upgrade ?? 'websocket');
    for (const [k, v] of Object.entries(headers)) {
      for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) head0 += `${k}: ${one}\r\n`;
    }
    upstream.write(head0 + '\r\n');
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream);
  }
}

/** A local answer, the same whether Node's server or the HTTP/1.1 fast path sends it. */
interface LocalAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** 429 with `retry-after` and `x-ratelimit-*` (draft-ietf-httpapi-ratelimit-headers). */
function limited(rl: RateLimitResult): LocalAnswer {
  return {
    status: rl.status,
    body: { error: 'rate limited', rule: rl.rule, storeUnavailable: rl.storeFailure },
    headers: Object.fromEntries(rl.headers),
  };
}

/** 503 when the local instance could not be reached; `connect` marks that nothing reached it. */
function upstreamUnavailable(ctx: InboundContext, err: unknown): LocalAnswer {
  return {
    status: 503,
    body: {
      error: 'upstream unavailable',
      service: `${ctx.inbound.service.namespace}/${ctx.inbound.service.name}`,
      instance: ctx.instance.name,
      cause: errorMessage(err),
    },
    headers: connectRefused(err) ? { [UPSTREAM_ERROR_HEADER]: 'connect' } : {},
  };
}

/** 403 naming the deciding policy. */
function denied(d: Decision): LocalAnswer {
  return {
    status: 403,
    body: { error: 'access denied', policy: d.policy ?? null, rule: d.rule ?? null, reason: d.reason },
    headers: { 'x-weft-denied-by': d.policy ?? 'default-deny' },
  };
}

function answer(res: ServerResponse | http2.Http2ServerResponse, a: LocalAnswer): void {
  if (!res.headersSent) localReply(res, a.status, a.body, a.headers);
}

function fastAnswer(ex: FastExchange, a: LocalAnswer): void {
  ex.replyJson(a.status, a.body, a.headers);
}

/** The local instance refused the connection: nothing reached it, a retry elsewhere is safe. */
function connectRefused(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNREFUSED';
}

function pickInbound(list: InboundPort[] | undefined): InboundPort | undefined {
  if (!list || list.length === 0) return undefined;
  return list.find((p) => p.port.protocol !== 'tcp') ?? list[0];
}

/**
 * The request-target the workload receives: the path normalised exactly as the authorization engine
 * saw it (so a policy on `/admin` cannot be sidestepped with `/public/../admin`), query kept.
 * Undefined when the path cannot be normalised (answered 400).
 */
function normalizedTarget(url: string | undefined): string | undefined {
  const raw = url ?? '/';
  const n = normalizePath(raw);
  if (!n.ok) return undefined;
  const q = raw.indexOf('?');
  return q < 0 ? n.path : n.path + raw.slice(q);
}
