/**
 * Renders a benchmark summary for people: a markdown report (the lead pastes its first table into
 * the README) and a hand-written SVG chart of the latency percentiles per case, one panel per load
 * level, log-scaled so a 100 µs baseline and a 5 ms tail fit on one picture. Pure string building,
 * no dependency.
 */
import { PERCENTILES, testOrder, type CaseSummary, type TestSummary } from './results.ts';
import type { Spread } from './stats.ts';

export interface ReportMeta {
  date: string;
  gitSha: string;
  command: string;
  machine: string;
  pinning: string;
  rounds: number;
  notes: string[];
  skipped: { case: string; reason: string }[];
  baseline: string;
}

const f0 = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US');
const f2 = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(2);
const signed = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? 'n/a' : (x >= 0 ? '+' : '−') + f0(Math.abs(x));
const times = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? 'n/a' : `${x >= 100 ? f0(x) : x.toFixed(x >= 10 ? 1 : 2)}×`;
/** `median (min–max)`, or just the median when there was one round or the range is empty. */
export function fmtSpread(s: Spread | null | undefined, fmt: (x: number) => string = f0): string {
  if (!s) return 'n/a';
  const lo = fmt(s.min);
  const hi = fmt(s.max);
  return s.n > 1 && lo !== hi ? `${fmt(s.median)} (${lo}–${hi})` : fmt(s.median);
}

function rateLabel(test: string): string {
  return test.startsWith('rate')
    ? `${Number(test.slice(4)).toLocaleString('en-US')} req/s`
    : test === 'max'
      ? 'closed-loop max'
      : test;
}

function openTests(summaries: readonly CaseSummary[]): string[] {
  return [...new Set(summaries.flatMap((s) => Object.keys(s.tests)))]
    .filter((t) => t.startsWith('rate'))
    .sort(testOrder);
}

function rssCell(s: CaseSummary): string {
  const entries = Object.entries(s.rssPeakMb);
  if (entries.length === 0) return '–';
  return entries.map(([, v]) => f0(v.median)).join(' / ');
}

/** The headline table: one row per case at the highest open-loop rate plus the closed-loop run. */
export function headlineTable(summaries: readonly CaseSummary[], baseline: string): string {
  const top = openTests(summaries).pop();
  const lines = [
    `| case | p50 µs | p99 µs | added p50 µs (×) | added p99 µs (×) | max req/s (× ${baseline}) | proxy CPU-s / 10k req${top ? ` @ ${rateLabel(top)}` : ''} | @ max | peak RSS MB per proxy |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of summaries) {
    const t: TestSummary | undefined = top ? s.tests[top] : undefined;
    const isBase = s.case === baseline;
    const added = (p: 'p50' | 'p99'): string =>
      isBase || !t?.added ? '–' : `${signed(t.added[p].us)} (${times(t.added[p].ratio)})`;
    lines.push(
      `| ${s.case} | ${fmtSpread(t?.latency.p50)} | ${fmtSpread(t?.latency.p99)} | ${added('p50')} | ${added('p99')} | ` +
        `${fmtSpread(s.maxRps)}${isBase ? '' : ` (${times(s.maxRpsRatio)})`} | ${isBase ? '–' : fmtSpread(t?.cpuPer10k, f2)} | ` +
        `${isBase ? '–' : fmtSpread(s.tests.max?.cpuPer10k, f2)} | ${rssCell(s)} |`,
    );
  }
  return lines.join('\n');
}

/** The full markdown report. */
export function markdownReport(summaries: readonly CaseSummary[], meta: ReportMeta): string {
  const out: string[] = [];
  out.push(`# Data-path benchmark ${meta.date} (${meta.gitSha})`, '');
  out.push(`Command: \`${meta.command}\``, '');
  out.push(
    `Machine: ${meta.machine}. Pinning: ${meta.pinning}. Rounds: ${meta.rounds} (cases interleaved within each round).`,
  );
  out.push(
    'Values are medians over rounds, with (min–max) when there was more than one round. Latency is measured by the open-loop ' +
      'generator from each request\'s intended send time (no coordinated omission), in µs. "added" = case median − ' +
      `${meta.baseline} median; × = ratio. CPU = user+system seconds of every proxy process tree of the case per 10,000 ` +
      'completed requests. RSS = peak VmRSS per proxy (A / B), sampled every 0.5 s.',
    '',
  );
  for (const n of meta.notes) out.push(`- ${n}`);
  if (meta.notes.length) out.push('');
  out.push('## Summary', '', headlineTable(summaries, meta.baseline), '');
  const others = [...new Set(summaries.flatMap((s) => Object.keys(s.tests)))].filter(
    (t) => !t.startsWith('rate') && t !== 'max',
  );
  for (const t of [...openTests(summaries), ...others]) {
    out.push(t === 'soak' ? '## Soak: open loop, 2,000 req/s' : `## Open loop, ${rateLabel(t)}`, '');
    out.push(
      '| case | p50 | p90 | p99 | p99.9 | max | added p50 (×) | added p90 (×) | added p99 (×) | added p99.9 (×) | achieved req/s | proxy CPU-s / 10k | errors / non-2xx / unfinished |',
    );
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of summaries) {
      const ts = s.tests[t];
      if (!ts) continue;
      const add = PERCENTILES.map((p) =>
        ts.added ? `${signed(ts.added[p].us)} (${times(ts.added[p].ratio)})` : '–',
      );
      out.push(
        `| ${s.case} | ${PERCENTILES.map((p) => fmtSpread(ts.latency[p])).join(' | ')} | ${fmtSpread(ts.latency.max)} | ${add.join(' | ')} | ` +
          `${fmtSpread(ts.achievedRps)} | ${s.case === meta.baseline ? '–' : fmtSpread(ts.cpuPer10k, f2)} | ${ts.errors} / ${ts.non2xx} / ${ts.unfinished} |`,
      );
    }
    out.push('');
  }
  if (summaries.some((s) => s.tests.max)) {
    out.push('## Closed loop (maximum throughput)', '');
    out.push(
      '| case | req/s | × baseline | p50 µs | p99 µs | proxy CPU-s / 10k | upstream CPU-s / 10k | generator CPU-s | peak RSS MB per proxy | errors / non-2xx |',
    );
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of summaries) {
      const ts = s.tests.max;
      if (!ts) continue;
      out.push(
        `| ${s.case} | ${fmtSpread(s.maxRps)} | ${times(s.maxRpsRatio)} | ${fmtSpread(ts.latency.p50)} | ${fmtSpread(ts.latency.p99)} | ` +
          `${s.case === meta.baseline ? '–' : fmtSpread(ts.cpuPer10k, f2)} | ${fmtSpread(ts.upstreamCpuPer10k, f2)} | ${fmtSpread(ts.genCpuS, f2)} | ${rssCell(s)} | ${ts.errors} / ${ts.non2xx} |`,
      );
    }
    out.push('');
  }
  if (meta.skipped.length) {
    out.push('## Skipped cases and failed runs', '');
    for (const s of meta.skipped) out.push(`- \`${s.case}\`: ${s.reason.replace(/\s+/g, ' ').trim()}`);
    out.push('');
  }
  return out.join('\n');
}

