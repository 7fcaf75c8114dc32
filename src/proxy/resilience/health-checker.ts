/**
 * Active health checks, opt-in per Service with the annotation
 * `weft.dev/health-check: '{"type":"http","path":"/healthz","interval":"5s","timeout":"1s","unhealthyThreshold":2,"healthyThreshold":1}'`
 * (Envoy's HealthCheck: https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking).
 *
 * `interval` is the detection bound: an endpoint that starts failing is out of rotation within one
 * interval. To honour that with unhealthyThreshold N, each endpoint is probed every interval / N
 * (Envoy would take N intervals). It returns after healthyThreshold passing probes in a row.
 * Endpoints start healthy (so a config push never empties a cluster before the first round), and
 * when no endpoint is healthy the view returns all of them (Envoy's panic mode) rather than none.
 * Probes are injected (`httpProbe`/`tcpProbe` below are the real ones); time is a Clock.
 */
import { connect } from 'node:net';
import { WeftError } from '../../lib/index.ts';
import type { Clock, Timer } from '../../lib/index.ts';
import { goDurationMs } from '../../api/wire/index.ts';
import { withTimeout } from './timeout.ts';
// Not `import … from 'node:http'`, which loads undici (~4 MB): docs/architecture.md, "Proxy memory".
const { request: httpRequest } = process.getBuiltinModule('node:http');

export const HEALTH_CHECK_ANNOTATION = 'weft.dev/health-check';

export interface HealthCheckConfig {
  readonly type: 'http' | 'tcp';
  /** HTTP path probed with GET (http only). Default /healthz. */
  readonly path: string;
  /** Detection bound, ms. Default 5s. */
  readonly intervalMs: number;
  /** One probe's timeout, ms. Default min(1s, probe period). */
  readonly timeoutMs: number;
  /** Failed probes in a row before an endpoint leaves rotation. Default 2. */
  readonly unhealthyThreshold: number;
  /** Passing probes in a row before it returns. Default 1. */
  readonly healthyThreshold: number;
}

const FIELDS = ['type', 'path', 'interval', 'timeout', 'unhealthyThreshold', 'healthyThreshold'];

function bad(msg: string): WeftError {
  return new WeftError('WEFT_HEALTH_CHECK_INVALID', `annotation ${HEALTH_CHECK_ANNOTATION}: ${msg}`);
}

/** Parse the annotation value (JSON). Throws WEFT_HEALTH_CHECK_INVALID with what is wrong. */
export function parseHealthCheckAnnotation(value: string): HealthCheckConfig {
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message}); e.g. {"path":"/healthz","interval":"5s"}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('expected a JSON object');
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r))
    if (!FIELDS.includes(k)) throw bad(`unknown field ${JSON.stringify(k)} (known: ${FIELDS.join(', ')})`);
  const type = r.type ?? 'http';
  if (type !== 'http' && type !== 'tcp')
    throw bad(`type must be "http" or "tcp", got ${JSON.stringify(type)}`);
  const path = r.path ?? '/healthz';
  if (typeof path !== 'string' || !path.startsWith('/')) throw bad(`path must be a string starting with "/"`);
  const dur = (name: string, dflt: number) => {
    const v = r[name];
    if (v === undefined) return dflt;
    const ms = typeof v === 'string' ? goDurationMs(v) : undefined;
    if (ms === undefined || ms < 1)
      throw bad(`${name} must be a duration such as "5s" or "500ms", got ${JSON.stringify(v)}`);
    return ms;
  };
  const count = (name: string, dflt: number) => {
    const v = r[name] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100)
      throw bad(`${name} must be an integer 1-100, got ${JSON.stringify(v)}`);
    return v;
  };
  const intervalMs = dur('interval', 5000);
  const unhealthyThreshold = count('unhealthyThreshold', 2);
  const timeoutMs = dur('timeout', Math.min(1000, Math.floor(intervalMs / unhealthyThreshold)));
  return Object.freeze({
    type,
    path,
    intervalMs,
    timeoutMs,
    unhealthyThreshold,
    healthyThreshold: count('healthyThreshold', 1),
  });
}

/** A probe: resolve true for healthy, false or reject for unhealthy; stop on `signal`. */
export type Probe = (endpointKey: string, config: HealthCheckConfig, signal: AbortSignal) => Promise<boolean>;

interface State {
  healthy: boolean;
  fails: number;
  passes: number;
  inFlight: boolean;
}

export interface HealthEvent {
  type: 'unhealthy' | 'healthy';
  key: string;
}

