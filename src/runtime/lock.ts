/**
 * The state-directory lock of `weft up`: `DIR/up.lock` holds the owner's pid, created exclusively
 * (O_EXCL), so two `weft up` runs never share a state directory. A lock whose pid is no longer
 * alive (a crashed run) is taken over; a live one is refused with the owner's pid.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from '../lib/index.ts';

export interface StateLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. */
  release(): void;
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireStateLock(
  stateDir: string,
  pid: number,
  isAlive: (pid: number) => boolean = pidAlive,
): StateLock {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, 'up.lock');
  // Bounded: one takeover attempt per stale lock, at most a few races with another starter.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return {
        path,
        release: () => {
          try {
            if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new WeftError('WEFT_UP_LOCK', `cannot create ${path}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (owner !== pid && isAlive(owner)) {
      throw new WeftError(
        'WEFT_UP_STATE_DIR_IN_USE',
        `state dir ${stateDir} in use by pid ${owner} (another weft up); stop it first or pass a different --state-dir`,
        { detail: { pid: owner } },
      );
    }
    try {
      unlinkSync(path); // stale: its owner is gone
    } catch {
      // someone else removed it; retry
    }
  }
  throw new WeftError('WEFT_UP_LOCK', `could not take ${path}: another process keeps recreating it`);
}
