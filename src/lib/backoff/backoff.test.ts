import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff.ts';
import { FakeClock } from '../time/clock.ts';

void test('ceilings double up to the cap; delays are random within [0, ceiling)', () => {
  const randoms = [0.5, 0.999, 0, 0.5, 0.5, 0.5];
  const b = new Backoff({
    baseMs: 100,
    maxMs: 1000,
    random: () => randoms.shift() ?? 0.5,
    clock: new FakeClock(),
  });
  assert.equal(b.next(), 50); // ceiling 100
  assert.equal(b.next(), 199); // ceiling 200
  assert.equal(b.next(), 0); // ceiling 400
  assert.equal(b.next(), 400); // ceiling 800
  assert.equal(b.next(), 500); // ceiling 1000 (capped)
  assert.equal(b.attempt, 5);
  b.reset();
  assert.equal(b.ceiling(), 100);
});

void test('huge attempt counts stay finite and capped', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 5000, random: () => 0.999999, clock: new FakeClock() });
  for (let i = 0; i < 2000; i++) b.next();
  assert.equal(b.ceiling(), 5000);
  assert.ok(b.next() < 5000);
});

void test('schedule fires on the injected clock after the jittered delay', () => {
  const clock = new FakeClock();
  const b = new Backoff({ baseMs: 1000, random: () => 0.5, clock });
  let fired = 0;
  b.schedule(() => fired++);
  clock.advance(499);
  assert.equal(fired, 0);
  clock.advance(1);
  assert.equal(fired, 1);
});
