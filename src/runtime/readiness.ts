/**
 * Readiness waits: poll an HTTP path (any 2xx) or a TCP port until it answers, the deadline passes,
 * or the caller gives up. Polling is bounded by the deadline; each probe has its own short timeout.
 */
import net from 'node:net';
import http from 'node:http';
import { WeftError } from '../lib/index.ts';
import type { Clock } from '../lib/index.ts';

export type Probe =
  { type: 'http'; host: string; port: number; path: string } | { type: 'tcp'; host: string; port: number };

/** One probe: resolves true when ready. Never rejects. */
export function probeOnce(p: Probe, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    if (p.type === 'tcp') {
      const s = net.connect({ host: p.host, port: p.port });
      const done = (ok: boolean) => {
        s.destroy();
        resolve(ok);
      };
      s.setTimeout(timeoutMs, () => done(false));
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
      return;
    }
    const req = http.get(
      { host: p.host, port: p.port, path: p.path, agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export function describeProbe(p: Probe): string {
  return p.type === 'http' ? `http://${p.host}:${p.port}${p.path}` : `tcp ${p.host}:${p.port}`;
}

/**
 * Waits until `probe` succeeds. `check()` is called between probes and may throw to give up early
 * (e.g. when the process has been stopped). Throws WEFT_UP_NOT_READY at the deadline.
 */
export async function waitReady(
  what: string,
  probe: Probe,
  opts: { clock: Clock; timeoutMs: number; intervalMs?: number; check?: () => void },
): Promise<void> {
  const start = opts.clock.monotonic();
  const interval = opts.intervalMs ?? 50;
  for (let i = 0; ; i++) {
    opts.check?.();
    if (await probeOnce(probe)) return;
    if (opts.clock.monotonic() - start >= opts.timeoutMs)
      throw new WeftError(
        'WEFT_UP_NOT_READY',
        `${what} was not ready after ${Math.round(opts.timeoutMs / 1000)}s (${describeProbe(probe)} did not answer)`,
      );
    await new Promise<void>((resolve) =>
      opts.clock.setTimeout(resolve, Math.min(interval * (1 + i / 10), 500)),
    );
  }
}
