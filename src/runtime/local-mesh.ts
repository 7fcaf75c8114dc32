/**
 * The local mesh behind `weft up`: one control plane, one node proxy per Node, and the workload
 * instances of the manifests, all as supervised child processes on loopback (docs/architecture.md,
 * "weft up"). Start order is dependency order — control plane (ready when it has written
 * control.json and answers /v1/healthz), resources applied as actor `weft-up`, proxies (ready when
 * their admin /ready answers), then instances (ready by their Workload's readiness) — and stop order
 * is the reverse, so workloads never run without their proxy.
 *
 * The store is made to match the manifests (plus the Node resources): anything else in it, e.g.
 * from an earlier run on the same state directory, is deleted in the same revision history.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { ControlClient, StatusResponse } from '../api/client/index.ts';
import { meshSettingsOf, nodeTunnelPort, resourceKey } from '../api/index.ts';
import type { NodeSpec, Resource, SourceRef } from '../api/index.ts';
import { WeftError, errorMessage } from '../lib/index.ts';
import type { Clock, Timer } from '../lib/index.ts';
import { acquireStateLock } from './lock.ts';
import { LogTail, denialEvent } from './log-tail.ts';
import type { StateLock } from './lock.ts';
import { writePidsFile } from './pids.ts';
import { defaultNodes, planMesh } from './plan.ts';
import type { MeshPlan, PlannedInstance, PlannedNode } from './plan.ts';
import { describeProbe, probeOnce, waitReady } from './readiness.ts';
import { Supervisor } from './supervisor.ts';
import type { SupervisorEvent } from './supervisor.ts';
import { formatReadyLine, formatSummary, paint } from './summary.ts';

export interface LocalMeshOptions {
  /** Absolute state directory. */
  stateDir: string;
  /** How to show the state directory to the user (as they typed it). */
  stateDirLabel: string;
  /** Absolute path of the weft entry file; weft's own processes run `execPath entry <verb>`. */
  entry: string;
  execPath: string;
  /** The environment children inherit (the mesh variables are added on top). */
  env: Record<string, string | undefined>;
  cwd: string;
  clock: Clock;
  out: { write(s: string): unknown };
  color: boolean;
  verbose: boolean;
  /** A client of the control plane, once it has written control.json (actor `weft-up`). */
  connect: () => ControlClient;
  /** This process's pid (the lock owner). */
  pid: number;
  /** Per phase (default 60 000 ms). */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace in ms (default 5 000). */
  graceMs?: number;
  /** How often proxy status is polled for the event log (default 1 000 ms). */
  statusIntervalMs?: number;
}

export interface DesiredState {
  /** The validated manifests. */
  resources: readonly Resource[];
  sources?: ReadonlyMap<string, SourceRef>;
  /** How many nodes to create when the manifests define no Node resources. */
  nodes: number;
  /** Shown as the apply message. */
  message: string;
}

/** A validated resource as the raw object the API accepts (cluster scope has no namespace). */
export function toApplyObject(r: Resource): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name: r.metadata.name };
  if (r.metadata.namespace !== '') metadata.namespace = r.metadata.namespace;
  if (Object.keys(r.metadata.labels).length > 0) metadata.labels = r.metadata.labels;
  if (Object.keys(r.metadata.annotations).length > 0) metadata.annotations = r.metadata.annotations;
  const out: Record<string, unknown> = { apiVersion: r.apiVersion, kind: r.kind, metadata, spec: r.spec };
  if (r.status !== undefined) out.status = r.status;
  return out;
}

