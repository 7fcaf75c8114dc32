/**
 * Processes for the benchmark: start them (optionally pinned with taskset), remember every pid we
 * started, stop exactly those (SIGTERM, then SIGKILL after a grace period), and read their cost from
 * /proc: utime+stime summed over each process tree (nginx master + worker, `weft up` + children) and
 * VmRSS sampled every 0.5 s. proc(5) documents the fields: stat field 4 is ppid, 14/15 utime/stime
 * in clock ticks; status `VmRSS:` in kB.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';

export interface Started {
  pid: number;
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** How long it may take to stop on SIGTERM (a supervisor such as `weft up` stops its children first). */
  graceMs: number;
}

const TASKSET = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Every process the harness starts goes through here, so cleanup can stop exactly those. */
export class ProcessSet {
  readonly started = new Map<number, Started>();

  /**
   * Starts `cmd args` with cwd `cwd`, output to `logFile`, pinned to `cpus` (taskset list such as
   * "0", "1", "0-1"; null = not pinned). Own process group (detached) so a terminal Ctrl-C reaches
   * only the harness, which then stops everything in order.
   */
  start(
    name: string,
    cmd: string,
    args: readonly string[],
    o: { cwd: string; logFile: string; cpus: string | null; env?: NodeJS.ProcessEnv; graceMs?: number },
  ): Started {
    const fd = openSync(o.logFile, 'a');
    const [file, argv] =
      o.cpus !== null && TASKSET ? ['taskset', ['-c', o.cpus, cmd, ...args]] : [cmd, [...args]];
    const child = spawn(file, argv, {
      cwd: o.cwd,
      stdio: ['ignore', fd, fd],
      detached: true,
      env: o.env ?? process.env,
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    const s: Started = { pid: child.pid, name, child, exited, graceMs: o.graceMs ?? 5000 };
    this.started.set(child.pid, s);
    void exited.then(() => this.started.delete(s.pid));
    return s;
  }

  /**
   * SIGTERM, wait up to its grace period, then SIGKILL it and its process group (it was started as
   * the leader of a group of its own, so the group holds only what it started); resolves once it
   * has exited.
   */
  async stop(s: Started, graceMs = s.graceMs): Promise<void> {
    if (!this.started.has(s.pid)) return;
    try {
      process.kill(s.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([s.exited, timer])) === 'timeout') {
      for (const target of [s.pid, -s.pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      await Promise.race([s.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    this.started.delete(s.pid);
  }

  /** Stops everything still running, each within its own grace period. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.started.values()].reverse().map((s) => this.stop(s)));
  }
}

/** Re-pins an already running process and all its threads (`taskset -a -p -c`). */
export function pinRunning(pid: number, cpus: string | null): void {
  if (cpus === null || !TASKSET) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  } catch {
    /* the process may have gone; the measurement will show it */
  }
}

export function tasksetAvailable(): boolean {
  return TASKSET;
}

interface StatLine {
  pid: number;
  ppid: number;
  ticks: number;
}

/** Parses /proc/<pid>/stat text (the command name may contain spaces and parentheses). */
export function parseStat(text: string): StatLine | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number(text.slice(0, text.indexOf(' ')));
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // after "(comm) ": state=0, ppid=1, ..., utime=11, stime=12
  const ppid = Number(f[1]);
  const ticks = Number(f[11]) + Number(f[12]);
  if (!Number.isFinite(pid) || !Number.isFinite(ppid) || !Number.isFinite(ticks)) return null;
  return { pid, ppid, ticks };
}

function readAllStats(): StatLine[] {
  const out: StatLine[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = parseStat(readFileSync(`/proc/${d}/stat`, 'utf8'));
      if (s) out.push(s);
    } catch {
      /* raced with an exit */
    }
  }
  return out;
}

/** `roots` and all their descendants (from one /proc scan). */
export function processTree(roots: readonly number[], stats: readonly StatLine[] = readAllStats()): number[] {
  const keep = new Set(roots.filter((p) => stats.some((s) => s.pid === p)));
  for (let changed = true, guard = 0; changed && guard < 64; guard++) {
    changed = false;
    for (const s of stats) {
      if (!keep.has(s.pid) && keep.has(s.ppid)) {
        keep.add(s.pid);
        changed = true;
      }
    }
  }
  return [...keep];
}

/** utime+stime in seconds summed over each root's process tree. */
export function cpuSecondsOfTrees(roots: readonly number[]): number {
  const stats = readAllStats();
  const tree = new Set(processTree(roots, stats));
  let ticks = 0;
  for (const s of stats) if (tree.has(s.pid)) ticks += s.ticks;
  return ticks / CLK_TCK;
}

/** Parses the VmRSS line of /proc/<pid>/status (kB); 0 when absent (kernel threads, zombies). */
export function parseVmRssKb(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return m ? Number(m[1]) : 0;
}

/** VmRSS (kB) summed over a process tree. */
export function rssKbOfTree(root: number): number {
  let kb = 0;
  for (const pid of processTree([root])) {
    try {
      kb += parseVmRssKb(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      /* gone */
    }
  }
  return kb;
}

/** True while `pid` exists and is not a zombie (an exited child nobody has reaped yet). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Samples the RSS of labelled process trees every `intervalMs` and keeps the peak of each. */
export class RssSampler {
  readonly peakKb: Record<string, number> = {};
  readonly series: { tS: number; kb: Record<string, number> }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = Date.now();
  private readonly roots: Record<string, number>;
  private readonly keepSeries: boolean;

  constructor(roots: Record<string, number>, intervalMs = 500, keepSeries = false) {
    this.roots = roots;
    this.keepSeries = keepSeries;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const kb: Record<string, number> = {};
    for (const [label, pid] of Object.entries(this.roots)) {
      const v = rssKbOfTree(pid);
      kb[label] = v;
      if (v > (this.peakKb[label] ?? 0)) this.peakKb[label] = v;
    }
    if (this.keepSeries) this.series.push({ tS: (Date.now() - this.t0) / 1000, kb });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}
