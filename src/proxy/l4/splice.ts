/**
 * Join two byte streams both ways with backpressure and half-close: when one side ends, the other's
 * write side is ended after its queued bytes are flushed. An error on either side destroys both.
 * `onDone` runs once, when both directions are finished or one failed.
 */
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';

export interface SpliceStats {
  bytesAtoB: number;
  bytesBtoA: number;
}

export function splice(a: Duplex, b: Duplex, onDone?: (stats: SpliceStats, err?: Error) => void): void {
  const stats: SpliceStats = { bytesAtoB: 0, bytesBtoA: 0 };
  let pending = 2;
  let done = false;
  const finish = (err?: Error | null) => {
    if (done) return;
    if (err) {
      done = true;
      a.destroy();
      b.destroy();
      onDone?.(stats, err);
      return;
    }
    if (--pending === 0) {
      done = true;
      onDone?.(stats);
    }
  };
  if (onDone) {
    a.on('data', (c: Buffer) => (stats.bytesAtoB += c.length));
    b.on('data', (c: Buffer) => (stats.bytesBtoA += c.length));
  }
  pipeline(a, b, finish);
  pipeline(b, a, finish);
}
