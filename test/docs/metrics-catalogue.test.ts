/** docs/metrics.md lists every metric the proxies export, and no metric that no longer exists. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

function metricsInSource(): Set<string> {
  const out = new Set<string>();
  const dir = join(ROOT, 'src');
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.ts') || rel.endsWith('.test.ts')) continue;
    // A quoted name (counters, histograms) or an object key (gauges).
    const text = readFileSync(join(dir, rel), 'utf8');
    for (const m of text.matchAll(/['"`](weft_[a-z0-9_]+)['"`]|\b(weft_[a-z0-9_]+):/g))
      out.add((m[1] ?? m[2])!);
  }
  return out;
}

test('docs/metrics.md and the code name the same metrics', () => {
  const doc = new Set(
    [...readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8').matchAll(/^\| `(weft_[a-z0-9_]+)`/gm)].map(
      (m) => m[1]!,
    ),
  );
  const code = metricsInSource();
  assert.deepEqual([...code].filter((m) => !doc.has(m)).sort(), [], 'add these to docs/metrics.md');
  assert.deepEqual([...doc].filter((m) => !code.has(m)).sort(), [], 'remove these from docs/metrics.md');
});
