/**
 * Golden tests for `weft policy matrix|verify|diff|lint` on test/fixtures/analysis (a two-tenant mesh
 * and a proposed change that breaks two invariants), run through the real verb with injected IO.
 * WEFT_UPDATE_GOLDEN=1 rewrites the golden files; review the diff before committing.
 * Also: the quickstart example verifies clean against its invariants (when the example exists).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { policy } from '../../src/cli/policy.ts';

const ROOT = join(import.meta.dirname, '../..');
const FIX = 'test/fixtures/analysis';
const UPDATE = process.env['WEFT_UPDATE_GOLDEN'] === '1';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await policy({
    argv,
    env: {},
    cwd: ROOT,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    interrupted: new Promise<string>(() => {}),
  });
  return { code, out, err };
}

async function golden(name: string, wantCode: number, ...argv: string[]): Promise<void> {
  const r = await run(...argv);
  assert.equal(r.err, '');
  assert.equal(r.code, wantCode, r.out);
  const file = join(ROOT, FIX, 'golden', name);
  if (UPDATE) writeFileSync(file, r.out);
  assert.equal(r.out, readFileSync(file, 'utf8'), `${name} differs (WEFT_UPDATE_GOLDEN=1 to accept)`);
}

test('matrix (table, json, graph) on the base mesh', async () => {
  await golden('matrix.txt', 0, 'matrix', '-f', `${FIX}/base`);
  await golden('matrix.graph.json', 0, 'matrix', '-o', 'graph', '-f', `${FIX}/base`);
  const j = await run('matrix', '-o', 'json', '-f', `${FIX}/base`);
  const m = JSON.parse(j.out) as { cells: { from: string; to: string; allowed: string }[] };
  assert.deepEqual(
    m.cells.map((c) => `${c.from}>${c.to}:${c.allowed}`),
    [
      'shared/payments>data/db:all',
      'tenant-a/web>shared/billing:some',
      'tenant-b/web>shared/billing:some',
      'shared/billing>shared/payments:some',
    ],
  );
});

test('verify: the base mesh satisfies every invariant (exit 0)', async () => {
  await golden('verify-base.txt', 0, 'verify', '-f', `${FIX}/base`, '-i', `${FIX}/invariants.yaml`);
});

test('verify: the proposed change violates two invariants, with concrete requests (exit 1)', async () => {
  await golden('verify-proposed.txt', 1, 'verify', '-f', `${FIX}/proposed`, '-i', `${FIX}/invariants.yaml`);
  const j = await run('verify', '-o', 'json', '-f', `${FIX}/proposed`, '-i', `${FIX}/invariants.yaml`);
  const results = JSON.parse(j.out) as {
    invariant: string;
    holds: boolean;
    examples: { request?: { method: string; path: string } }[];
  }[];
  const broken = results.find((r) => r.invariant === 'shared/only-billing-charges')!;
  assert.equal(broken.holds, false);
  assert.equal(broken.examples[0]?.request?.method, 'POST');
  assert.ok(broken.examples[0]?.request?.path.startsWith('/charge'));
});

test('diff: the proposed change opens POSTs from both tenants to payments and closes nothing', async () => {
  await golden('diff.txt', 0, 'diff', '--base', `${FIX}/base`, '-f', `${FIX}/proposed`);
  const same = await run('diff', '--base', `${FIX}/base`, '-f', `${FIX}/base`);
  assert.match(same.out, /no flow changes/);
});

test('lint: findings name file:line and a fix (exit 1); the base mesh is clean (exit 0)', async () => {
  await golden('lint.txt', 1, 'lint', '-f', `${FIX}/proposed`);
  const clean = await run('lint', '-f', `${FIX}/base`);
  assert.equal(clean.code, 0, clean.out);
});

test('quickstart example verifies clean against its invariants', async () => {
  const r = await run('verify', '-f', 'examples/quickstart', '-i', `${FIX}/quickstart-invariants.yaml`);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /of \d+ invariants hold/);
});
