/**
 * `npm run bench:micro`: runs every bench/micro/**\/*.bench.ts file. A file exports
 * `benchmarks: MicroBenchmark[]` (see harness.ts and docs/benchmarks.md); files are run in path
 * order, one benchmark at a time, in this process. Results go to stdout and to
 * bench/results/micro-<date>-<sha>.json.
 *
 * Flags: --filter TEXT (file path or benchmark name contains TEXT), --time MS (sampling budget per
 * benchmark, default 1000), --quick (200 ms budget, 50 ms warm-up).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runBenchmarks, type MicroBenchmark, type MicroResult } from './harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = import.meta.dirname;

/** Every *.bench.ts under `dir`, sorted. */
export function findBenchFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => join(dir, f))
    .sort();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      filter: { type: 'string' },
      time: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const budget = Number(values.time ?? (values.quick ? 200 : 1000));
  if (!Number.isFinite(budget) || budget <= 0)
    throw new Error('--time must be a positive number of milliseconds');
  const files = findBenchFiles(DIR);
  if (files.length === 0) {
    process.stdout.write('no bench/micro/**/*.bench.ts files yet\n');
    return 0;
  }
  const all: { file: string; results: MicroResult[] }[] = [];
  for (const file of files) {
    const rel = relative(ROOT, file);
    const mod = (await import(pathToFileURL(file).href)) as { benchmarks?: MicroBenchmark[] };
    if (!Array.isArray(mod.benchmarks)) {
      process.stdout.write(`\n${rel}: no \`benchmarks\` export (a file may run itself on import)\n`);
      continue;
    }
    const f = values.filter;
    const list = f ? mod.benchmarks.filter((b) => rel.includes(f) || b.name.includes(f)) : mod.benchmarks;
    if (list.length === 0) continue;
    const results = await runBenchmarks(list, {
      title: rel,
      maxTimeMs: budget,
      warmupMs: values.quick ? 50 : 100,
    });
    all.push({ file: rel, results });
  }
  let sha = 'nogit';
  try {
    sha = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const out = join(ROOT, 'bench', 'results', `micro-${stamp}-${sha}.json`);
  writeFileSync(out, JSON.stringify({ date: stamp, sha, node: process.version, files: all }, null, 1) + '\n');
  process.stdout.write(`\nresults: ${relative(ROOT, out)}\n`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench:micro: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
