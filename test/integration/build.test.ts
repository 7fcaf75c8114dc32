/**
 * The build (scripts/build.ts) produces JavaScript that runs the same program: every module of src
 * has its .js twin, relative imports point at .js, and the built CLI works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rewriteSpecifiers } from '../../scripts/build.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('rewriteSpecifiers turns relative .ts specifiers into .js and leaves the rest', () => {
  assert.equal(
    rewriteSpecifiers(
      `import { a } from './a.ts';\nimport b from "../b/index.ts";\nconst u = new URL('./weft.ts', x);`,
    ),
    `import { a } from './a.js';\nimport b from "../b/index.js";\nconst u = new URL('./weft.js', x);`,
  );
  assert.equal(
    rewriteSpecifiers(`import x from 'yaml'; const s = 'file.ts';`),
    `import x from 'yaml'; const s = 'file.ts';`,
  );
});

test('the built CLI runs: weft validate on the quickstart from dist', () => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.ts')], { cwd: ROOT, stdio: 'pipe' });
  const dist = join(ROOT, 'dist', 'src');
  for (const rel of readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.ts') || rel.endsWith('.test.ts') || rel.includes('test-util')) continue;
    const js = join(dist, rel.replace(/\.ts$/, '.js'));
    assert.ok(existsSync(js), `${rel} was built`);
    assert.doesNotMatch(
      readFileSync(js, 'utf8'),
      /from ['"]\.{1,2}\/[^'"]+\.ts['"]/,
      `${rel}: no .ts import left`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'weft-build-'));
  try {
    const out = execFileSync(
      process.execPath,
      [join(dist, 'bin', 'weft.js'), 'validate', '-f', join(ROOT, 'examples', 'quickstart')],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.match(out, /valid: \d+ resources/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
