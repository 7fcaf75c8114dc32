#!/usr/bin/env node
// The `weft` command: runs the built JavaScript in dist/ when it is at least as new as every source
// file, else the TypeScript in src/ directly (see scripts/build.ts for why both exist).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const stamp = join(root, 'dist', 'BUILD_STAMP');

function distIsFresh() {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  for (const rel of readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })) {
    if ((rel.endsWith('.ts') || rel.endsWith('.proto')) && statSync(join(root, 'src', rel)).mtimeMs > built)
      return false;
  }
  return true;
}

const entry = distIsFresh()
  ? join(root, 'dist', 'src', 'bin', 'weft.js')
  : join(root, 'src', 'bin', 'weft.ts');
await import(pathToFileURL(entry).href);
