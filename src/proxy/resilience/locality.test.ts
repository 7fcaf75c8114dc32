import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localityPriorities, priorityLoad, pickPriority, planLocality, parseLocality } from './locality.ts';

const ep = (key: string, locality: string) => ({ key, locality });
const ENDPOINTS = [
  ep('a', 'us-east/us-east-1a/r1'),
  ep('b', 'us-east/us-east-1a/r2'),
  ep('c', 'us-east/us-east-1b/r1'),
  ep('d', 'eu-west/eu-west-1a/r1'),
  ep('e', 'ap-south/ap-south-1a/r1'),
  ep('f', ''),
];

void test('priority levels relative to the caller, with a failover region', () => {
  assert.deepEqual(parseLocality('r/z'), { region: 'r', zone: 'z', subzone: '' });
  const levels = localityPriorities(ENDPOINTS, 'us-east/us-east-1a/r1', {
    failover: [{ from: 'us-east', to: 'eu-west' }],
  });
  assert.deepEqual(
    levels.map((l) => [l.priority, l.endpoints.map((e) => e.key)]),
    [
      [0, ['a']],
      [1, ['b']],
      [2, ['c']],
      [3, ['d']],
      [4, ['e', 'f']],
    ],
  );
  const noFailover = localityPriorities(ENDPOINTS, 'eu-west/eu-west-1a/r1');
  assert.deepEqual(
    noFailover.map((l) => [l.priority, l.endpoints.length]),
    [
      [0, 1],
      [4, 5],
    ],
  );
  assert.equal(localityPriorities(ENDPOINTS, '').length, 1, 'unknown caller: one level');
  assert.equal(localityPriorities(ENDPOINTS, 'us-east/us-east-1a/r1', { enabled: false }).length, 1);
  assert.deepEqual(localityPriorities([], 'x'), []);
});

void test('priority load: overprovisioning 1.4, spill over, normalisation', () => {
  assert.deepEqual(priorityLoad([10, 10], [10, 10]), [100, 0]);
  // 8 of 10 healthy: 1.4 × 80 = 112 → still 100 % local (threshold is 1/1.4 ≈ 71.4 %).
  assert.deepEqual(priorityLoad([8, 10], [10, 10]), [100, 0]);
  const l = priorityLoad([5, 10], [10, 10]); // 70 % to the local level, 30 spill
  assert.ok(Math.abs(l[0]! - 70) < 1e-9 && Math.abs(l[1]! - 30) < 1e-9, String(l));
  // Both degraded: 1.4×20=28, 1.4×20=28 → normalised to 50/50.
  const n = priorityLoad([2, 2], [10, 10]);
  assert.ok(Math.abs(n[0]! - 50) < 1e-9 && Math.abs(n[1]! - 50) < 1e-9, String(n));
  assert.deepEqual(priorityLoad([0, 0], [3, 3]), [0, 0]);
  assert.deepEqual(priorityLoad([0, 4], [4, 4]), [0, 100], 'local zone gone: all fails over');
});

void test('pickPriority maps a random number onto the loads', () => {
  assert.equal(pickPriority([70, 30], 0), 0);
  assert.equal(pickPriority([70, 30], 0.69), 0);
  assert.equal(pickPriority([70, 30], 0.7), 1);
  assert.equal(pickPriority([0, 100], 0.1), 1);
  assert.equal(pickPriority([0, 0], 0.5), -1);
});

void test('planLocality: the caller zone is preferred until its healthy capacity drops, then fails over', () => {
  const eps = [
    ...Array.from({ length: 4 }, (_, i) => ep(`z1-${i}`, 'r/z1/')),
    ...Array.from({ length: 4 }, (_, i) => ep(`z2-${i}`, 'r/z2/')),
  ];
  const down = new Set<string>();
  const plan = () => planLocality(eps, 'r/z1/', (k) => !down.has(k));
  assert.deepEqual(plan().loads, [100, 0]);
  down.add('z1-0'); // 3/4 = 75 % × 1.4 = 105 → still all local
  assert.deepEqual(plan().loads, [100, 0]);
  down.add('z1-1'); // 2/4 × 1.4 = 70 → 30 % spills
  const p = plan();
  assert.ok(Math.abs(p.loads[0]! - 70) < 1e-9);
  assert.deepEqual(
    p.healthy[0]!.map((e) => e.key),
    ['z1-2', 'z1-3'],
  );
  for (const k of ['z1-2', 'z1-3']) down.add(k);
  assert.deepEqual(plan().loads, [0, 100]);
});
