/**
 * Join two byte streams both ways with backpressure and half-close: when one side ends, the other's
 * write side is ended after its queued bytes are flushed. An error on either side destroys both.
 * `onDone` runs once, when both directions are finished or one failed.
 */
import type { Duplex } from 'node:stream';
import { pipeline, Transform } from 'node:stream';
import type { TurnBudget } from '../../lib/index.ts';

export interface SpliceStats {
  bytesAtoB: number;
  bytesBtoA: number;
}

/** Turn budgets for the chunks written into a tunnel stream (see TurnBudget). */
export interface SpliceBudgets {
  /** Each chunk written to b takes one. */
  toB?: TurnBudget | undefined;
  /** Each chunk written to a takes one. */
  toA?: TurnBudget | undefined;
}

/** Passes each chunk on once the budget allows: at once, or from a later turn, in arrival order. */
function budgeted(budget: TurnBudget): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      if (budget.take(() => callback(null, chunk))) callback(null, chunk);
    },
  });
}

export function splice(
  a: Duplex,
  b: Duplex,
  onDone?: (stats: SpliceStats, err?: Error) => void,
  budgets: SpliceBudgets = {},
): void {
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
  if (budgets.toB) pipeline(a, budgeted(budgets.toB), b, finish);
  else pipeline(a, b, finish);
  if (budgets.toA) pipeline(b, budgeted(budgets.toA), a, finish);
  else pipeline(b, a, finish);
}
