/**
 * The pure parts of the control-plane benchmark (bench/control/report.ts): the ACK tracker that
 * reads `/v1/status`, the latency summaries and the markdown report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AckTracker,
  controlMarkdown,
  controlTable,
  latencySummary,
  summarizeApplies,
  type ApplyRecord,
  type SizeResult,
  type StatusEntry,
} from '../../bench/control/report.ts';

const entry = (node: string, acked: string, latest: string, connected = true): StatusEntry => ({
  node,
  connected,
  ackedVersion: acked,
  latestVersion: latest,
});

void test('AckTracker ignores the old version still acked before the model is rebuilt', () => {
  const t = new AckTracker(
    new Map([
      ['a', 'v1'],
      ['b', 'v1'],
    ]),
  );
  // Right after the commit the status still shows v1 acked everywhere: nobody counts as acked.
  assert.equal(t.observe([entry('a', 'v1', 'v1'), entry('b', 'v1', 'v1')], 5), 0);
  // Model rebuilt, a has acked v2, b not yet.
  assert.equal(t.observe([entry('a', 'v2', 'v2'), entry('b', 'v1', 'v2')], 10), 1);
  assert.equal(t.done(), false);
  assert.deepEqual(t.missing(), ['b']);
  // The first observation wins; b acks later.
  assert.equal(t.observe([entry('a', 'v2', 'v2'), entry('b', 'v2', 'v2')], 30), 2);
  assert.equal(t.done(), true);
  assert.deepEqual(
    [...t.ackedAt],
    [
      ['a', 10],
      ['b', 30],
    ],
  );
});

void test('AckTracker does not count a disconnected proxy, an empty version or an unknown node', () => {
  const t = new AckTracker(new Map([['a', 'v1']]));
  assert.equal(t.observe([entry('a', 'v2', 'v2', false)], 1), 0);
  assert.equal(t.observe([entry('a', '', '')], 2), 0);
  assert.equal(t.observe([entry('z', 'v9', 'v9')], 3), 0);
  assert.equal(t.observe([entry('a', 'v3', 'v3')], 4), 1);
  assert.equal(t.ackedAt.get('a'), 4);
});

void test('latencySummary gives percentiles in ms within the histogram precision; null when empty', () => {
  const ms = Array.from({ length: 1000 }, (_, i) => (i + 1) / 10); // 0.1 … 100 ms
  const s = latencySummary(ms);
  assert.ok(s);
  assert.equal(s.count, 1000);
  assert.ok(Math.abs(s.p50 - 50) / 50 < 0.01, `p50 ${s.p50}`);
  assert.ok(Math.abs(s.p99 - 99) / 99 < 0.01, `p99 ${s.p99}`);
  assert.equal(s.max, 100);
  assert.equal(latencySummary([]), null);
  assert.equal(latencySummary([Number.NaN, -1]), null);
});

function apply(index: number, over: Partial<ApplyRecord> = {}): ApplyRecord {
  return {
    index,
    what: `change ${index}`,
    revision: index + 2,
    apiMs: 10 + index,
    receivedMs: [5, 6, 7],
    ackedMs: [20, 40, 60],
    allAckedMs: 60,
    missing: 0,
    controlCpuS: 0.5,
    clientCpuS: 0.2,
    ...over,
  };
}

void test('summarizeApplies pools every proxy of every apply and counts the missing', () => {
  const s = summarizeApplies([
    apply(0),
    apply(1, { ackedMs: [100], allAckedMs: null, missing: 2, controlCpuS: 1.5 }),
  ]);
  assert.equal(s.acked?.count, 4);
  assert.equal(s.acked?.max, 100);
  assert.equal(s.received?.count, 6);
  assert.equal(s.missing, 2);
  assert.deepEqual(s.allAckedMs, { median: 60, min: 60, max: 60, n: 1 });
  assert.deepEqual(s.controlCpuPerApplyS, { median: 1, min: 0.5, max: 1.5, n: 2 });
});

void test('the markdown report has one summary row per size and every apply in its table', () => {
  const size: SizeResult = {
    nodes: 1000,
    workloads: 2000,
    services: 200,
    resources: 3601,
    snapshotBytes: 1_300_000,
    initialApplyMs: 900,
    attestation: { calls: 100, concurrency: 8, latency: latencySummary([3, 4, 5]), perSecond: 200 },
    connect: {
      concurrency: 50,
      firstSnapshot: latencySummary([100, 200]),
      allAckedS: 12.5,
      controlCpuS: 10,
      clientCpuS: 8,
    },
    applies: [apply(0), apply(1, { allAckedMs: null, missing: 3 })],
    signing: {
      svids: 2000,
      concurrency: 32,
      wallS: 4,
      perSecond: 500,
      latency: latencySummary([50]),
      controlCpuS: 3,
      errors: 0,
    },
    controlPeakRssMb: 300.4,
    clientPeakRssMb: 500,
    wallS: 100,
    warnings: ['something odd'],
  };
  const table = controlTable([size]);
  const rows = table.split('\n');
  assert.equal(rows.length, 3);
  assert.match(rows[2]!, /^\| 1,000 \| /);
  assert.match(rows[2]!, /\| 300 \| 500 \|/);
  const md = controlMarkdown([size], {
    date: '20260101T000000Z',
    gitSha: 'abc1234',
    command: 'npx node bench/control/run.ts',
    machine: 'test',
    loadAverage: { before: 1, after: 2, cpus: 2 },
    notes: ['a note'],
  });
  assert.match(md, /## 1,000 proxies/);
  assert.match(md, /\| 1 \| change 0 \|/);
  assert.match(md, /not all \(3 missing\)/);
  assert.match(md, /- Warning: something odd/);
  assert.match(md, /- a note/);
});
