/**
 * `npm run build` (also run by `prepare`, so `npm install` and `npm ci` do it): strips the types from
 * src/**\/*.ts into dist/src/**\/*.js with Node's own stripper, rewrites relative `.ts` specifiers to
 * `.js`, copies the .proto files, and writes a stamp. Nothing else changes — erasable syntax only —
 * so dist runs exactly the code the tests run on src.
 *
 * Why: running .ts directly makes every process load the type stripper (a WebAssembly build of SWC)
 * and keep its memory: ~30 MB more resident per process, and slower start-up. The node proxy runs
 * once per host and is judged by its memory; `bin/weft.mjs` runs dist when it is up to date.
 */
import { stripTypeScriptTypes } from 'node:module';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const OUT = join(ROOT, 'dist', 'src');

/** `from './x.ts'`, `import('./x.ts')`, `import './x.ts'`, `new URL('./x.ts', …)` → `.js`. */
export function rewriteSpecifiers(code: string): string {
  return code.replace(/(['"])(\.{1,2}\/[^'"\n]+?)\.ts\1/g, '$1$2.js$1');
}

function build(): number {
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  let files = 0;
  for (const rel of readdirSync(SRC, { recursive: true, encoding: 'utf8' }).sort()) {
    const from = join(SRC, rel);
    if (rel.endsWith('.test.ts') || rel.includes('test-util')) continue;
    if (rel.endsWith('.ts')) {
      const js = rewriteSpecifiers(stripTypeScriptTypes(readFileSync(from, 'utf8'), { mode: 'strip' }));
      const to = join(OUT, rel.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, js);
      files++;
    } else if (rel.endsWith('.proto')) {
      const to = join(OUT, rel);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
    }
  }
  // ESM for .js files under dist, whatever an enclosing package says.
  writeFileSync(join(ROOT, 'dist', 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(ROOT, 'dist', 'BUILD_STAMP'), `${new Date().toISOString()}\n`);
  return files;
}

if (import.meta.main) {
  process.removeAllListeners('warning'); // stripTypeScriptTypes is flagged experimental in Node 24
  const n = build();
  process.stdout.write(`weft build: ${n} modules → dist/src\n`);
}
