import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnBudget } from './turn-budget.ts';

/** A hand-driven event loop: `endTurn()` runs what was scheduled for the end of this turn. */
function loop() {
  let pending: (() => void)[] = [];
  return {
    schedule: (fn: () => void) => void pending.push(fn),
    endTurn() {
      const run = pending;
      pending = [];
      for (const fn of run) fn();
    },
    get scheduled() {
      return pending.length;
    },
  };
}

void test('a turn starts up to `limit` messages; the rest wait, in order, for the following turns', () => {
  const l = loop();
  const b = new TurnBudget(3, l.schedule);
  const started: number[] = [];
  for (let i = 0; i < 8; i++) if (b.take(() => started.push(i))) started.push(i);
  assert.deepEqual(started, [0, 1, 2]);
  assert.equal(b.waiting, 5);
  assert.equal(l.scheduled, 1, 'one end-of-turn callback, however many takes');
  l.endTurn();
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
  assert.equal(b.waiting, 2);
  l.endTurn();
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(b.waiting, 0);
});

void test('messages started at the end of a turn count against the next turn', () => {
  const l = loop();
  const b = new TurnBudget(4, l.schedule);
  const resumed: string[] = [];
  for (let i = 0; i < 6; i++) b.take(() => resumed.push(`old${i}`));
  l.endTurn(); // old4 and old5 start here: two of the next turn's four
  assert.deepEqual(resumed, ['old4', 'old5']);
  assert.equal(
    b.take(() => resumed.push('a')),
    true,
  );
  assert.equal(
    b.take(() => resumed.push('b')),
    true,
  );
  assert.equal(
    b.take(() => resumed.push('c')),
    false,
  );
  l.endTurn();
  assert.deepEqual(resumed, ['old4', 'old5', 'c']);
  l.endTurn(); // resets after the turn that started 'c'
  assert.equal(l.scheduled, 0, 'an idle budget schedules nothing');
  for (let i = 0; i < 4; i++)
    assert.equal(
      b.take(() => assert.fail('should start at once')),
      true,
    );
});

void test('a newcomer waits behind earlier messages even when the new turn has budget left', () => {
  const l = loop();
  const b = new TurnBudget(1, l.schedule);
  const order: string[] = [];
  assert.equal(
    b.take(() => order.push('first')),
    true,
  );
  assert.equal(
    b.take(() => order.push('second')),
    false,
  );
  assert.equal(
    b.take(() => order.push('third')),
    false,
  );
  l.endTurn();
  assert.equal(
    b.take(() => order.push('fourth')),
    false,
    'third is still waiting',
  );
  l.endTurn();
  l.endTurn();
  assert.deepEqual(order, ['second', 'third', 'fourth']);
});

void test('a resume that takes again re-queues behind the others instead of jumping ahead', () => {
  const l = loop();
  const b = new TurnBudget(2, l.schedule);
  const order: string[] = [];
  const again = () => {
    order.push('again');
    b.take(() => order.push('again-2'));
  };
  b.take(() => {});
  b.take(() => {});
  b.take(again);
  b.take(() => order.push('x'));
  l.endTurn();
  assert.deepEqual(order, ['again', 'x']);
  l.endTurn();
  assert.deepEqual(order, ['again', 'x', 'again-2']);
});

void test('with the real loop, waiting messages start from setImmediate, a limit per turn', async () => {
  const b = new TurnBudget(2);
  const order: string[] = [];
  for (let i = 0; i < 5; i++) if (b.take(() => order.push(`late${i}`))) order.push(`now${i}`);
  setImmediate(() => order.push('immediate queued after'));
  assert.deepEqual(order, ['now0', 'now1']);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(order, ['now0', 'now1', 'late2', 'late3', 'immediate queued after', 'late4']);
});

void test('the limit must be a positive integer', () => {
  assert.throws(() => new TurnBudget(0), /integer ≥ 1, got 0/);
  assert.throws(() => new TurnBudget(1.5), /integer ≥ 1, got 1.5/);
});
