/**
 * Outbound assembly: connections a local instance opens to its capture listeners are carried to the
 * destination's node proxy through the tunnel, presenting the caller's SVID.
 *
 *   capture listener (knows the source instance) ─┬─ tcp service:  balance → CONNECT stream → splice
 *                                                  └─ http/grpc:    parse → route → balance → forward
 *                                                                   (HTTP/1.1 pool or HTTP/2 session per
 *                                                                    endpoint, each over CONNECT streams)
 *
 * Composition only: the mechanisms live in tunnel/, l4/, http/, lb/, and policy's router.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { gatewayDurationMs } from '../api/index.ts';
import type { BackendRef, EndpointEntry, InstanceEntry, ListenerEntry, ServiceEntry } from '../api/index.ts';
import type { Clock, Logger, Timer } from '../lib/index.ts';
import { errorMessage, systemClock } from '../lib/index.ts';
import { compileRouter, normalizePath, pickWeighted } from '../policy/index.ts';
import type { Authorizer, Decision, RouteMatchResult, Router } from '../policy/index.ts';
import type { RuntimeConfig } from './config/index.ts';
import { forwardableHeaders, ReplayDuplex, sniffHttp } from './http/index.ts';
import { splice } from './l4/index.ts';
import { createBalancer, hashKeyFor } from './lb/index.ts';
import type { Balancer, LoadBalancerSettings } from './lb/index.ts';

type LbEndpointEntry = EndpointEntry & { key: string };
import type { HboneClient } from './tunnel/index.ts';
import type { ProxyMetrics } from './telemetry/index.ts';
import { applyFilters, localReply } from './routing/index.ts';

interface ServicePlan {
  service: ServiceEntry;
  balancer: Balancer<LbEndpointEntry>;
  hashPolicy: LoadBalancerSettings | undefined;
}

/** Per-config caches, rebuilt when a new snapshot arrives. */
class OutboundTables {
  readonly routers = new Map<string, Router>();
  readonly plans = new Map<string, ServicePlan>();
  readonly config: RuntimeConfig;
  readonly authz: Authorizer;
  constructor(config: RuntimeConfig, authz: Authorizer) {
    this.config = config;
    this.authz = authz;
  }
}

export interface OutboundOptions {
  tunnel: HboneClient;
  logger: Logger;
  metrics: ProxyMetrics;
  random?: () => number;
  /** For route timeouts (default: the system clock). */
  clock?: Clock;
}

interface ConnContext {
  listener: ListenerEntry;
  source: InstanceEntry;
}

export class Outbound {
  readonly #tunnel: HboneClient;
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #random: () => number;
  readonly #clock: Clock;
  #tables: OutboundTables | undefined;
  readonly #servers = new Map<string, net.Server>();
  readonly #sockets = new Set<net.Socket>();
  readonly #h1 = http.createServer({ noDelay: true, keepAliveTimeout: 300_000 });
  readonly #h2 = http2.createServer({ settings: { enablePush: false } });
  readonly #connContext = new WeakMap<object, ConnContext>();
  #pendingH2: ConnContext | undefined;
  readonly #h2SessionContext = new WeakMap<http2.Http2Session, ConnContext>();
  /** One HTTP/1.1 keep-alive pool per source identity; connections are CONNECT streams. */
  readonly #agents = new Map<string, http.Agent>();
  /** One HTTP/2 session per (source identity, endpoint), running over a CONNECT stream. */
  readonly #h2Sessions = new Map<string, http2.ClientHttp2Session>();
  readonly #inflight = new Map<string, number>();

  constructor(options: OutboundOptions) {
    this.#tunnel = options.tunnel;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
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
    const wanted = config.listeners;
    for (const [key, server] of this.#servers) {
      if (!wanted.has(key)) {
        server.close();
        this.#servers.delete(key);
      }
    }
    const binds: Promise<void>[] = [];
    for (const [key, l] of wanted) {
      if (this.#servers.has(key)) continue;
      const server = net.createServer({ noDelay: true }, (socket) => this.#onConnection(socket, key));
      this.#servers.set(key, server);
      binds.push(
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(l.port, l.address, () => {
            server.off('error', reject);
            server.on('error', (err) => this.#logger.error('capture listener failed', { key, error: err }));
            resolve();
          });
        }),
      );
    }
    const results = await Promise.allSettled(binds);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(
        `could not bind ${failed.length} capture listener(s): ${errorMessage(failed[0]!.reason)}`,
      );
    }
  }

