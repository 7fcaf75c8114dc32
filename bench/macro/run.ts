/**
 * `npm run bench`: the data-path benchmark of ../shared/BENCHMARKS.md. Builds the C load generator
 * and upstream, makes throw-away certificates, starts one upstream for every case, then for each
 * round runs every available case in turn (interleaved: A B C … A B C …): open-loop runs at fixed
 * rates, then a closed-loop maximum-throughput run, measuring proxy CPU from /proc around each run
 * and sampling proxy RSS every 0.5 s. Writes bench/results/<date>-<sha>.{json,md,svg} and
 * bench/results/latest.md, and prints the markdown.
 *
 * Everything binds and connects to loopback only; every load run is bounded in time; only processes
 * this harness started are stopped (also on Ctrl-C). See docs/benchmarks.md.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cpuLayout,
  directCase,
  hasCommand,
  peerCases,
  waitForHttp,
  type BenchCase,
  type CaseContext,
  type CaseHandle,
  type CpuLayout,
} from './cases.ts';
import { cpuSecondsOfTrees, ProcessSet, RssSampler, tasksetAvailable } from './proc.ts';
import { markdownReport, latencySvg, type ReportMeta } from './report.ts';
import { parseOlgenOutput, summarize, type OlgenOutput, type RunRecord } from './results.ts';
import { growth } from './stats.ts';
import { weftCases } from './weft-case.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WORK = join(ROOT, 'bench', 'work');
const BIN = join(WORK, 'bin');
const RESULTS = join(ROOT, 'bench', 'results');
const PORTS = { a: 15001, b: 15443, up: 18080 };
const ALL_CASES: BenchCase[] = [directCase, ...peerCases, ...weftCases];

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** First line a tool prints about itself (stdout or stderr: `nginx -v` writes to stderr). */
function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim();
}

