/**
 * Reading manifests from disk for the verbs that take `-f`: a file, or a directory walked
 * recursively for .yaml, .yml and .json files in sorted order (so output is stable). Paths in the
 * result are relative to cwd, as the user will see them in diagnostics.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, resolve } from 'node:path';
import { WeftError } from '../lib/index.ts';

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** Bounds the directory walk (a manifest tree is small; a symlink loop or `-f /` is a mistake). */
const MAX_FILES = 10_000;
const MAX_DEPTH = 32;

async function collect(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_DEPTH)
    throw new WeftError('WEFT_MANIFEST_READ', `${dir}: directories nested deeper than ${MAX_DEPTH} levels`);
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await collect(p, depth + 1, out);
    else if (e.isFile() && EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    if (out.length > MAX_FILES)
      throw new WeftError('WEFT_MANIFEST_READ', `more than ${MAX_FILES} manifest files under ${dir}`);
  }
}

/**
 * Read every manifest named by `paths` (files or directories). A file named explicitly is read
 * whatever its extension. Throws WeftError WEFT_MANIFEST_READ when a path is missing or unreadable.
 */
export async function readManifestSources(
  paths: readonly string[],
  cwd: string,
): Promise<{ file: string; text: string }[]> {
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let st;
    try {
      st = await stat(abs);
    } catch (err) {
      throw new WeftError(
        'WEFT_MANIFEST_READ',
        `${p}: no such file or directory; pass a manifest file or a directory of them with -f`,
        { cause: err },
      );
    }
    if (st.isDirectory()) await collect(abs, 0, files);
    else files.push(abs);
  }
  const seen = new Set<string>();
  const out: { file: string; text: string }[] = [];
  for (const abs of files) {
    if (seen.has(abs)) continue;
    seen.add(abs);
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (err) {
      throw new WeftError(
        'WEFT_MANIFEST_READ',
        `${relative(cwd, abs) || abs}: cannot read (${(err as Error).message})`,
        { cause: err },
      );
    }
    const rel = relative(cwd, abs);
    out.push({ file: rel && !rel.startsWith('..') ? rel : abs, text });
  }
  return out;
}
