/**
 * Re-renders the markdown and SVG of a results file (`node bench/macro/render.ts
 * bench/results/<run>.json [--latest]`) from its raw run records, e.g. after the report format
 * changed; the summaries are recomputed with the current code. `--latest` also refreshes
 * bench/results/latest.{md,svg}.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { latencySvg, markdownReport, type ReportMeta } from './report.ts';
import { summarize, type RunRecord } from './results.ts';

const [file, flag] = process.argv.slice(2);
if (!file || !file.endsWith('.json')) {
  process.stderr.write('usage: node bench/macro/render.ts bench/results/<run>.json [--latest]\n');
  process.exit(2);
}
const data = JSON.parse(readFileSync(file, 'utf8')) as {
  meta: ReportMeta;
  records: RunRecord[];
  pins?: { name?: string };
};
const summaries = summarize(data.records, data.meta.baseline);
const name = basename(file, '.json');
const md = markdownReport(summaries, data.meta);
const svg = latencySvg(
  summaries,
  `Weft data-path benchmark ${data.meta.date} (${data.meta.gitSha}) — ${data.pins?.name ?? ''} pinning`,
);
const dir = dirname(file);
writeFileSync(join(dir, `${name}.md`), `${md.replace(/\n*$/, '')}\n\n![latency percentiles](${name}.svg)\n`);
writeFileSync(join(dir, `${name}.svg`), svg);
if (flag === '--latest') {
  writeFileSync(join(dir, 'latest.md'), `${md.replace(/\n*$/, '')}\n\n![latency percentiles](latest.svg)\n`);
  writeFileSync(join(dir, 'latest.svg'), svg);
}
process.stdout.write(`${join(dir, name)}.{md,svg}${flag === '--latest' ? ' and latest.{md,svg}' : ''}\n`);