function build(): void {
  mkdirSync(BIN, { recursive: true });
  for (const name of ['olgen', 'upstream']) {
    const src = join(ROOT, 'bench', 'macro', 'c', `${name}.c`);
    const out = join(BIN, name);
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    execFileSync('gcc', ['-O2', '-Wall', '-o', out, src], { stdio: 'inherit' });
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The results file: compact (histogram buckets make it large), one raw run record per line. */
function resultsJson(head: Record<string, unknown>, records: readonly unknown[]): string {
  const top = JSON.stringify(head);
  return `${top.slice(0, -1)},"records":[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
}

let currentLoad: ChildProcess | undefined;

/** Runs olgen pinned to the generator CPU; bounded by its own deadline plus a hard timeout here. */
function runOlgen(args: string[], pins: CpuLayout, boundS: number): Promise<OlgenOutput> {
  const olgen = join(BIN, 'olgen');
  const [file, argv] =
    pins.gen !== null && tasksetAvailable() ? ['taskset', ['-c', pins.gen, olgen, ...args]] : [olgen, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    currentLoad = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (boundS + 10) * 1000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      currentLoad = undefined;
      if (code !== 0) return reject(new Error(`olgen exited with ${code}: ${err.trim() || out.trim()}`));
      try {
        resolve(parseOlgenOutput(out));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

interface Plan {
  rounds: number;
  rates: number[];
  durationS: number;
  warmupS: number;
  caseWarmS: number;
  maxDurationS: number;
  conns: number;
  maxConns: number;
}

async function measure(
  round: number,
  c: BenchCase,
  h: CaseHandle,
  upstreamPid: number,
  test: string,
  args: string[],
  boundS: number,
  pins: CpuLayout,
  rssEveryMs = 500,
  keepSeries = false,
): Promise<RunRecord & { series?: { tS: number; kb: Record<string, number> }[] }> {
  const before = h.refresh?.();
  if (before) {
    h.pids = before.pids;
    if (before.upstreamPid !== undefined) upstreamPid = h.upstreamPid = before.upstreamPid;
  }
  const roots: Record<string, number> = {};
  h.pids.forEach((pid, i) => (roots[h.pidLabels[i] ?? `p${i}`] = pid));
  const cpu0 = Object.fromEntries(Object.entries(roots).map(([k, pid]) => [k, cpuSecondsOfTrees([pid])]));
  const up0 = cpuSecondsOfTrees([upstreamPid]);
  const sampler = new RssSampler(roots, rssEveryMs, keepSeries);
  const t0 = Date.now();
  let load: OlgenOutput;
  try {
    load = await runOlgen(['-h', h.targetHost, '-p', String(h.targetPort), ...args], pins, boundS);
  } finally {
    sampler.stop();
  }
  const wallS = (Date.now() - t0) / 1000;
  const proxies = Object.fromEntries(
    Object.entries(roots).map(([k, pid]) => [
      k,
      Math.round((cpuSecondsOfTrees([pid]) - cpu0[k]!) * 100) / 100,
    ]),
  );
  const upstream = Math.round((cpuSecondsOfTrees([upstreamPid]) - up0) * 100) / 100;
  const warnings: string[] = [];
  const after = h.refresh?.();
  if (after) {
    after.pids.forEach((pid, i) => {
      if (pid !== h.pids[i])
        warnings.push(
          `${h.pidLabels[i] ?? `p${i}`} restarted during the run (pid ${h.pids[i]} → ${pid}): its CPU and RSS are incomplete`,
        );
    });
    if (after.upstreamPid !== undefined && after.upstreamPid !== upstreamPid)
      warnings.push('the upstream restarted during the run');
  }
  for (const w of warnings) log(`${c.name} ${test}: ${w}`);
  return {
    round,
    case: c.name,
    test,
    wallS,
    load,
    cpuS: { proxies, upstream },
    rssPeakKb: { ...sampler.peakKb },
    ...(warnings.length ? { warnings } : {}),
    ...(keepSeries ? { series: sampler.series } : {}),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      cases: { type: 'string' },
      rates: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'max-duration': { type: 'string' },
      conns: { type: 'string' },
      'max-conns': { type: 'string' },
      soak: { type: 'boolean', default: false },
      pin: { type: 'string', default: 'nodes' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench -- [--quick] [--cases a,b] [--rates 200,1000,2000] [--rounds 3] [--duration S] [--max-duration S]\n' +
        '                       [--conns 16] [--max-conns 64] [--pin nodes|split|none] [--soak]\n' +
        `cases: ${ALL_CASES.map((c) => c.name).join(', ')}\n`,
    );
    return 0;
  }
  const num = (v: string | undefined, d: number, what: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} must be a positive number (got ${v})`);
    return n;
  };
  const quick = values.quick;
  const plan: Plan = {
    rounds: Math.round(num(values.rounds, quick ? 1 : 3, 'rounds')),
    rates: (values.rates ?? '200,1000,2000').split(',').map((r) => num(r, 0, 'rates')),
    durationS: num(values.duration, quick ? 1.5 : 20, 'duration'),
    warmupS: quick ? 0.5 : 1,
    caseWarmS: quick ? 0.5 : 3,
    maxDurationS: num(values['max-duration'], quick ? 1.5 : 15, 'max-duration'),
    conns: Math.round(num(values.conns, 16, 'conns')),
    maxConns: Math.round(num(values['max-conns'], 64, 'max-conns')),
  };
  const pins = cpuLayout(values.pin ?? 'nodes', cpus().length);
  if (pins.name !== 'none' && !tasksetAvailable())
    throw new Error('taskset (util-linux) is needed for --pin nodes|split; use --pin none');
  const wanted = values.cases ? values.cases.split(',').map((s) => s.trim()) : ALL_CASES.map((c) => c.name);
  for (const w of wanted)
    if (!ALL_CASES.some((c) => c.name === w))
      throw new Error(`unknown case ${w} (known: ${ALL_CASES.map((c) => c.name).join(', ')})`);
  if (process.platform !== 'linux')
    throw new Error('the data-path benchmark reads /proc and uses epoll: Linux only');
  for (const t of ['gcc', 'openssl'])
    if (!hasCommand(t)) throw new Error(`${t} is needed (bash bench/peers/install.sh)`);

  const load0 = loadavg()[0]!;
  const procs = new ProcessSet();
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping everything this harness started`);
    currentLoad?.kill('SIGKILL');
    void procs.stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  build();
  for (const p of Object.values(PORTS))
    if (!(await portFree(p))) throw new Error(`port 127.0.0.1:${p} is in use; stop what uses it`);
  mkdirSync(join(WORK, 'logs'), { recursive: true });
  rmSync(join(WORK, 'certs'), { recursive: true, force: true });
  execFileSync('bash', [join(ROOT, 'bench', 'peers', 'certs.sh'), join(WORK, 'certs')], { stdio: 'inherit' });

  const ctx: CaseContext = {
    repoRoot: ROOT,
    workDir: WORK,
    peersDir: join(ROOT, 'bench', 'peers'),
    binDir: BIN,
    ports: PORTS,
    pins,
    procs,
    nodeBin: process.execPath,
    log,
  };
  const upstream = procs.start(
    'upstream',
    join(BIN, 'upstream'),
    ['-a', '127.0.0.1', '-p', String(PORTS.up)],
    {
      cwd: WORK,
      logFile: join(WORK, 'logs', 'upstream.log'),
      cpus: pins.up,
    },
  );
  const records: (RunRecord & { series?: unknown })[] = [];
  const skipped: { case: string; reason: string }[] = [];
  const soakNotes: string[] = [];
  try {
    await waitForHttp('127.0.0.1', PORTS.up, 5000);
    const cases: BenchCase[] = [];
    for (const c of ALL_CASES.filter((x) => wanted.includes(x.name))) {
      const ok = await c.available();
      if (ok === true) cases.push(c);
      else {
        log(`skip ${c.name}: ${ok}`);
        skipped.push({ case: c.name, reason: ok });
      }
    }
    log(`pinning: ${pins.description}; cases: ${cases.map((c) => c.name).join(', ') || '(none)'}`);

    const runCase = async (round: number, c: BenchCase): Promise<void> => {
      if (stopping) return;
      log(`round ${round}/${values.soak ? 1 : plan.rounds} case ${c.name}`);
      let h: CaseHandle;
      try {
        h = await c.start(ctx);
      } catch (err) {
        // Recorded, and tried again next round: a start can fail for a transient reason.
        const reason = `failed to start in round ${round}: ${(err as Error).message}`;
        log(`${c.name} ${reason}`);
        skipped.push({ case: c.name, reason });
        await c.stop();
        return;
      }
      try {
        const up = h.upstreamPid ?? upstream.pid;
        const common = ['-c', String(plan.conns)];
        await runOlgen(
          [
            '-h',
            h.targetHost,
            '-p',
            String(h.targetPort),
            '-r',
            '2000',
            ...common,
            '-d',
            String(plan.caseWarmS),
          ],
          pins,
          plan.caseWarmS,
        );
        if (values.soak) {
          const soakS = values.duration === undefined ? 600 : plan.durationS;
          const r = await measure(
            round,
            c,
            h,
            up,
            'soak',
            ['-r', '2000', ...common, '-d', String(soakS), '-w', '1'],
            soakS + 1,
            pins,
            10_000,
            true,
          );
          records.push(r);
          for (const label of h.pidLabels) {
            const g = growth((r.series ?? []).map((s) => ({ tS: s.tS, value: (s.kb[label] ?? 0) / 1024 })));
            if (g)
              soakNotes.push(
                `${c.name} ${label}: RSS ${g.first.toFixed(1)} → ${g.last.toFixed(1)} MB over ${soakS} s at 2,000 req/s (${g.delta >= 0 ? '+' : ''}${g.delta.toFixed(1)} MB, trend ${g.slopePerMin.toFixed(2)} MB/min)`,
              );
          }
          return;
        }
        for (const rate of plan.rates) {
          records.push(
            await measure(
              round,
              c,
              h,
              up,
              `rate${rate}`,
              ['-r', String(rate), ...common, '-d', String(plan.durationS), '-w', String(plan.warmupS)],
              plan.durationS + plan.warmupS,
              pins,
            ),
          );
        }
        records.push(
          await measure(
            round,
            c,
            h,
            up,
            'max',
            ['-m', '-c', String(plan.maxConns), '-d', String(plan.maxDurationS), '-w', String(plan.warmupS)],
            plan.maxDurationS + plan.warmupS,
            pins,
          ),
        );
      } catch (err) {
        log(`${c.name}: run failed: ${(err as Error).message}`);
        skipped.push({ case: c.name, reason: `run failed in round ${round}: ${(err as Error).message}` });
      } finally {
        await c.stop();
      }
    };

    const soakCases = values.soak ? cases.filter((c) => c.kind === 'weft') : cases;
    if (values.soak && soakCases.length === 0) log('--soak runs only on weft cases, and none is available');
    for (let round = 1; round <= (values.soak ? 1 : plan.rounds) && !stopping; round++) {
      for (const c of soakCases) await runCase(round, c);
    }
  } finally {
    if (!stopping) await procs.stopAll();
  }
  if (stopping) return 130;

  const gitOut = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const sha = /^[0-9a-f]{4,40}$/.test(gitOut) ? gitOut : 'nogit';
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const peerVersions = [
    hasCommand('haproxy')
      ? sh('haproxy', ['-v'])
          .split('\n')[0]!
          .replace(/ \d{4}\/\d\d\/\d\d - https.*$/, '')
      : '',
    hasCommand('nginx') ? sh('nginx', ['-v']).replace(/^nginx version: /, '') : '',
    hasCommand('caddy') ? `caddy ${sh('caddy', ['version']).split(' ')[0]}` : '',
    `gcc ${sh('gcc', ['-dumpfullversion'])}`,
  ].filter(Boolean);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.version}${peerVersions.length ? `; ${peerVersions.join(', ')}` : ''}`;
  const summaries = summarize(records, 'direct');
  const direct = summaries.find((s) => s.case === 'direct');
  const notes = [
    `Open loop: ${plan.rates.join(', ')} req/s, ${plan.conns} keep-alive connections, ${plan.durationS} s recorded after ${plan.warmupS} s warm-up; closed loop: ${plan.maxConns} connections, ${plan.maxDurationS} s.`,
    'Topology: olgen → proxy A → mTLS (TLS 1.3, client certificate) → proxy B → upstream (C, `200 ok`); direct = olgen → upstream.',
  ];
  const dmax = direct?.tests.max;
  if (dmax?.achievedRps && dmax.genCpuS) {
    const rps = dmax.achievedRps.median;
    const gen = dmax.genCpuS.median / (plan.maxDurationS + plan.warmupS); // olgen times warm-up + recorded part
    const upShare = ((dmax.upstreamCpuPer10k?.median ?? 0) * rps) / 10_000;
    const limit =
      gen > 0.9
        ? 'the generator is the limit: direct max is a lower bound of the upstream'
        : upShare > 0.9
          ? 'the upstream is the limit there'
          : 'neither is saturated, so the limit is scheduling (both share the machine with everything else)';
    notes.push(
      `Load generator ceiling: ${Math.round(rps).toLocaleString('en-US')} req/s closed loop against direct; olgen used ${(gen * 100).toFixed(0)} % of a core ` +
        `and the upstream ${(upShare * 100).toFixed(0)} % (${limit}). Proxied cases are compared with this figure.`,
    );
  }
  const load1 = loadavg()[0]!;
  const ncpu = cpus().length;
  notes.push(
    `Machine load average (1 min) before / after the run: ${load0.toFixed(2)} / ${load1.toFixed(2)} on ${ncpu} CPUs` +
      (Math.max(load0, load1) > ncpu / 2
        ? ' — other work was competing for the CPUs: treat absolute figures as indicative, ratios from the same round as the comparison.'
        : '.'),
  );
  notes.push(...soakNotes);
  for (const r of records)
    for (const w of r.warnings ?? []) notes.push(`Warning, round ${r.round} ${r.case} ${r.test}: ${w}.`);
  const meta: ReportMeta = {
    date: stamp,
    gitSha: sha,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    pinning: `--pin ${pins.name}: ${pins.description}`,
    rounds: values.soak ? 1 : plan.rounds,
    notes,
    skipped,
    baseline: 'direct',
  };
  const md = markdownReport(summaries, meta);
  mkdirSync(RESULTS, { recursive: true });
  const base = join(RESULTS, `${stamp}-${sha}`);
  writeFileSync(`${base}.json`, resultsJson({ meta, plan, pins, summaries }, records));
  writeFileSync(`${base}.md`, md.replace(/\n*$/, `\n\n![latency percentiles](${stamp}-${sha}.svg)\n`));
  writeFileSync(
    `${base}.svg`,
    latencySvg(summaries, `Weft data-path benchmark ${stamp} (${sha}) — ${pins.name} pinning`),
  );
  copyFileSync(`${base}.md`, join(RESULTS, 'latest.md'));
  copyFileSync(`${base}.svg`, join(RESULTS, 'latest.svg'));
  writeFileSync(
    join(RESULTS, 'latest.md'),
    readFileSync(join(RESULTS, 'latest.md'), 'utf8').replace(`(${stamp}-${sha}.svg)`, '(latest.svg)'),
  );
  process.stdout.write(md + '\n');
  log(`results: ${base}.{json,md,svg}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