  listenerCount(): number {
    return this.#servers.size;
  }

  async close(): Promise<void> {
    for (const s of this.#servers.values()) s.close();
    this.#servers.clear();
    for (const s of this.#sockets) s.destroy();
    for (const a of this.#agents.values()) a.destroy();
    for (const s of this.#h2Sessions.values()) s.destroy();
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
        this.#h1.emit('connection', sniffed.stream);
      }
    });
  }

  #plan(tables: OutboundTables, serviceKey: string): ServicePlan | undefined {
    const plan = tables.plans.get(serviceKey);
    if (plan) return plan;
    const service = tables.config.services.get(serviceKey);
    if (!service) return undefined;
    const tp = tables.config.trafficPolicies.get(serviceKey)?.trafficPolicy as
      Record<string, unknown> | undefined;
    const lbPolicy = tp?.['loadBalancer'] as LoadBalancerSettings | undefined;
    const endpoints: LbEndpointEntry[] = service.endpoints.map((e) => ({
      ...e,
      key: `${e.namespace}/${e.instance}`,
    }));
    const created: ServicePlan = {
      service,
      balancer: createBalancer<LbEndpointEntry>(lbPolicy, endpoints, {
        random: this.#random,
        inflight: (e) => this.#inflight.get(e.key) ?? 0,
      }),
      hashPolicy: lbPolicy?.consistentHash ? lbPolicy : undefined,
    };
    tables.plans.set(serviceKey, created);
    return created;
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

  #tunnelStream(tables: OutboundTables, source: InstanceEntry, ep: EndpointEntry, port: number): Duplex {
    const node = tables.config.nodes.get(ep.node);
    if (!node) throw new Error(`endpoint ${ep.instance} is on unknown node ${ep.node}`);
    return this.#tunnel.connect(
      {
        nodeAddress: node.address,
        nodePort: node.tunnelPort,
        destinationIdentity: ep.spiffeId,
        sourceIdentity: source.spiffeId,
      },
      `${ep.address}:${port}`,
      { 'x-weft-source': `${source.namespace}/${source.name}` },
    );
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
    const ep = plan?.balancer.pick({ hashKey: socket.remoteAddress });
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
    splice(socket, stream, (stats) => {
      this.#metrics.inc('weft_proxy_bytes_total', 'direction="sent"', stats.bytesAtoB);
      this.#metrics.inc('weft_proxy_bytes_total', 'direction="received"', stats.bytesBtoA);
    });
  }

  // ---- L7 -------------------------------------------------------------------------------------

  /** Route and balance one request; undefined with a local reply already sent when it cannot go on. */
  #resolve(
    tables: OutboundTables,
    ctx: ConnContext,
    req: http.IncomingMessage | http2.Http2ServerRequest,
    reply: (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => void,
  ):
    | { redirect: RouteMatchResult }
    | {
        ep: LbEndpointEntry;
        targetPort: number;
        plan: ServicePlan;
        match: RouteMatchResult | undefined;
        svcKey: string;
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
    const host = (headers[':authority'] as string | undefined) ?? headers.host ?? '';
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
          cookie: (n: string) => cookieValue(headers.cookie, n),
          sourceIp: ctx.source.address,
        })
      : undefined;
    const ep = plan.balancer.pick({ hashKey });
    if (!ep) {
      reply(503, { error: 'no healthy endpoint', service: svcKey });
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
    return { ep, targetPort, plan, match, svcKey };
  }

  #onH1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const ctx = this.#connContext.get(req.socket);
    const tables = this.#tables;
    if (!ctx || !tables) {
      res.writeHead(503).end();
      return;
    }
    const started = performance.now();
    const srcSvc = this.#metrics.key({
      source: ctx.source.spiffeId,
      destination: `${ctx.listener.service.namespace}/${ctx.listener.service.name}`,
    });
    const finish = (code: number) => {
      this.#metrics.inc('weft_proxy_requests_total', `${srcSvc},code="${code}"`);
      this.#metrics.observe('weft_proxy_request_duration_ms', srcSvc, performance.now() - started);
    };
    const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      localReply(res, status, body, headers);
      finish(status);
    };
    const target = this.#resolve(tables, ctx, req, reply);
    if (!target) return;
    if ('redirect' in target) {
      applyFilters(target.redirect, req, {}, res, ctx.listener.port);
      finish(res.statusCode);
      return;
    }
    const headers = forwardableHeaders(req.headers);
    const filtered = applyFilters(target.match, req, headers, res, ctx.listener.port);
    if (filtered.done) {
      finish(res.statusCode);
      return;
    }
    const agent = this.#agent(ctx.source);
    this.#mirror(tables, ctx, target.match, req, headers, filtered.path);
    const inflightKey = `${target.ep.namespace}/${target.ep.instance}`;
    this.#inflight.set(inflightKey, (this.#inflight.get(inflightKey) ?? 0) + 1);
    const upstream = http.request({
      agent,
      host: target.ep.address,
      port: target.targetPort,
      method: req.method,
      path: filtered.path,
      headers,
    });
    let timer: Timer | undefined;
    let counted = true;
    const done = () => {
      timer?.cancel();
      if (!counted) return;
      counted = false;
      this.#inflight.set(inflightKey, (this.#inflight.get(inflightKey) ?? 1) - 1);
    };
    const timeoutMs = routeTimeoutMs(target.match);
    if (timeoutMs !== undefined) {
      timer = this.#clock.setTimeout(() => {
        timer = undefined;
        done();
        upstream.destroy();
        if (!res.headersSent)
          reply(504, { error: 'upstream request timeout', service: target.svcKey, timeoutMs });
        else res.destroy();
      }, timeoutMs);
    }
    upstream.on('response', (ures) => {
      const out = forwardableHeaders(ures.headers);
      filtered.responseHeaders(out);
      res.writeHead(ures.statusCode ?? 502, out);
      ures.pipe(res);
      ures.on('end', () => {
        done();
        finish(ures.statusCode ?? 502);
      });
    });
    upstream.on('error', (err) => {
      done();
      if (res.writableEnded) return;
      if (!res.headersSent)
        reply(503, { error: 'upstream unavailable', service: target.svcKey, cause: errorMessage(err) });
      else res.destroy();
    });
    req.pipe(upstream);
    res.on('close', () => {
      done();
      if (!res.writableFinished) upstream.destroy();
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
    req: http.IncomingMessage | http2.Http2ServerRequest,
    headers: http.OutgoingHttpHeaders,
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
    req: http.IncomingMessage | http2.Http2ServerRequest,
    headers: http.OutgoingHttpHeaders,
    path: string,
  ): void {
    const plan = this.#plan(tables, `${ref.namespace}/${ref.name}`);
    const targetPort = plan ? this.#targetPort(plan.service, ref.port ?? ctx.listener.port) : undefined;
    const ep = plan?.balancer.pick({});
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

  #agent(source: InstanceEntry): http.Agent {
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
        // Wrapped so the client's batched writes reach the HTTP/2 stream one by one (see sniff.ts).
        return socketShim(
          new ReplayDuplex(undefined, this.#tunnelStream(tables, source, ep, Number(options.port))),
        );
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
    const srcSvc = this.#metrics.key({
      source: ctx.source.spiffeId,
      destination: `${ctx.listener.service.namespace}/${ctx.listener.service.name}`,
    });
    const started = performance.now();
    const finish = (code: number) => {
      this.#metrics.inc('weft_proxy_requests_total', `${srcSvc},code="${code}"`);
      this.#metrics.observe('weft_proxy_request_duration_ms', srcSvc, performance.now() - started);
    };
    const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      if (isGrpc) grpcReply(res, status, String(body['error'] ?? ''));
      else localReply(res, status, body, headers);
      finish(status);
    };
    const target = this.#resolve(tables, ctx, req, reply);
    if (!target) return;
    if ('redirect' in target) {
      applyFilters(target.redirect, req, {}, res, ctx.listener.port);
      finish(res.statusCode);
      return;
    }
    const headers = forwardableHeaders(req.headers, true);
    const filtered = applyFilters(target.match, req, headers, res, ctx.listener.port);
    if (filtered.done) {
      finish(res.statusCode);
      return;
    }
    let session: http2.ClientHttp2Session;
    try {
      session = this.#h2Session(tables, ctx.source, target.ep, target.targetPort);
    } catch (err) {
      reply(503, { error: 'tunnel unavailable', service: target.svcKey, cause: errorMessage(err) });
      return;
    }
    this.#mirror(tables, ctx, target.match, req, headers, filtered.path);
    const upstream = session.request({
      ...headers,
      ':method': req.method,
      ':path': filtered.path,
      ':authority': (req.headers[':authority'] as string | undefined) ?? target.ep.address,
      ':scheme': 'http',
    });
    const timeoutMs = routeTimeoutMs(target.match);
    if (timeoutMs !== undefined) {
      const timer = this.#clock.setTimeout(() => {
        if (!upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
        if (!res.headersSent)
          reply(504, { error: 'upstream request timeout', service: target.svcKey, timeoutMs });
        else res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      }, timeoutMs);
      upstream.on('close', () => timer.cancel());
    }
    upstream.on('response', (h, flags) => {
      const status = Number(h[':status'] ?? 502);
      const out = forwardableHeaders(h);
      filtered.responseHeaders(out);
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) {
        // Trailers-only response (how gRPC sends an error): END_STREAM must stay on the HEADERS
        // frame, or the client waits for trailers that never come (gRPC over HTTP/2, "Responses").
        res.stream.respond({ ...out, ':status': status }, { endStream: true });
        finish(status);
        return;
      }
      res.writeHead(status, out);
      upstream.on('trailers', (t) => res.addTrailers(forwardableHeaders(t)));
      upstream.pipe(res);
      upstream.on('end', () => finish(status));
    });
    upstream.on('error', (err) => {
      if (res.stream.closed || res.writableEnded) return;
      if (!res.headersSent)
        reply(503, { error: 'upstream unavailable', service: target.svcKey, cause: errorMessage(err) });
      else res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    req.pipe(upstream);
    res.on('close', () => {
      if (!upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
    });
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

  #onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
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
    let stream: Duplex;
    try {
      stream = this.#tunnelStream(tables, ctx.source, target.ep, target.targetPort);
    } catch (err) {
      reply(503, { error: 'tunnel unavailable', cause: errorMessage(err) });
      return;
    }
    stream.write(rawRequestHead(req));
    if (head.length > 0) stream.write(head);
    splice(socket, stream);
  }
}

/**
 * The effective timeout of a matched rule in ms: the smaller of `timeouts.request` and
 * `timeouts.backendRequest` (Gateway API HTTPRouteTimeouts, GEP-1742; one attempt, so the
 * backend timeout bounds the whole request too). A zero duration disables a timeout.
 */
function routeTimeoutMs(match: RouteMatchResult | undefined): number | undefined {
  const t = match?.rule.timeouts;
  if (!t) return undefined;
  let out: number | undefined;
  for (const d of [t.request, t.backendRequest]) {
    const ms = d === undefined ? undefined : gatewayDurationMs(d);
    if (ms !== undefined && ms > 0) out = out === undefined ? ms : Math.min(out, ms);
  }
  return out;
}

function rawRequestHead(req: http.IncomingMessage): string {
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
function grpcReply(res: http2.Http2ServerResponse, httpStatus: number, message: string): void {
  // HTTP → gRPC status mapping from the gRPC spec (doc/http-grpc-status-mapping.md).
  const code =
    httpStatus === 403 ? 7 : httpStatus === 404 ? 12 : httpStatus === 503 ? 14 : httpStatus === 429 ? 14 : 2;
  res.stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': encodeURIComponent(message),
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