const COLOURS = [
  '#222222',
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * SVG chart: one panel per load level (open-loop rates, then closed loop); x = percentile
 * (p50, p90, p99, p99.9), y = latency in µs on a log10 axis; one line per case.
 */
export function latencySvg(summaries: readonly CaseSummary[], title: string): string {
  const tests = [...new Set(summaries.flatMap((s) => Object.keys(s.tests)))].sort(testOrder);
  const W = 1060;
  const PH = 280;
  const top = 50;
  const left = 70;
  const plotW = 620;
  const plotH = PH - 70;
  const H = top + Math.max(1, tests.length) * PH + 20;
  const all = summaries.flatMap((s) =>
    Object.values(s.tests).flatMap((t) => PERCENTILES.map((p) => t.latency[p]?.median ?? Number.NaN)),
  );
  const finite = all.filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(finite.length ? Math.min(...finite) : 10)));
  const hi = Math.pow(10, Math.ceil(Math.log10(finite.length ? Math.max(...finite) : 1000)));
  const decades = Math.max(1, Math.round(Math.log10(hi / lo)));
  const y = (v: number, y0: number): number =>
    y0 + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / decades) * plotH;
  const x = (i: number): number => left + 30 + (i * (plotW - 60)) / (PERCENTILES.length - 1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(title)}</text>`);
  tests.forEach((t, ti) => {
    const y0 = top + ti * PH;
    parts.push(`<g>`);
    parts.push(
      `<text x="${left}" y="${y0 - 8}" font-size="13" font-weight="bold">${escapeXml(rateLabel(t))} — latency percentiles (µs, log scale)</text>`,
    );
    parts.push(
      `<rect x="${left}" y="${y0}" width="${plotW}" height="${plotH}" fill="none" stroke="#999999"/>`,
    );
    for (let d = 0; d <= decades; d++) {
      const v = lo * Math.pow(10, d);
      const yy = y(v, y0).toFixed(1);
      parts.push(`<line x1="${left}" y1="${yy}" x2="${left + plotW}" y2="${yy}" stroke="#e0e0e0"/>`);
      parts.push(
        `<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${escapeXml(f0(v))}</text>`,
      );
    }
    PERCENTILES.forEach((p, i) => {
      parts.push(
        `<text x="${x(i).toFixed(1)}" y="${y0 + plotH + 16}" text-anchor="middle">${p === 'p999' ? 'p99.9' : p}</text>`,
      );
    });
    summaries.forEach((s, si) => {
      const ts = s.tests[t];
      if (!ts) return;
      const colour = COLOURS[si % COLOURS.length]!;
      const pts = PERCENTILES.map((p, i) => [x(i), ts.latency[p]?.median] as const).filter(
        (pt): pt is readonly [number, number] => pt[1] != null && Number.isFinite(pt[1]) && pt[1] > 0,
      );
      if (pts.length === 0) return;
      parts.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([px, v]) => `${px.toFixed(1)},${y(v, y0).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [px, v] of pts) {
        parts.push(
          `<circle cx="${px.toFixed(1)}" cy="${y(v, y0).toFixed(1)}" r="3" fill="${colour}"><title>${escapeXml(`${s.case} ${f0(v)} µs`)}</title></circle>`,
        );
      }
    });
    summaries.forEach((s, si) => {
      const ly = y0 + 10 + si * 18;
      const colour = COLOURS[si % COLOURS.length]!;
      const ts = s.tests[t];
      parts.push(
        `<line x1="${left + plotW + 20}" y1="${ly}" x2="${left + plotW + 40}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      );
      const label = ts
        ? `${s.case}: p50 ${f0(ts.latency.p50?.median)} / p99 ${f0(ts.latency.p99?.median)}`
        : `${s.case}: –`;
      parts.push(
        `<text x="${left + plotW + 46}" y="${ly}" dominant-baseline="middle">${escapeXml(label)}</text>`,
      );
    });
    parts.push(`</g>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
