/** The markdown report and the hand-written SVG chart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, fmtSpread, headlineTable, latencySvg, markdownReport } from '../../bench/macro/report.ts';
import type { CaseSummary, TestSummary } from '../../bench/macro/results.ts';

const sp = (median: number, min = median, max = median, n = 3) => ({ median, min, max, n });

function ts(test: string, p50: number, added: boolean): TestSummary {
  return {
    test,
    rounds: 3,
    latency: {
      p50: sp(p50, p50 - 5, p50 + 5),
      p90: sp(p50 * 1.5),
      p99: sp(p50 * 3),
      p999: sp(p50 * 6),
      max: sp(p50 * 10),
    },
    achievedRps: sp(1000),
    cpuPer10k: added ? sp(1.25) : null,
    upstreamCpuPer10k: sp(0.1),
    genCpuS: sp(1),
    errors: 0,
    non2xx: 0,
    unfinished: 0,
    added: added
      ? {
          p50: { us: p50 - 100, ratio: p50 / 100 },
          p90: { us: 1, ratio: 1 },
          p99: { us: 2, ratio: 1 },
          p999: { us: 3, ratio: 1 },
        }
      : null,
  };
}

const summaries: CaseSummary[] = [
  {
    case: 'direct',
    tests: { rate2000: ts('rate2000', 100, false), max: ts('max', 50, false) },
    maxRps: sp(40_000),
    maxRpsRatio: 1,
    rssPeakMb: {},
  },
  {
    case: 'a<&>b',
    tests: { rate2000: ts('rate2000', 400, true), max: ts('max', 900, true) },
    maxRps: sp(10_000),
    maxRpsRatio: 0.25,
    rssPeakMb: { A: sp(20), B: sp(30) },
  },
];

/** Minimal well-formedness check: every tag closes in order, attributes are quoted, no raw & or <. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(xml); m; m = tag.exec(xml)) {
    const between = xml.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray angle bracket near: ${between.slice(0, 60)}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|#\d+);)/.test(between), `unescaped & near: ${between.slice(0, 60)}`);
    last = m.index + m[0].length;
    if (m[1]) assert.equal(stack.pop(), m[2], `closing </${m[2]}> does not match`);
    else if (!m[4]) stack.push(m[2]!);
  }
  assert.ok(!/[<>]/.test(xml.slice(last)), 'trailing markup');
  assert.deepEqual(stack, [], 'unclosed tags');
}

void test('fmtSpread shows the range only when there was more than one round', () => {
  assert.equal(fmtSpread(sp(1234, 1000, 2000)), '1,234 (1,000–2,000)');
  assert.equal(fmtSpread(sp(5, 5, 5, 1)), '5');
  assert.equal(fmtSpread(sp(5, 5, 5, 3)), '5');
  assert.equal(fmtSpread(null), 'n/a');
});

void test('headline table: one row per case, baseline without deltas, ratios for the others', () => {
  const t = headlineTable(summaries, 'direct').split('\n');
  assert.equal(t.length, 4);
  assert.match(t[2]!, /^\| direct \| 100 \(95–105\) \| 300 \| – \| – \| 40,000 \| – \| – \| – \|$/);
  assert.match(t[3]!, /\| \+300 \(4\.00×\) \|/);
  assert.match(t[3]!, /10,000 \(0\.25×\)/);
  assert.match(t[3]!, /\| 20 \/ 30 \|$/);
});

void test('markdown report has the summary, one section per rate, the closed loop and the skipped cases', () => {
  const md = markdownReport(summaries, {
    date: '20260101T000000Z',
    gitSha: 'abc1234',
    command: 'npm run bench -- --quick',
    machine: '2 × cpu',
    pinning: '--pin nodes',
    rounds: 3,
    notes: ['a note'],
    skipped: [{ case: 'caddy', reason: 'caddy is not installed' }],
    baseline: 'direct',
  });
  assert.match(md, /## Summary/);
  assert.match(md, /## Open loop, 2,000 req\/s/);
  assert.match(md, /## Closed loop \(maximum throughput\)/);
  assert.match(md, /- `caddy`: caddy is not installed/);
  assert.match(md, /- a note/);
});

void test('SVG chart is well-formed, escapes case names and draws one line per case per load level', () => {
  const svg = latencySvg(summaries, 'title & <more>');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assertWellFormed(svg);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 4);
  assert.match(svg, /a&lt;&amp;&gt;b/);
  assert.match(svg, /title &amp; &lt;more&gt;/);
  assert.doesNotMatch(svg, /NaN|undefined/);
  assertWellFormed(latencySvg([], 'empty'));
});

void test('escapeXml', () => {
  assert.equal(escapeXml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});
