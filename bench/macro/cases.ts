/**
 * The cases of the data-path benchmark behind one interface, so the runner treats the baseline, the
 * peer proxies and Weft alike: `available()` says why a case cannot run here (a missing binary, Weft
 * not runnable yet) instead of failing the whole run; `start()` brings up proxy B then proxy A on
 * the two-hop mTLS path of ../shared/BENCHMARKS.md and returns where the load generator aims and
 * which pids are the proxies; `stop()` stops only what it started.
 *
 * Peer configurations live in bench/peers/ (templates: {{A_PORT}}, {{B_PORT}}, {{UP_PORT}}); they are
 * the team's peer-bench configs: one worker each, keep-alive on both hops, TLS 1.3 on the A→B hop
 * with a client certificate, no access logs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { isAlive, type ProcessSet, type Started } from './proc.ts';

/** Which CPUs each role is pinned to (taskset lists); null = not pinned. */
export interface CpuLayout {
  name: 'nodes' | 'split' | 'none';
  gen: string | null;
  a: string | null;
  b: string | null;
  up: string | null;
  description: string;
}

/** The CPU layouts of peer-bench (`--pin`); on a single CPU nothing can be pinned. */
export function cpuLayout(name: string, ncpu: number): CpuLayout {
  if (name === 'none' || ncpu < 2) {
    return {
      name: 'none',
      gen: null,
      a: null,
      b: null,
      up: null,
      description: 'nothing pinned (scheduler decides)',
    };
  }
  if (name === 'split') {
    return {
      name: 'split',
      gen: '0',
      up: '0',
      a: '1',
      b: '1',
      description: 'cpu0: load generator + upstream; cpu1: proxy A + proxy B',
    };
  }
  if (name === 'nodes') {
    return {
      name: 'nodes',
      gen: '0',
      a: '0',
      b: '1',
      up: '1',
      description: 'cpu0: load generator + proxy A ("client node"); cpu1: proxy B + upstream ("server node")',
    };
  }
  throw new Error(`--pin must be nodes, split or none (got ${name})`);
}

export interface CaseContext {
  repoRoot: string;
  /** bench/work: certs, rendered configs, logs, binaries. */
  workDir: string;
  peersDir: string;
  binDir: string;
  ports: { a: number; b: number; up: number };
  pins: CpuLayout;
  procs: ProcessSet;
  /** Node.js 24 binary (the one running the harness) for node-* and weft. */
  nodeBin: string;
  log: (msg: string) => void;
}

export interface CaseHandle {
  targetHost: string;
  targetPort: number;
  /** Proxy root pids whose process trees are measured (CPU, RSS), in order A, B. */
  pids: number[];
  /** Labels of `pids` (e.g. `A`, `B`, `node-1`). */
  pidLabels: string[];
  /** The upstream serving this case, when the case brings its own (Weft runs its own instance). */
  upstreamPid?: number;
  /**
   * For cases whose processes are supervised by someone else (weft up restarts crashed proxies):
   * the current pids, re-read before and after every run (and re-pinned when they changed).
   */
  refresh?: () => { pids: number[]; upstreamPid?: number } | null;
}