export class HealthChecker {
  readonly config: HealthCheckConfig;
  readonly #clock: Clock;
  readonly #probe: Probe;
  readonly #onEvent: ((e: HealthEvent) => void) | undefined;
  readonly #states = new Map<string, State>();
  readonly #periodMs: number;
  #timer: Timer | undefined;
  #unhealthy = 0;
  #generation = 0;
  #cacheIn: readonly unknown[] | undefined;
  #cacheGen = -1;
  #cacheOut: readonly unknown[] = [];
  #closed = false;
  /** Probes run and failed (metrics). */
  probes = 0;
  probeFailures = 0;

  constructor(config: HealthCheckConfig, clock: Clock, probe: Probe, onEvent?: (e: HealthEvent) => void) {
    this.config = config;
    this.#clock = clock;
    this.#probe = probe;
    this.#onEvent = onEvent;
    this.#periodMs = Math.max(1, Math.floor(config.intervalMs / config.unhealthyThreshold));
  }

  /** The period between probes of one endpoint, ms. */
  get periodMs(): number {
    return this.#periodMs;
  }

  /** Set the endpoints to check; new ones start healthy, removed ones are forgotten. Starts the timer. */
  setEndpoints(keys: Iterable<string>): void {
    const next = new Set(keys);
    for (const [k, s] of this.#states)
      if (!next.has(k)) {
        if (!s.healthy) this.#unhealthy--;
        this.#states.delete(k);
      }
    for (const k of next)
      if (!this.#states.has(k)) this.#states.set(k, { healthy: true, fails: 0, passes: 0, inFlight: false });
    this.#generation++;
    if (this.#timer === undefined && !this.#closed) this.#schedule();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      void this.probeAll();
      this.#schedule();
    }, this.#periodMs);
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Probe every endpoint once (skipping those with a probe still running). Resolves when all are done. */
  probeAll(): Promise<void> {
    const running: Promise<void>[] = [];
    for (const [key, s] of this.#states) {
      if (s.inFlight) continue;
      s.inFlight = true;
      this.probes++;
      running.push(
        withTimeout(
          (signal) => this.#probe(key, this.config, signal),
          this.config.timeoutMs,
          this.#clock,
          'health probe',
        )
          .then(
            (ok) => ok,
            () => false,
          )
          .then((ok) => {
            s.inFlight = false;
            if (this.#states.get(key) === s) this.#result(key, s, ok);
          }),
      );
    }
    return Promise.all(running).then(() => undefined);
  }

  #result(key: string, s: State, ok: boolean): void {
    if (ok) {
      s.fails = 0;
      s.passes++;
      if (!s.healthy && s.passes >= this.config.healthyThreshold) {
        s.healthy = true;
        this.#unhealthy--;
        this.#generation++;
        this.#onEvent?.({ type: 'healthy', key });
      }
    } else {
      this.probeFailures++;
      s.passes = 0;
      s.fails++;
      if (s.healthy && s.fails >= this.config.unhealthyThreshold) {
        s.healthy = false;
        this.#unhealthy++;
        this.#generation++;
        this.#onEvent?.({ type: 'unhealthy', key });
      }
    }
  }

  isHealthy(key: string): boolean {
    return this.#states.get(key)?.healthy ?? true;
  }

  /** Healthy endpoints; all of them when none is healthy (panic). Cached like OutlierDetector.filter. */
  filter<E extends { key: string }>(endpoints: readonly E[]): readonly E[] {
    if (this.#unhealthy === 0) return endpoints;
    if (this.#cacheIn === endpoints && this.#cacheGen === this.#generation)
      return this.#cacheOut as readonly E[];
    const kept = endpoints.filter((e) => this.isHealthy(e.key));
    const out = kept.length === 0 ? endpoints : kept;
    this.#cacheIn = endpoints;
    this.#cacheGen = this.#generation;
    this.#cacheOut = out;
    return out;
  }
}

function splitHostPort(key: string): { host: string; port: number } {
  const i = key.lastIndexOf(':');
  const host = key.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(key.slice(i + 1)) };
}

/** Real HTTP probe: GET config.path on `host:port`; healthy on a 2xx or 3xx status (Envoy: 200 only by default; Kubernetes: 200-399). */
export const httpProbe: Probe = (key, config, signal) =>
  new Promise((resolve) => {
    const { host, port } = splitHostPort(key);
    const req = httpRequest(
      {
        host,
        port,
        path: config.path,
        method: 'GET',
        signal,
        headers: { 'user-agent': 'weft-health-check' },
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      },
    );
    req.on('error', () => resolve(false));
    req.end();
  });

/** Real TCP probe: healthy when a connection to `host:port` opens. */
export const tcpProbe: Probe = (key, _config, signal) =>
  new Promise((resolve) => {
    const { host, port } = splitHostPort(key);
    const sock = connect({ host, port, signal });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
