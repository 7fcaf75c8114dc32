/**
 * The C load generator and upstream, built with the machine's gcc into a temp dir and run against
 * each other on loopback: olgen's own percentiles agree with the TypeScript histogram rebuilt from
 * its buckets, every scheduled request completes, and the upstream stops on SIGTERM. No timing is
 * asserted (../shared/BENCHMARKS.md: speed lives in `npm run bench`). Skipped without gcc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Histogram } from '../../bench/macro/histogram.ts';
import { parseOlgenOutput, type OlgenOutput } from '../../bench/macro/results.ts';

const C = join(import.meta.dirname, '..', '..', 'bench', 'macro', 'c');
let gcc = true;
try {
  execFileSync('gcc', ['--version'], { stdio: 'ignore' });
} catch {
  gcc = false;
}

function olgen(bin: string, args: string[]): OlgenOutput {
  return parseOlgenOutput(execFileSync(bin, args, { encoding: 'utf8', timeout: 20_000 }));
}

void test(
  'olgen against the C upstream: complete runs, percentiles consistent with the TS histogram',
  { skip: gcc ? false : 'gcc not installed' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
    const up = join(dir, 'upstream');
    const gen = join(dir, 'olgen');
    execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', up, join(C, 'upstream.c')]);
    execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', gen, join(C, 'olgen.c')]);
    const server = spawn(up, ['-a', '127.0.0.1', '-p', '0,0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const ports: number[] = [];
      let buf = '';
      for await (const chunk of server.stdout) {
        buf += String(chunk);
        for (const m of buf.matchAll(/listening 127\.0\.0\.1:(\d+)\n/g))
          if (!ports.includes(Number(m[1]))) ports.push(Number(m[1]));
        if (ports.length === 2) break;
      }
      assert.equal(ports.length, 2, 'upstream listens on both requested ports');
      for (const port of ports) {
        const r = await fetch(`http://127.0.0.1:${port}/any/path`);
        assert.equal(r.status, 200);
        assert.equal(await r.text(), 'ok');
      }
      const open = olgen(gen, [
        '-h',
        '127.0.0.1',
        '-p',
        String(ports[0]),
        '-r',
        '400',
        '-c',
        '4',
        '-d',
        '0.5',
        '-w',
        '0.25',
      ]);
      assert.equal(open.mode, 'open');
      assert.equal(open.scheduled, 300);
      assert.equal(open.completed, 300);
      assert.equal(open.errors + open.non2xx + open.unfinished, 0);
      assert.equal(open.lat.count, open.recorded);
      assert.ok(
        open.recorded >= 190 && open.recorded <= 210,
        `recorded ${open.recorded} of the 200 scheduled after warm-up`,
      );
      for (const h of [open.lat, open.svc]) {
        const ts = Histogram.fromBuckets(h);
        assert.equal(ts.count, h.count);
        const c = h as unknown as Record<string, number>;
        for (const [p, k] of [
          [50, 'p50'],
          [90, 'p90'],
          [99, 'p99'],
          [99.9, 'p999'],
        ] as const)
          assert.equal(ts.percentile(p), c[k], `${k}`);
      }
      const closed = olgen(gen, ['-h', '127.0.0.1', '-p', String(ports[1]), '-m', '-c', '8', '-d', '0.3']);
      assert.equal(closed.mode, 'closed');
      assert.ok(closed.completed > 0);
      assert.equal(closed.completed, closed.sent);
      assert.equal(closed.errors + closed.non2xx, 0);
      assert.throws(
        () => execFileSync(gen, ['-h', 'localhost', '-p', '1', '-r', '1'], { stdio: 'pipe' }),
        /IPv4/,
      );
    } finally {
      server.kill('SIGTERM');
      if (server.exitCode === null) await once(server, 'exit');
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(server.signalCode ?? server.exitCode, 0);
  },
);