export interface BenchCase {
  name: string;
  kind: 'baseline' | 'peer' | 'weft';
  description: string;
  /** true, or the reason the case is skipped on this machine. */
  available(): Promise<string | true>;
  start(ctx: CaseContext): Promise<CaseHandle>;
  stop(): Promise<void>;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Copies a template from bench/peers into the work dir with the ports filled in. */
export function renderTemplate(text: string, vars: Record<string, string | number>): string {
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

function render(ctx: CaseContext, file: string): string {
  const text = readFileSync(join(ctx.peersDir, file), 'utf8');
  const out = join(ctx.workDir, file);
  writeFileSync(
    out,
    renderTemplate(text, { A_PORT: ctx.ports.a, B_PORT: ctx.ports.b, UP_PORT: ctx.ports.up }),
  );
  return out;
}

/** One GET; resolves with the status code or an error message. Bounded by `timeoutMs`. */
export function probe(host: string, port: number, timeoutMs = 1000): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port,
        path: '/',
        method: 'GET',
        agent: false,
        timeout: timeoutMs,
        headers: { host: 'upstream.mesh.local' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (e) => resolve(e.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

/** Polls until GET returns 200 or `deadlineMs` passes; throws with the last answer. */
export async function waitForHttp(
  host: string,
  port: number,
  deadlineMs: number,
  alive: () => boolean = () => true,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last: number | string = 'no attempt';
  while (Date.now() < end) {
    if (!alive()) throw new Error(`a process of the case exited (last probe: ${last})`);
    last = await probe(host, port);
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`http://${host}:${port}/ did not answer 200 within ${deadlineMs} ms (last: ${last})`);
}

export const directCase: BenchCase = {
  name: 'direct',
  kind: 'baseline',
  description: 'load generator → upstream, no proxy (the baseline)',
  available: () => Promise.resolve(true),
  start: (ctx) =>
    Promise.resolve({ targetHost: '127.0.0.1', targetPort: ctx.ports.up, pids: [], pidLabels: [] }),
  stop: () => Promise.resolve(),
};

interface Launch {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  /** Templates (in bench/peers) to render into the work dir first. */
  files?: string[];
  dirs?: string[];
}

/** A peer: proxy B and proxy A as two processes started from the work dir. */
function peerCase(o: {
  name: string;
  description: string;
  needs: string;
  a: (ctx: CaseContext) => Launch;
  b: (ctx: CaseContext) => Launch;
}): BenchCase {
  let started: Started[] = [];
  let procs: ProcessSet | undefined;
  const launch = (ctx: CaseContext, role: 'a' | 'b', l: Launch): Started => {
    for (const f of l.files ?? []) render(ctx, f);
    for (const d of l.dirs ?? []) mkdirSync(join(ctx.workDir, d), { recursive: true });
    return ctx.procs.start(`${o.name}-${role}`, l.cmd, l.args, {
      cwd: ctx.workDir,
      logFile: join(ctx.workDir, 'logs', `${o.name}-${role}.log`),
      cpus: role === 'a' ? ctx.pins.a : ctx.pins.b,
      env: { ...process.env, ...l.env },
    });
  };
  return {
    name: o.name,
    kind: 'peer',
    description: o.description,
    available: () =>
      Promise.resolve(
        hasCommand(o.needs) ? true : `${o.needs} is not installed (bash bench/peers/install.sh)`,
      ),
    async start(ctx) {
      procs = ctx.procs;
      const b = launch(ctx, 'b', o.b(ctx));
      started = [b];
      const a = launch(ctx, 'a', o.a(ctx));
      started.push(a);
      await waitForHttp('127.0.0.1', ctx.ports.a, 10_000, () =>
        started.every((s) => isAlive(s.pid) && procs!.started.has(s.pid)),
      );
      return {
        targetHost: '127.0.0.1',
        targetPort: ctx.ports.a,
        pids: [a.pid, b.pid],
        pidLabels: ['A', 'B'],
      };
    },
    async stop() {
      const p = procs;
      const s = started;
      started = [];
      if (p) for (const x of s.reverse()) await p.stop(x);
    },
  };
}

const nginx =
  (role: 'a' | 'b') =>
  (ctx: CaseContext): Launch => ({
    cmd: 'nginx',
    args: [
      '-p',
      join(ctx.workDir, `nginx-${role}`) + '/',
      '-c',
      join(ctx.workDir, `nginx-${role}.conf`),
      '-e',
      'stderr',
    ],
    files: [`nginx-${role}.conf`],
    dirs: [`nginx-${role}`],
  });
const caddy =
  (role: 'a' | 'b') =>
  (ctx: CaseContext): Launch => {
    const home = join(ctx.workDir, 'caddy');
    return {
      cmd: 'caddy',
      args: ['run', '--config', `Caddyfile-${role}`, '--adapter', 'caddyfile'],
      env: { HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home, GOMAXPROCS: '1' },
      files: [`Caddyfile-${role}`],
      dirs: ['caddy'],
    };
  };
const nodeProxy =
  (script: string, role: 'a' | 'b') =>
  (ctx: CaseContext): Launch => ({
    cmd: ctx.nodeBin,
    args: [join(ctx.peersDir, script), role],
    env: {
      A_PORT: String(ctx.ports.a),
      B_PORT: String(ctx.ports.b),
      UP_PORT: String(ctx.ports.up),
      CERTS: join(ctx.workDir, 'certs'),
    },
  });

export const peerCases: BenchCase[] = [
  peerCase({
    name: 'haproxy-tcp',
    description: 'HAProxy mode tcp + ssl: per-connection mTLS, no HTTP parsing (the L4 peer)',
    needs: 'haproxy',
    a: () => ({ cmd: 'haproxy', args: ['-db', '-f', 'haproxy-tcp-a.cfg'], files: ['haproxy-tcp-a.cfg'] }),
    b: () => ({ cmd: 'haproxy', args: ['-db', '-f', 'haproxy-tcp-b.cfg'], files: ['haproxy-tcp-b.cfg'] }),
  }),
  peerCase({
    name: 'haproxy',
    description: 'HAProxy mode http, keep-alive pools on both hops (L7 peer)',
    needs: 'haproxy',
    a: () => ({ cmd: 'haproxy', args: ['-db', '-f', 'haproxy-a.cfg'], files: ['haproxy-a.cfg'] }),
    b: () => ({ cmd: 'haproxy', args: ['-db', '-f', 'haproxy-b.cfg'], files: ['haproxy-b.cfg'] }),
  }),
  peerCase({
    name: 'nginx',
    description: 'nginx proxy_pass with upstream keepalive (L7 peer)',
    needs: 'nginx',
    a: nginx('a'),
    b: nginx('b'),
  }),
  peerCase({
    name: 'caddy',
    description: 'Caddy reverse_proxy, GOMAXPROCS=1 (L7 peer)',
    needs: 'caddy',
    a: caddy('a'),
    b: caddy('b'),
  }),
  peerCase({
    name: 'node-l4',
    description: 'naive Node.js L4: net server piped into tls.connect per connection',
    needs: 'sh',
    a: nodeProxy('node-l4.mjs', 'a'),
    b: nodeProxy('node-l4.mjs', 'b'),
  }),
  peerCase({
    name: 'node-l7',
    description: 'naive Node.js L7: node:http → https.request with keep-alive agents',
    needs: 'sh',
    a: nodeProxy('node-l7.mjs', 'a'),
    b: nodeProxy('node-l7.mjs', 'b'),
  }),
];