export class LocalMesh {
  readonly #o: LocalMeshOptions;
  readonly #supervisor: Supervisor;
  #lock: StateLock | undefined;
  #client: ControlClient | undefined;
  #plan: MeshPlan | undefined;
  #apiUrl = '';
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #statusTimer: Timer | undefined;
  #acked = new Map<string, string>();
  #connected = new Map<string, boolean>();
  readonly #tails = new Map<string, LogTail>();
  readonly #pids = {
    control: null as number | null,
    proxies: {} as Record<string, number | null>,
    instances: {} as Record<string, number | null>,
  };

  constructor(options: LocalMeshOptions) {
    this.#o = options;
    this.#supervisor = new Supervisor({ clock: options.clock, onEvent: (e) => this.#onEvent(e) });
  }

  get plan(): MeshPlan | undefined {
    return this.#plan;
  }

  get apiUrl(): string {
    return this.#apiUrl;
  }

  /** Starts everything and prints the ready line and summary. On failure stops what it started. */
  async start(desired: DesiredState): Promise<void> {
    const started = this.#o.clock.monotonic();
    this.#lock = acquireStateLock(this.#o.stateDir, this.#o.pid);
    try {
      mkdirSync(join(this.#o.stateDir, 'logs'), { recursive: true });
      writePidsFile(this.#o.stateDir, this.#pids);
      // A new CA is created for the manifests' trust domain (an existing one keeps its own, and the
      // control plane refuses a MeshConfig that would change it).
      await this.#startControl(meshSettingsOf(desired.resources).trustDomain);
      const resources = await this.#apply(desired);
      const plan = planMesh(resources, {
        entry: this.#o.entry,
        execPath: this.#o.execPath,
        ...(desired.sources ? { sources: desired.sources } : {}),
        cwd: this.#o.cwd,
      });
      this.#plan = plan;
      await Promise.all(plan.nodes.map((n) => this.#startProxy(n, this.#tunnelPort(resources, n.name))));
      await Promise.all(plan.instances.map((i) => this.#startInstance(i)));
      const seconds = (this.#o.clock.monotonic() - started) / 1000;
      const nodes = resources.filter((r) => r.kind === 'Node') as Resource<NodeSpec>[];
      this.#o.out.write(
        formatReadyLine(seconds, plan, this.#o.stateDirLabel, this.#o.color) +
          '\n' +
          formatSummary(plan, {
            apiUrl: this.#apiUrl,
            tokenFile: join(this.#o.stateDirLabel, 'token'),
            logsDir: join(this.#o.stateDirLabel, 'logs'),
            tunnelPort: (name) => {
              const n = nodes.find((x) => x.metadata.name === name);
              return n ? nodeTunnelPort(n) : 15008;
            },
            color: this.#o.color,
          }),
      );
      this.#pollStatus();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** `--watch`: applies a new desired state and starts/stops the instances whose plan changed. */
  async reapply(desired: DesiredState): Promise<void> {
    if (this.#stopping || !this.#plan) return;
    const resources = await this.#apply(desired);
    const next = planMesh(resources, {
      entry: this.#o.entry,
      execPath: this.#o.execPath,
      ...(desired.sources ? { sources: desired.sources } : {}),
      cwd: this.#o.cwd,
    });
    const prev = this.#plan;
    this.#plan = next;
    const grace = this.#o.graceMs ?? 5000;
    const nextNodes = new Map(next.nodes.map((n) => [n.name, n]));
    const prevNodes = new Map(prev.nodes.map((n) => [n.name, n]));
    const nextInst = new Map(next.instances.map((i) => [i.key, i]));
    const prevInst = new Map(prev.instances.map((i) => [i.key, i]));
    const goneInst = prev.instances.filter((i) => nextInst.get(i.key)?.fingerprint !== i.fingerprint);
    const newInst = next.instances.filter((i) => prevInst.get(i.key)?.fingerprint !== i.fingerprint);
    const goneNodes = prev.nodes.filter((n) => JSON.stringify(nextNodes.get(n.name)) !== JSON.stringify(n));
    const newNodes = next.nodes.filter((n) => JSON.stringify(prevNodes.get(n.name)) !== JSON.stringify(n));
    await Promise.all(goneInst.map((i) => this.#stopInstance(i, grace)));
    await Promise.all(goneNodes.map((n) => this.#stopProxy(n, grace)));
    await Promise.all(newNodes.map((n) => this.#startProxy(n, this.#tunnelPort(resources, n.name))));
    await Promise.all(newInst.map((i) => this.#startInstance(i)));
    this.#event(
      'reload',
      `applied changes: ${newInst.length} instance(s) started, ${goneInst.length} stopped, ${newNodes.length} proxy(ies) started, ${goneNodes.length} stopped`,
    );
  }

  /** Stops every child (instances, then proxies, then the control plane) and releases the lock. */
  stop(): Promise<void> {
    // Every caller waits for the one real stop (SIGINT may arrive while start() is still running).
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#statusTimer?.cancel();
    const names = this.#supervisor.names();
    const instances = names.filter((n) => n !== 'control' && !n.startsWith('proxy/'));
    const proxies = names.filter((n) => n.startsWith('proxy/'));
    await this.#supervisor.stopAll(this.#o.graceMs ?? 5000, [instances, proxies, ['control']]);
    try {
      if (this.#lock) writePidsFile(this.#o.stateDir, { control: null, proxies: {}, instances: {} });
    } catch {
      // the state dir may be gone; nothing to record
    }
    this.#lock?.release();
    this.#lock = undefined;
  }

  // -------------------------------------------------------------------------------------------

  async #startControl(trustDomain: string): Promise<void> {
    const controlJson = join(this.#o.stateDir, 'control.json');
    rmSync(controlJson, { force: true });
    const pid = this.#supervisor.start({
      name: 'control',
      command: this.#o.execPath,
      args: [this.#o.entry, 'control', '--state-dir', this.#o.stateDir, '--trust-domain', trustDomain],
      env: this.#childEnv({}),
      cwd: this.#o.cwd,
      logFile: join(this.#o.stateDir, 'logs', 'control.log'),
    });
    const timeoutMs = this.#o.startTimeoutMs ?? 60_000;
    const t0 = this.#o.clock.monotonic();
    // Ready = control.json written by the current control process (pid matches) and healthz 200.
    for (let i = 0; ; i++) {
      this.#checkNotStopping();
      const current = this.#supervisor.pid('control') ?? pid;
      const info = readJson(controlJson) as { apiUrl?: string; pid?: number } | undefined;
      if (info?.apiUrl && info.pid === current) {
        const url = new URL('/v1/healthz', info.apiUrl);
        const ok = await probeOnce({
          type: 'http',
          host: url.hostname,
          port: Number(url.port),
          path: url.pathname,
        });
        if (ok) {
          this.#apiUrl = info.apiUrl;
          break;
        }
      }
      if (this.#o.clock.monotonic() - t0 > timeoutMs)
        throw new WeftError(
          'WEFT_UP_NOT_READY',
          `the control plane did not become ready in ${Math.round(timeoutMs / 1000)}s; see ${join(this.#o.stateDirLabel, 'logs', 'control.log')}${tail(join(this.#o.stateDir, 'logs', 'control.log'))}`,
        );
      await sleep(this.#o.clock, Math.min(20 + i * 10, 250));
    }
    this.#client = this.#o.connect();
  }

  async #apply(desired: DesiredState): Promise<Resource[]> {
    const client = this.#client!;
    const manifestNodes = desired.resources.some((r) => r.kind === 'Node');
    const all: Resource[] = [
      ...desired.resources,
      ...(manifestNodes
        ? []
        : (defaultNodes(
            desired.nodes,
            meshSettingsOf(desired.resources).trustDomain,
          ) as unknown as Resource[])),
    ];
    const res = await client.apply(all.map(toApplyObject), { message: desired.message });
    if (!res.unchanged)
      this.#event(
        'apply',
        `revision ${res.revision}: ${res.diff.added.length} added, ${res.diff.changed.length} changed, ${res.diff.deleted.length} deleted`,
      );
    const wanted = new Set(all.map((r) => resourceKey(r)));
    const existing = await client.list();
    const extra = existing.items.map((r) => resourceKey(r)).filter((k) => !wanted.has(k));
    if (extra.length > 0) {
      const del = await client.delete(extra, { message: `${desired.message}: not in the manifests` });
      this.#event(
        'apply',
        `revision ${del.revision}: deleted ${extra.length} resource(s) not in the manifests (${extra.join(', ')})`,
      );
    }
    return all;
  }

  async #startProxy(n: PlannedNode, tunnelPort: number): Promise<void> {
    const name = `proxy/${n.name}`;
    // Two meshes with the same trust domain share node addresses (plan.ts), so another mesh on this
    // machine could answer our readiness probe: refuse clearly instead.
    const [adminHost, adminPort] = splitHostPort(n.admin);
    for (const [host, port] of [
      [adminHost, adminPort],
      [n.address, tunnelPort],
    ] as const) {
      if (await probeOnce({ type: 'tcp', host, port }, 500))
        throw new WeftError(
          'WEFT_UP_ADDRESS_IN_USE',
          `${host}:${port} (node ${n.name}) is already in use, probably by another weft up or weft proxy on this machine; stop it, or give your Nodes other addresses`,
        );
    }
    this.#supervisor.start({
      name,
      command: this.#o.execPath,
      args: [this.#o.entry, 'proxy', '--node', n.name, '--state-dir', this.#o.stateDir, '--admin', n.admin],
      env: this.#childEnv({}),
      cwd: this.#o.cwd,
      logFile: join(this.#o.stateDir, 'logs', `proxy-${n.name}.log`),
    });
    await waitReady(
      `node proxy ${n.name}`,
      { type: 'http', host: adminHost, port: adminPort, path: '/ready' },
      {
        clock: this.#o.clock,
        timeoutMs: this.#o.startTimeoutMs ?? 60_000,
        check: () => this.#checkNotStopping(),
      },
    ).catch((err: unknown) => {
      throw withLog(err, join(this.#o.stateDir, 'logs', `proxy-${n.name}.log`));
    });
  }

  async #stopProxy(n: PlannedNode, graceMs: number): Promise<void> {
    await this.#supervisor.stop(`proxy/${n.name}`, graceMs);
    delete this.#pids.proxies[n.name];
    this.#writePids();
  }

  async #startInstance(i: PlannedInstance): Promise<void> {
    const logFile = join(this.#o.stateDir, 'logs', `${i.namespace}-${i.instance}.log`);
    this.#supervisor.start({
      name: i.key,
      command: i.command,
      args: i.args,
      env: this.#childEnv(i.env),
      cwd: i.cwd,
      logFile,
    });
    if (i.readiness.type === 'none') return;
    const probe = i.readiness;
    await waitReady(`instance ${i.key}`, probe, {
      clock: this.#o.clock,
      timeoutMs: this.#o.startTimeoutMs ?? 60_000,
      check: () => this.#checkNotStopping(),
    }).catch((err: unknown) => {
      throw withLog(err, logFile);
    });
    if (this.#o.verbose) this.#event('ready', `${i.key} ready (${describeProbe(probe)})`);
  }

  async #stopInstance(i: PlannedInstance, graceMs: number): Promise<void> {
    await this.#supervisor.stop(i.key, graceMs);
    delete this.#pids.instances[i.key];
    this.#writePids();
  }

  #tunnelPort(resources: readonly Resource[], node: string): number {
    const n = resources.find((r) => r.kind === 'Node' && r.metadata.name === node);
    return n ? nodeTunnelPort(n as Resource<NodeSpec>) : 15008;
  }

  #childEnv(extra: Record<string, string>): Record<string, string | undefined> {
    const env: Record<string, string | undefined> = { ...this.#o.env };
    // `node` in a workload's command means the Node.js weft runs on.
    env.PATH = [dirname(this.#o.execPath), env.PATH].filter(Boolean).join(delimiter);
    delete env.WEFT_TOKEN;
    return { ...env, ...extra };
  }

  #checkNotStopping(): void {
    if (this.#stopping) throw new WeftError('WEFT_UP_STOPPED', 'weft up is stopping');
  }

  #onEvent(e: SupervisorEvent): void {
    const target =
      e.name === 'control'
        ? { set: (v: number | null) => (this.#pids.control = v) }
        : e.name.startsWith('proxy/')
          ? { set: (v: number | null) => (this.#pids.proxies[e.name.slice(6)] = v) }
          : { set: (v: number | null) => (this.#pids.instances[e.name] = v) };
    if (e.type === 'start') {
      target.set(e.pid);
      if (this.#o.verbose || e.attempt > 0) this.#event('start', `${e.name} started (pid ${e.pid})`);
    } else if (e.type === 'exit') {
      target.set(null);
      if (!e.expected)
        this.#event(
          'exit',
          `${e.name} exited (${e.signal ? `signal ${e.signal}` : `code ${e.code}`}); see its log`,
        );
      else if (this.#o.verbose) this.#event('stop', `${e.name} stopped`);
    } else if (e.type === 'restart') {
      this.#event('restart', `restarting ${e.name} in ${e.delayMs} ms (attempt ${e.attempt})`);
    } else {
      this.#event('exit', `${e.name}: ${e.message}`);
    }
    this.#writePids();
  }

  #writePids(): void {
    try {
      writePidsFile(this.#o.stateDir, this.#pids);
    } catch (err) {
      this.#event('exit', `cannot write pids.json: ${errorMessage(err)}`);
    }
  }

  #event(
    kind: 'start' | 'exit' | 'restart' | 'stop' | 'ready' | 'apply' | 'ack' | 'reload' | 'nack' | 'deny',
    text: string,
  ): void {
    if (!this.#plan && (kind === 'start' || kind === 'stop')) return;
    const time = new Date(this.#o.clock.now()).toISOString().slice(11, 19);
    const color =
      kind === 'exit' || kind === 'nack'
        ? 'red'
        : kind === 'deny'
          ? 'magenta'
          : kind === 'restart'
            ? 'yellow'
            : kind === 'ack'
              ? 'green'
              : 'cyan';
    this.#o.out.write(
      `${paint(time, 'dim', this.#o.color)} ${paint(kind.padEnd(7), color, this.#o.color)} ${text}\n`,
    );
  }

  #pollStatus(): void {
    const interval = this.#o.statusIntervalMs ?? 1000;
    const tick = async () => {
      if (this.#stopping || !this.#client) return;
      this.#reportDenials();
      try {
        this.#reportStatus(await this.#client.status());
      } catch (err) {
        if (this.#o.verbose) this.#event('exit', `status poll failed: ${errorMessage(err)}`);
      }
      if (!this.#stopping) this.#statusTimer = this.#o.clock.setTimeout(() => void tick(), interval);
    };
    void tick();
  }

  /** Denials the node proxies logged since the last tick, one event each. */
  #reportDenials(): void {
    for (const n of this.#plan?.nodes ?? []) {
      let tail = this.#tails.get(n.name);
      if (!tail)
        this.#tails.set(n.name, (tail = new LogTail(join(this.#o.stateDir, 'logs', `proxy-${n.name}.log`))));
      for (const line of tail.read()) {
        const text = denialEvent(line);
        if (text) this.#event('deny', text);
      }
    }
  }

  #reportStatus(s: StatusResponse): void {
    for (const p of s.proxies) {
      const wasConnected = this.#connected.get(p.node);
      if (wasConnected !== undefined && wasConnected !== p.connected)
        this.#event(
          p.connected ? 'ack' : 'exit',
          `${p.node} ${p.connected ? 'reconnected to' : 'disconnected from'} the control plane`,
        );
      this.#connected.set(p.node, p.connected);
      const prev = this.#acked.get(p.node);
      if (p.ackedVersion && p.ackedVersion !== prev) {
        this.#acked.set(p.node, p.ackedVersion);
        if (prev !== undefined || this.#o.verbose)
          this.#event('ack', `${p.node} acked config ${p.ackedVersion} (revision ${s.revision})`);
      }
      if (p.lastNack && this.#acked.get(`nack:${p.node}`) !== p.lastNack.version) {
        this.#acked.set(`nack:${p.node}`, p.lastNack.version);
        this.#event('nack', `${p.node} rejected config ${p.lastNack.version}: ${p.lastNack.message}`);
      }
    }
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

/** The last lines of a log file, indented, for error messages. */
function tail(path: string, lines = 8): string {
  if (!existsSync(path)) return '';
  try {
    const text = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines);
    return text.length ? `\n  last lines of the log:\n    ${text.join('\n    ')}` : '';
  } catch {
    return '';
  }
}

function withLog(err: unknown, logFile: string): unknown {
  if (err instanceof WeftError && err.code === 'WEFT_UP_NOT_READY')
    return new WeftError(err.code, `${err.message}; see ${logFile}${tail(logFile)}`, { cause: err });
  return err;
}
