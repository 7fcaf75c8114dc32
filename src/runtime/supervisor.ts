/**
 * Supervises child processes for `weft up`: starts them, restarts one that exits on its own with
 * exponential backoff (reset once it has stayed up for a while), and stops them all — SIGTERM, then
 * SIGKILL after a grace period — waiting until each has really exited, so nothing is left behind.
 *
 * Children run in their own process group (`detached`), so a Ctrl-C at the terminal reaches only
 * `weft up`, which then stops them in order; otherwise a child dying of the same SIGINT would race
 * the shutdown and be "restarted". Each child's stdout and stderr go straight to its log file (an
 * fd handed to the child), so logs survive even if the supervisor dies.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { WeftError, errorMessage } from '../lib/index.ts';
import type { Clock, Timer } from '../lib/index.ts';

export interface ProcessSpec {
  /** Unique name, e.g. `control`, `proxy/node-1`, `default/ratings-0`. */
  name: string;
  command: string;
  args: readonly string[];
  /** The complete environment of the child. */
  env: Record<string, string | undefined>;
  cwd?: string;
  /** stdout and stderr are appended here (directories are created). */
  logFile: string;
  /** Restart when it exits on its own (default true). */
  restart?: boolean;
}

export type SupervisorEvent =
  | { type: 'start'; name: string; pid: number; attempt: number }
  | { type: 'exit'; name: string; pid: number; code: number | null; signal: string | null; expected: boolean }
  | { type: 'restart'; name: string; attempt: number; delayMs: number }
  | { type: 'spawn-error'; name: string; message: string };

export interface BackoffOptions {
  /** First restart delay in ms (default 200). */
  initialMs: number;
  /** Multiplier per consecutive crash (default 2). */
  factor: number;
  /** Upper bound of the delay in ms (default 10 000). */
  maxMs: number;
  /** A run at least this long (ms) counts as healthy and resets the backoff (default 10 000). */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 200,
  factor: 2,
  maxMs: 10_000,
  resetAfterMs: 10_000,
};

/** Delay before restart number `attempt` (1-based). */
export function backoffDelay(attempt: number, b: BackoffOptions): number {
  return Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, attempt - 1));
}

interface Managed {
  spec: ProcessSpec;
  child: ChildProcess | undefined;
  /** Resolves when the current child has exited. */
  exited: Promise<void>;
  startedAt: number;
  attempt: number;
  stopping: boolean;
  restartTimer: Timer | undefined;
}

export class Supervisor {
  readonly #clock: Clock;
  readonly #backoff: BackoffOptions;
  readonly #onEvent: (e: SupervisorEvent) => void;
  readonly #procs = new Map<string, Managed>();
  #closed = false;

  constructor(options: {
    clock: Clock;
    backoff?: Partial<BackoffOptions>;
    onEvent?: (e: SupervisorEvent) => void;
  }) {
    this.#clock = options.clock;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  /** Starts a process under supervision. Throws WEFT_UP_SPAWN if it cannot be started at all. */
  start(spec: ProcessSpec): number {
    if (this.#closed) throw new WeftError('WEFT_UP_STOPPED', 'the supervisor is stopping; no new processes');
    if (this.#procs.has(spec.name))
      throw new WeftError('WEFT_UP_SPAWN', `a process named ${spec.name} is already supervised`);
    const m: Managed = {
      spec,
      child: undefined,
      exited: Promise.resolve(),
      startedAt: 0,
      attempt: 0,
      stopping: false,
      restartTimer: undefined,
    };
    this.#procs.set(spec.name, m);
    try {
      this.#spawn(m);
    } catch (err) {
      this.#procs.delete(spec.name);
      throw err;
    }
    return m.child!.pid!;
  }

  /** The current pid of a supervised process (undefined while it is down). */
  pid(name: string): number | undefined {
    const c = this.#procs.get(name)?.child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  names(): string[] {
    return [...this.#procs.keys()];
  }

  /** Stops one process (SIGTERM, SIGKILL after `graceMs`) and forgets it. */
  async stop(name: string, graceMs: number): Promise<void> {
    const m = this.#procs.get(name);
    if (!m) return;
    m.stopping = true;
    m.restartTimer?.cancel();
    const c = m.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      signal(c, 'SIGTERM');
      const kill = this.#clock.setTimeout(() => signal(c, 'SIGKILL'), graceMs);
      await m.exited;
      kill.cancel();
    }
    this.#procs.delete(name);
  }

  /** Stops everything in reverse start order groups given by `order` (names not listed go first). */
  async stopAll(graceMs: number, order: readonly string[][] = []): Promise<void> {
    this.#closed = true;
    const listed = new Set(order.flat());
    const groups = [[...this.#procs.keys()].filter((n) => !listed.has(n)), ...order];
    for (const group of groups) await Promise.all(group.map((n) => this.stop(n, graceMs)));
  }

  #spawn(m: Managed): void {
    const { spec } = m;
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, [...spec.args], {
        env: spec.env,
        cwd: spec.cwd,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } catch (err) {
      throw new WeftError(
        'WEFT_UP_SPAWN',
        `cannot start ${spec.name} (${spec.command}): ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    } finally {
      closeSync(fd);
    }
    m.child = child;
    m.startedAt = this.#clock.monotonic();
    m.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        resolve();
        this.#onExit(m, child, code, sig);
      });
    });
    child.once('error', (err) => {
      // ENOENT and friends: 'exit' may not follow, so settle here.
      this.#onEvent({ type: 'spawn-error', name: spec.name, message: errorMessage(err) });
      if (child.pid === undefined) child.emit('exit', null, null);
    });
    if (child.pid !== undefined)
      this.#onEvent({ type: 'start', name: spec.name, pid: child.pid, attempt: m.attempt });
  }

  #onExit(m: Managed, child: ChildProcess, code: number | null, sig: NodeJS.Signals | null): void {
    if (m.child !== child) return;
    const expected = m.stopping || this.#closed;
    this.#onEvent({ type: 'exit', name: m.spec.name, pid: child.pid ?? -1, code, signal: sig, expected });
    if (expected || m.spec.restart === false) return;
    if (this.#clock.monotonic() - m.startedAt >= this.#backoff.resetAfterMs) m.attempt = 0;
    m.attempt++;
    const delayMs = backoffDelay(m.attempt, this.#backoff);
    this.#onEvent({ type: 'restart', name: m.spec.name, attempt: m.attempt, delayMs });
    m.restartTimer = this.#clock.setTimeout(() => {
      m.restartTimer = undefined;
      if (m.stopping || this.#closed) return;
      try {
        this.#spawn(m);
      } catch (err) {
        this.#onEvent({ type: 'spawn-error', name: m.spec.name, message: errorMessage(err) });
      }
    }, delayMs);
  }
}

function signal(c: ChildProcess, sig: NodeJS.Signals): void {
  try {
    // The child leads its own process group: signal the group so its own children go too.
    if (c.pid !== undefined) process.kill(-c.pid, sig);
  } catch {
    try {
      c.kill(sig);
    } catch {
      // already gone
    }
  }
}
