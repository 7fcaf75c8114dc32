/**
 * The control-plane benchmark (../shared/BENCHMARKS.md, "Control-plane benchmark"):
 *
 *   npx node bench/control/run.ts [--quick] [--nodes 100,1000] [--applies 10] [--cpu-prof]
 *
 * For each size N it starts `weft control` as a child process on a fresh temp state directory
 * (trust domain cp-bench.test), applies a mesh of N Nodes with two workloads each plus services,
 * routes and policies (bench/control/mesh.ts), then, in this process:
 *
 * 1. times attestation alone (POST /v1/nodes/{n}/attest with the real join token, keys made first);
 * 2. connects N simulated proxies — the real `connectControlPlane` client (fresh key, attestation,
 *    gRPC push stream over mTLS, ACK per snapshot) — a bounded number at a time, and waits until
 *    `/v1/status` shows every one acked;
 * 3. performs K applies, each changing one Service or AuthorizationPolicy (every node's snapshot
 *    moves), and measures per proxy the time from the API call to its client's onSnapshot (client
 *    view) and to the first `/v1/status` poll showing its ACK (control plane's view), with the
 *    control plane's CPU-seconds per apply from /proc and this process's own CPU;
 * 4. signs one SVID per identity placed on the nodes through SignWorkload, many in flight.
 *
 * The control plane's peak RSS is sampled from /proc (bench/macro/proc.ts), as is its CPU. Only the
 * pid started here is stopped (also on SIGINT/SIGTERM); everything listens on 127.0.0.1; every wait
 * is bounded. Results: bench/results/control-<date>-<sha>.{json,md}; the markdown is printed.
 * `--cpu-prof` runs the control plane under `node --cpu-prof` into bench/work/control-bench/.
 */
import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ControlClient } from '../../src/api/client/index.ts';
import type { StatusResponse } from '../../src/api/client/index.ts';
import type { Snapshot } from '../../src/api/index.ts';
import { createLogger, systemClock } from '../../src/lib/index.ts';
import type { Logger } from '../../src/lib/index.ts';
import { connectControlPlane } from '../../src/proxy/control-client/index.ts';
import type { ControlSession } from '../../src/proxy/control-client/index.ts';
import { generateKeyAndCsr } from '../../src/proxy/identity/index.ts';
import { cpuSecondsOfTrees, ProcessSet, RssSampler, type Started } from '../macro/proc.ts';
import { benchMesh, changeFor, type BenchMesh } from './mesh.ts';
import {
  AckTracker,
  controlMarkdown,
  latencySummary,
  summarizeApplies,
  type ApplyRecord,
  type SizeResult,
} from './report.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WORK = join(ROOT, 'bench', 'work', 'control-bench');
const RESULTS = join(ROOT, 'bench', 'results');
const TRUST_DOMAIN = 'cp-bench.test';

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

interface Plan {
  sizes: number[];
  applies: number;
  connectConcurrency: number;
  attestCalls: number;
  attestConcurrency: number;
  svidCap: number;
  signConcurrency: number;
  pollMs: number;
  applyTimeoutMs: number;
  connectTimeoutMs: number;
  cpuProf: boolean;
}

const now = (): number => performance.now();
const clientCpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Retries a read-only API call whose connection was lost: while the control plane's event loop is
 * blocked publishing (seconds at N = 1,000) its idle keep-alive sockets expire, and the next call
 * on one of them fails with WEFT_CLIENT_UNREACHABLE although the server is up.
 */
async function retried<T>(call: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (i >= attempts || (err as { code?: string }).code !== 'WEFT_CLIENT_UNREACHABLE') throw err;
      await delay(100 * i);
    }
  }
}

/** Waits for `check` to return a value, polling every `everyMs`, at most `timeoutMs`. */
async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** What the simulated proxy of one node saw: every snapshot revision with its arrival time. */
interface SimProxy {
  node: string;
  session: ControlSession | undefined;
  seen: { revision: number; t: number }[];
  firstSnapshot: Promise<number>;
}

/** The shared state of one size's run, so SIGINT can stop whatever exists. */
interface Running {
  procs: ProcessSet;
  proxies: SimProxy[];
  stateDir: string | undefined;
}

