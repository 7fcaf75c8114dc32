import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watch } from './watch.ts';

void test('get returns the latest value and subscribers hear each change', () => {
  const w = new Watch(1);
  const seen: number[] = [];
  const stop = w.subscribe((v) => seen.push(v));
  w.set(2);
  w.set(3);
  stop();
  w.set(4);
  assert.equal(w.get(), 4);
  assert.deepEqual(seen, [2, 3]);
  assert.equal(w.subscriberCount, 0);
});

void test('a throwing subscriber does not stop the others', () => {
  const w = new Watch('a');
  const seen: string[] = [];
  w.subscribe(() => {
    throw new Error('boom');
  });
  w.subscribe((v) => seen.push(v));
  w.set('b');
  assert.deepEqual(seen, ['b']);
});

void test('until resolves now or on the first matching change, and cleans up', async () => {
  const w = new Watch(0);
  assert.equal(await w.until((v) => v === 0), 0);
  const p = w.until((v) => v >= 2);
  w.set(1);
  w.set(2);
  assert.equal(await p, 2);
  assert.equal(w.subscriberCount, 0);
});

void test('until rejects when aborted', async () => {
  const w = new Watch(0);
  const ac = new AbortController();
  const p = w.until((v) => v === 5, ac.signal);
  ac.abort(new Error('gave up'));
  await assert.rejects(p, /gave up/);
  assert.equal(w.subscriberCount, 0);
});
