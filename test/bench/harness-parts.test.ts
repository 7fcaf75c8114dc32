/** Pure parts of the data-path harness: /proc parsing, process trees, CPU layouts, templates, capture targets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressBlocks, allocateAddresses, captureKey } from '../../src/api/index.ts';
import { cpuLayout, renderTemplate } from '../../bench/macro/cases.ts';
import { cpuSecondsOfTrees, parseStat, parseVmRssKb, processTree } from '../../bench/macro/proc.ts';
import { captureTarget } from '../../bench/macro/weft-case.ts';

void test('parseStat reads ppid and utime+stime even when the command name has spaces and parentheses', () => {
  const line =
    '4242 (node (worker) x) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 12345 1000 200';
  assert.deepEqual(parseStat(line), { pid: 4242, ppid: 17, ticks: 325 });
  assert.equal(parseStat('garbage'), null);
});

void test('parseVmRssKb', () => {
  assert.equal(parseVmRssKb('Name:\tnginx\nVmPeak:\t 1000 kB\nVmRSS:\t   20480 kB\nThreads: 1\n'), 20480);
  assert.equal(parseVmRssKb('Name:\tkthreadd\n'), 0);
});

void test('processTree collects descendants of the roots only', () => {
  const stats = [
    { pid: 1, ppid: 0, ticks: 0 },
    { pid: 10, ppid: 1, ticks: 0 },
    { pid: 11, ppid: 10, ticks: 0 },
    { pid: 12, ppid: 11, ticks: 0 },
    { pid: 20, ppid: 1, ticks: 0 },
  ];
  assert.deepEqual(
    processTree([10], stats).sort((a, b) => a - b),
    [10, 11, 12],
  );
  assert.deepEqual(processTree([99], stats), []);
});

void test('cpuSecondsOfTrees reads this process from /proc', () => {
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += i;
  assert.ok(x > 0);
  assert.ok(cpuSecondsOfTrees([process.pid]) > 0);
});

void test('CPU layouts match peer-bench; one CPU means nothing pinned', () => {
  assert.deepEqual(
    [cpuLayout('nodes', 2)].map((l) => [l.gen, l.a, l.b, l.up]),
    [['0', '0', '1', '1']],
  );
  const s = cpuLayout('split', 2);
  assert.deepEqual([s.gen, s.up, s.a, s.b], ['0', '0', '1', '1']);
  assert.equal(cpuLayout('nodes', 1).name, 'none');
  assert.equal(cpuLayout('none', 8).a, null);
  assert.throws(() => cpuLayout('diagonal', 2), /--pin/);
});

void test('renderTemplate fills known placeholders and leaves the rest', () => {
  assert.equal(
    renderTemplate('bind 127.0.0.1:{{A_PORT}} {{OTHER}}', { A_PORT: 15001 }),
    'bind 127.0.0.1:15001 {{OTHER}}',
  );
});

void test('every peer template only uses the port placeholders the harness fills', () => {
  const dir = join(import.meta.dirname, '..', '..', 'bench', 'peers');
  for (const f of [
    'haproxy-tcp-a.cfg',
    'haproxy-tcp-b.cfg',
    'haproxy-a.cfg',
    'haproxy-b.cfg',
    'nginx-a.conf',
    'nginx-b.conf',
    'Caddyfile-a',
    'Caddyfile-b',
  ]) {
    const out = renderTemplate(readFileSync(join(dir, f), 'utf8'), { A_PORT: 1, B_PORT: 2, UP_PORT: 3 });
    assert.doesNotMatch(out, /\{\{/, f);
    assert.doesNotMatch(out, /\b(?:0\.0\.0\.0|::)\b/, `${f} must bind loopback only`);
  }
});

void test('the Weft capture target equals allocateAddresses over every (instance, service) pair of the manifest', () => {
  const manifest = readFileSync(
    join(import.meta.dirname, '..', '..', 'bench', 'macro', 'weft-mesh', 'mesh.yaml'),
    'utf8',
  );
  const instances = ['loadgen-0', 'upstream-0'];
  const services = ['upstream', 'upstream-http'];
  const keys = instances.flatMap((i) =>
    services.map((s) => captureKey({ namespace: 'default', instance: i }, { namespace: 'default', name: s })),
  );
  // The manifest's trust domain picks the address region and salts the hash.
  const expected = allocateAddresses(keys, addressBlocks('bench.weft.test').capture, 'bench.weft.test');
  const l4 = captureTarget(manifest, 'upstream');
  const l7 = captureTarget(manifest, 'upstream-http');
  assert.deepEqual(l4, { host: expected.get('default/loadgen-0>default/upstream'), port: 9000 });
  assert.deepEqual(l7, { host: expected.get('default/loadgen-0>default/upstream-http'), port: 9080 });
  const second = (addressBlocks('bench.weft.test').capture.base >>> 16) & 255;
  assert.match(l4.host, new RegExp(`^127\\.(${second}|${second + 1})\\.`));
  assert.throws(() => captureTarget(manifest, 'nope'), /no capture address/);
});