async function runSize(
  n: number,
  plan: Plan,
  running: Running,
  stopping: () => boolean,
): Promise<SizeResult> {
  const t0Size = now();
  const stampOfRun = new Date().toISOString();
  const warnings: string[] = [];
  mkdirSync(WORK, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'weft-cp-bench-'));
  running.stateDir = stateDir;
  const profDir = join(WORK, `cpu-prof-${n}`);
  if (plan.cpuProf) {
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
  }
  const control: Started = running.procs.start(
    'weft control',
    process.execPath,
    [
      ...(plan.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
      join(ROOT, 'src', 'bin', 'weft.ts'),
      'control',
      '--state-dir',
      stateDir,
      '--host',
      '127.0.0.1',
      '--trust-domain',
      TRUST_DOMAIN,
    ],
    { cwd: ROOT, logFile: join(WORK, `control-${n}.log`), cpus: null, graceMs: 20_000 },
  );
  log(`N=${n}: weft control pid ${control.pid}, state ${stateDir}`);
  const controlFile = await waitFor(
    'control.json from the started control plane',
    () => {
      try {
        const cf = JSON.parse(readFileSync(join(stateDir, 'control.json'), 'utf8')) as {
          apiUrl: string;
          pid: number;
        };
        return cf.pid === control.pid ? cf : undefined;
      } catch {
        return undefined;
      }
    },
    30_000,
  );
  const token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
  const joinToken = readFileSync(join(stateDir, 'join-token'), 'utf8').trim();
  const api = new ControlClient({
    baseUrl: controlFile.apiUrl,
    token,
    actor: 'cp-bench',
    timeoutMs: 120_000,
  });
  const rss = new RssSampler({ control: control.pid }, 250);
  let clientPeakKb = 0;
  const ownRss = setInterval(() => {
    clientPeakKb = Math.max(clientPeakKb, process.memoryUsage.rss() / 1024);
  }, 250);
  const cpuControl = (): number => cpuSecondsOfTrees([control.pid]);
  const clientLog = createWriteStream(join(WORK, `clients-${n}.log`));
  const clientLogger: Logger = createLogger({
    sink: clientLog,
    level: 'warn',
    fields: { process: 'sim-proxy' },
  });

  try {
    // The mesh.
    const mesh: BenchMesh = benchMesh({ nodes: n, trustDomain: TRUST_DOMAIN });
    let t = now();
    await api.apply(mesh.resources, { message: `cp-bench: mesh of ${n} nodes` });
    const initialApplyMs = now() - t;
    log(`N=${n}: applied ${mesh.resources.length} resources in ${initialApplyMs.toFixed(0)} ms`);

    // 1. Attestation alone, keys made first so only the call is timed.
    const attestNodes = mesh.nodes.slice(0, Math.min(n, plan.attestCalls));
    const csrs = await Promise.all(attestNodes.map((node) => generateKeyAndCsr({ commonName: node })));
    const attestMs: number[] = [];
    t = now();
    await pool(attestNodes, plan.attestConcurrency, async (node, i) => {
      const s = now();
      const res = await fetch(`${controlFile.apiUrl}/v1/nodes/${encodeURIComponent(node)}/attest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ joinToken, csrPem: csrs[i]!.csrPem }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json()) as { certificatePem?: string };
      if (res.status !== 200 || typeof body.certificatePem !== 'string')
        throw new Error(`attestation of ${node} answered ${res.status}`);
      attestMs.push(now() - s);
    });
    const attestWallS = (now() - t) / 1000;
    log(`N=${n}: ${attestNodes.length} attestations in ${attestWallS.toFixed(2)} s`);

    // 2. Connect the simulated proxies.
    let snapshotBytes = 0;
    const proxies: SimProxy[] = mesh.nodes.map((node) => {
      let resolveFirst!: (t: number) => void;
      const firstSnapshot = new Promise<number>((r) => (resolveFirst = r));
      const p: SimProxy = { node, session: undefined, seen: [], firstSnapshot };
      (p as SimProxy & { resolveFirst: (t: number) => void }).resolveFirst = resolveFirst;
      return p;
    });
    running.proxies = proxies;
    const cpuC0 = cpuControl();
    const cpuK0 = clientCpuS();
    const firstMs: number[] = [];
    t = now();
    await pool(proxies, plan.connectConcurrency, async (p) => {
      if (stopping()) return;
      const start = now();
      const resolveFirst = (p as SimProxy & { resolveFirst: (t: number) => void }).resolveFirst;
      p.session = connectControlPlane({
        apiUrl: controlFile.apiUrl,
        nodeName: p.node,
        joinToken,
        logger: clientLogger,
        clock: systemClock,
        callTimeoutMs: 30_000,
        onSnapshot: (snap: Snapshot) => {
          const at = now();
          if (p.seen.length === 0) {
            resolveFirst(at);
            if (snapshotBytes === 0) snapshotBytes = JSON.stringify(snap).length;
          }
          p.seen.push({ revision: snap.revision, t: at });
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const first = await Promise.race([
        p.firstSnapshot,
        new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), plan.connectTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (first === undefined)
        warnings.push(`${p.node}: no snapshot within ${plan.connectTimeoutMs} ms of connecting`);
      else firstMs.push(first - start);
      if (first !== undefined && firstMs.length % 100 === 0)
        log(
          `N=${n}: ${firstMs.length} proxies have their first snapshot (${((now() - t) / 1000).toFixed(1)} s)`,
        );
    });
    const status0 = await waitFor(
      `every proxy connected and acked (N=${n})`,
      async () => {
        const s = await retried(() => api.status());
        const ok =
          s.proxies.length === n &&
          s.proxies.every((x) => x.connected && x.ackedVersion !== '' && x.ackedVersion === x.latestVersion);
        return ok ? s : undefined;
      },
      plan.connectTimeoutMs,
      200,
    );
    const connect = {
      concurrency: plan.connectConcurrency,
      firstSnapshot: latencySummary(firstMs),
      allAckedS: (now() - t) / 1000,
      controlCpuS: cpuControl() - cpuC0,
      clientCpuS: clientCpuS() - cpuK0,
    };
    log(`N=${n}: ${n} proxies connected and acked in ${connect.allAckedS.toFixed(1)} s`);

    // 3. The measured applies.
    const applies: ApplyRecord[] = [];
    let before: StatusResponse = status0;
    for (let k = 0; k < plan.applies && !stopping(); k++) {
      const { resource, what } = changeFor(mesh, k);
      const tracker = new AckTracker(new Map(before.proxies.map((p) => [p.node, p.latestVersion])));
      const c0 = cpuControl();
      const k0 = clientCpuS();
      const t0 = now();
      const message = `cp-bench ${stampOfRun}: apply ${k + 1}: ${what}`;
      let res: { revision: number; unchanged: boolean };
      try {
        res = await api.apply([resource], { message });
      } catch (err) {
        // The answer can be lost while the control plane is busy publishing (seen at N = 1,000);
        // the change may still have been committed: find it in the history and go on measuring.
        const failedAfter = now() - t0;
        const rev = await waitFor(
          `apply ${k + 1} in the history`,
          async () => (await retried(() => api.history({ limit: 5 }))).find((r) => r.message === message),
          plan.applyTimeoutMs,
          200,
        );
        warnings.push(
          `apply ${k + 1}: the API call failed after ${failedAfter.toFixed(0)} ms (${(err as Error).message}); revision ${rev.revision} was committed, so its propagation is measured from the call`,
        );
        res = { revision: rev.revision, unchanged: false };
      }
      const apiMs = now() - t0;
      if (res.unchanged) warnings.push(`apply ${k + 1} (${what}) changed nothing`);
      const received = (): number =>
        proxies.filter((p) => p.seen.some((s) => s.revision >= res.revision)).length;
      let allAckedMs: number | null = null;
      const deadline = t0 + plan.applyTimeoutMs;
      for (;;) {
        const s = await retried(() => api.status());
        const at = now() - t0;
        tracker.observe(s.proxies, at);
        before = s;
        if (tracker.done() && allAckedMs === null) allAckedMs = at;
        if ((tracker.done() && received() === n) || now() > deadline) break;
        await delay(plan.pollMs);
      }
      const c1 = cpuControl();
      const k1 = clientCpuS();
      const receivedMs = proxies.flatMap((p) => {
        const s = p.seen.find((x) => x.revision >= res.revision);
        return s ? [s.t - t0] : [];
      });
      const rec: ApplyRecord = {
        index: k,
        what,
        revision: res.revision,
        apiMs,
        receivedMs,
        ackedMs: [...tracker.ackedAt.values()],
        allAckedMs,
        missing: tracker.missing().length,
        controlCpuS: Math.round((c1 - c0) * 100) / 100,
        clientCpuS: Math.round((k1 - k0) * 100) / 100,
      };
      applies.push(rec);
      if (rec.missing)
        warnings.push(`apply ${k + 1}: ${rec.missing} proxies did not ack within ${plan.applyTimeoutMs} ms`);
      log(
        `N=${n}: apply ${k + 1}/${plan.applies} (${what}): api ${apiMs.toFixed(0)} ms, all acked ${allAckedMs === null ? 'n/a' : allAckedMs.toFixed(0)} ms, control ${rec.controlCpuS} CPU-s, client ${rec.clientCpuS} CPU-s`,
      );
      // The next apply starts from a status where every node's latest version is the acked one.
      before = await retried(() => api.status());
    }

    // 4. SVID signing over the push channel, keys made first.
    const pairs = mesh.nodes
      .flatMap((node, i) => (mesh.identitiesByNode.get(node) ?? []).map((id) => ({ i, id })))
      .slice(0, plan.svidCap);
    const keys = await Promise.all(pairs.map((p) => generateKeyAndCsr({ spiffeId: p.id })));
    const signMs: number[] = [];
    let signErrors = 0;
    const sc0 = cpuControl();
    t = now();
    await pool(pairs, plan.signConcurrency, async (p, j) => {
      const session = proxies[p.i]?.session;
      if (!session || stopping()) return;
      const s = now();
      try {
        await session.signWorkload(p.id, keys[j]!.csrPem);
        signMs.push(now() - s);
      } catch (err) {
        signErrors++;
        if (signErrors <= 3) warnings.push(`SignWorkload ${p.id}: ${(err as Error).message}`);
      }
    });
    const signWallS = (now() - t) / 1000;
    const signing = {
      svids: signMs.length,
      concurrency: plan.signConcurrency,
      wallS: signWallS,
      perSecond: signWallS > 0 ? signMs.length / signWallS : 0,
      latency: latencySummary(signMs),
      controlCpuS: Math.round((cpuControl() - sc0) * 100) / 100,
      errors: signErrors,
    };
    log(`N=${n}: ${signing.svids} SVIDs in ${signWallS.toFixed(2)} s (${signing.perSecond.toFixed(0)}/s)`);

    rss.stop();
    return {
      nodes: n,
      workloads: n * mesh.options.workloadsPerNode,
      services: mesh.services.length,
      resources: mesh.resources.length,
      snapshotBytes,
      initialApplyMs,
      attestation: {
        calls: attestMs.length,
        concurrency: plan.attestConcurrency,
        latency: latencySummary(attestMs),
        perSecond: attestWallS > 0 ? attestMs.length / attestWallS : 0,
      },
      connect,
      applies,
      signing,
      controlPeakRssMb: (rss.peakKb['control'] ?? 0) / 1024,
      clientPeakRssMb: clientPeakKb / 1024,
      wallS: (now() - t0Size) / 1000,
      warnings,
    };
  } finally {
    rss.stop();
    clearInterval(ownRss);
    await closeAll(running);
    clientLog.end();
  }
}

/** Closes every simulated proxy, stops the control plane this run started, removes its state dir. */
async function closeAll(running: Running): Promise<void> {
  const sessions = running.proxies.map((p) => p.session).filter((s): s is ControlSession => s !== undefined);
  running.proxies = [];
  await Promise.race([Promise.all(sessions.map((s) => s.close())), delay(30_000)]);
  await running.procs.stopAll();
  if (running.stateDir) rmSync(running.stateDir, { recursive: true, force: true });
  running.stateDir = undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      nodes: { type: 'string' },
      applies: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      svids: { type: 'string' },
      'apply-timeout': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npx node bench/control/run.ts [--quick] [--nodes 100,1000] [--applies 10] [--connect-concurrency 50]\n' +
        '                                   [--svids 2000] [--apply-timeout 120] [--cpu-prof]\n',
    );
    return 0;
  }
  const int = (v: string | undefined, d: number, what: string): number => {
    if (v === undefined) return d;
    const x = Number(v);
    if (!Number.isInteger(x) || x <= 0) throw new Error(`--${what} must be a positive integer (got ${v})`);
    return x;
  };
  if (process.platform !== 'linux') throw new Error('the control-plane benchmark reads /proc: Linux only');
  const plan: Plan = {
    sizes: values.quick
      ? [100]
      : (values.nodes ?? '100,1000').split(',').map((s) => int(s.trim(), 0, 'nodes')),
    applies: int(values.applies, 10, 'applies'),
    connectConcurrency: int(values['connect-concurrency'], 50, 'connect-concurrency'),
    attestCalls: 100,
    attestConcurrency: 8,
    svidCap: int(values.svids, 2000, 'svids'),
    signConcurrency: 32,
    pollMs: 20,
    applyTimeoutMs: int(values['apply-timeout'], 120, 'apply-timeout') * 1000,
    connectTimeoutMs: 300_000,
    cpuProf: values['cpu-prof'],
  };

  const load0 = loadavg()[0]!;
  const running: Running = { procs: new ProcessSet(), proxies: [], stateDir: undefined };
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: closing the simulated proxies and stopping the control plane this run started`);
    void closeAll(running).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: SizeResult[] = [];
  for (const n of plan.sizes) {
    if (stopping) break;
    results.push(await runSize(n, plan, running, () => stopping));
  }
  if (stopping) return 130;
  const load1 = loadavg()[0]!;

  let sha = 'nogit';
  try {
    const out = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    if (/^[0-9a-f]{4,40}$/.test(out)) sha = out;
  } catch {
    /* not a git checkout */
  }
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const notes = [
    'Simulated proxies are the real proxy client (`connectControlPlane`: fresh P-256 key, attestation with the join token, gRPC push stream over mTLS, ACK per snapshot) in one Node process; only the data plane is absent. Each proxy is its own gRPC channel (TLS connection).',
    `Each apply changes one resource (alternately a Service's targetPort and an AuthorizationPolicy's paths); every snapshot carries the whole service and policy set, so every proxy receives every apply. ACK times come from polling \`/v1/status\` every ${plan.pollMs} ms (so they are late by up to one poll plus its answer time); receipt times from each client's onSnapshot (performance.now()).`,
    'Control CPU per apply is user+system of the `weft control` process from /proc, from the API call until the last ACK, including answering the status polls. Client CPU is this process (all simulated proxies, the poller, the API client).',
    `Load average (1 min) before / after: ${load0.toFixed(2)} / ${load1.toFixed(2)} on ${cpus().length} CPUs${Math.max(load0, load1) > cpus().length / 2 ? ' — the machine was shared with other work; absolute figures are indicative.' : '.'}`,
  ];
  if (plan.cpuProf)
    notes.push(
      `CPU profiles of the control plane: ${join('bench', 'work', 'control-bench')}/cpu-prof-<N>/*.cpuprofile (open in Chrome DevTools).`,
    );
  for (const r of results) {
    const s = summarizeApplies(r.applies);
    const ctl = s.controlCpuPerApplyS?.median ?? 0;
    const cli = s.clientCpuPerApplyS?.median ?? 0;
    const all = (s.allAckedMs?.median ?? 0) / 1000;
    if (all > 0)
      notes.push(
        `N=${r.nodes}: per apply the control plane used ${ctl.toFixed(2)} CPU-s and this process ${cli.toFixed(2)} CPU-s over a median ${all.toFixed(2)} s to the last ACK (${((ctl / all) * 100).toFixed(0)} % / ${((cli / all) * 100).toFixed(0)} % of one core).`,
      );
  }
  const meta = {
    date: stamp,
    gitSha: sha,
    command: `npx node bench/control/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.version}`,
    loadAverage: { before: load0, after: load1, cpus: cpus().length },
    notes,
  };
  const md = controlMarkdown(results, meta);
  mkdirSync(RESULTS, { recursive: true });
  const base = join(RESULTS, `control-${stamp}-${sha}`);
  writeFileSync(`${base}.json`, JSON.stringify({ meta, plan, results }, null, 1) + '\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md + '\n');
  log(`results: ${base}.{json,md}${existsSync(WORK) ? `; logs in ${WORK}` : ''}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // gRPC keeps timers for closed channels for a moment; nothing of ours is left running.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (err: unknown) => {
    process.stderr.write(
      `control bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 500).unref();
  },
);
