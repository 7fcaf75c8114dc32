/**
 * docs/errors.md lists every error code the code raises, and nothing else: a code added without a
 * line in the catalogue (or a line left behind after a code is gone) fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
// A quoted WEFT_* string is an error code, and so is one that opens a message ('WEFT_X: …', as gRPC
// details carry them) — except an environment variable read as env['WEFT_…'].
const CODE = /(?<!env\??\.?\[)['"`](WEFT_[A-Z0-9_]+)(?:['"`]|:)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('test-util'))
    .map((f) => join(dir, f));
}

function codesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(CODE)) {
      if (!found.has(m[1]!)) found.set(m[1]!, file.slice(ROOT.length + 1));
    }
  }
  return found;
}

function codesInCatalogue(): Set<string> {
  const text = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  return new Set([...text.matchAll(/^\| `(WEFT_[A-Z0-9_]+)`/gm)].map((m) => m[1]!));
}

test('every error code in src/ is in docs/errors.md', () => {
  const documented = codesInCatalogue();
  const missing = [...codesInSource()]
    .filter(([code]) => !documented.has(code))
    .map(([c, f]) => `${c} (${f})`);
  assert.deepEqual(missing, [], 'add these codes to docs/errors.md');
});

test('every code in docs/errors.md is still raised somewhere in src/', () => {
  const inSource = codesInSource();
  const stale = [...codesInCatalogue()].filter((c) => !inSource.has(c));
  assert.deepEqual(stale, [], 'remove these codes from docs/errors.md');
});
