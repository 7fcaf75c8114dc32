/**
 * The pure parts of the control-plane benchmark: following `/v1/status` until every proxy has
 * acknowledged a new snapshot (the control plane's own view of propagation), latency summaries
 * (percentiles from the data-path benchmark's HDR-style histogram, bench/macro/histogram.ts, so
 * both benchmarks compute percentiles the same way) and the markdown report. No I/O; unit-tested
 * in test/bench/control-report.test.ts.
 */
import { Histogram } from '../macro/histogram.ts';
import { spread, type Spread } from '../macro/stats.ts';

/** The fields of one `/v1/status` proxy entry the tracker reads. */
export interface StatusEntry {
  node: string;
  connected: boolean;
  ackedVersion: string;
  latestVersion: string;
}

/**
 * Records, per node, the first observation at which the proxy has acknowledged a snapshot newer than
 * the one it had before the apply. The control plane rebuilds its model after the store commits, so
 * right after the API call `/v1/status` may still show the old version acked; "new" is therefore
 * `latestVersion` differing from the version recorded before the apply.
 */
export class AckTracker {
  readonly #before: ReadonlyMap<string, string>;
  readonly ackedAt = new Map<string, number>();

  /** `before`: each node's latestVersion before the apply (every measured change moves them all). */
  constructor(before: ReadonlyMap<string, string>) {
    this.#before = before;
  }

  /** Feed one status answer observed at `tMs`; returns how many nodes are acked so far. */
  observe(entries: readonly StatusEntry[], tMs: number): number {
    for (const e of entries) {
      if (this.ackedAt.has(e.node) || !this.#before.has(e.node)) continue;
      const moved = e.latestVersion !== '' && e.latestVersion !== this.#before.get(e.node);
      if (moved && e.connected && e.ackedVersion === e.latestVersion) this.ackedAt.set(e.node, tMs);
    }
    return this.ackedAt.size;
  }

  /** True once every node that was known before the apply has acked. */
  done(): boolean {
    return this.ackedAt.size >= this.#before.size;
  }

  /** Nodes still waiting. */
  missing(): string[] {
    return [...this.#before.keys()].filter((n) => !this.ackedAt.has(n));
  }
}

/** Percentiles (ms, 0.01 precision) of a set of durations in ms. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarises durations (ms) through an HDR-style histogram of whole microseconds; null when empty. */
export function latencySummary(ms: readonly number[]): LatencySummary | null {
  const h = new Histogram();
  for (const v of ms) if (Number.isFinite(v) && v >= 0) h.record(Math.round(v * 1000));
  if (h.count === 0) return null;
  const toMs = (us: number): number => Math.round(us / 10) / 100;
  return {
    count: h.count,
    p50: toMs(h.percentile(50)),
    p90: toMs(h.percentile(90)),
    p99: toMs(h.percentile(99)),
    max: toMs(h.max),
  };
}

/** One measured apply. Times are ms since the apply call started. */
export interface ApplyRecord {
  index: number;
  what: string;
  revision: number;
  /** Duration of the API call (validate, commit, answer). */
  apiMs: number;
  /** Per proxy: when its client's onSnapshot saw the new revision (client view). */
  receivedMs: number[];
  /** Per proxy: first /v1/status poll showing it acked the new version (control-plane view). */
  ackedMs: number[];
  /** Time until every proxy had acked, from /v1/status. */
  allAckedMs: number | null;
  /** Proxies that did not ack within the apply timeout. */
  missing: number;
  /** Control-plane CPU-seconds (user+system) from the call to the last ack. */
  controlCpuS: number;
  /** This process's CPU-seconds over the same interval (the simulated proxies and the poller). */
  clientCpuS: number;
}

export interface SizeResult {
  nodes: number;
  workloads: number;
  services: number;
  resources: number;
  /** Bytes of one node's snapshot JSON as pushed (the first proxy's first snapshot). */
  snapshotBytes: number;
  initialApplyMs: number;
  attestation: { calls: number; concurrency: number; latency: LatencySummary | null; perSecond: number };
  connect: {
    concurrency: number;
    /** Per proxy: keygen + attestation + mTLS + stream + first snapshot. */
    firstSnapshot: LatencySummary | null;
    /** Until /v1/status showed every proxy connected and acked. */
    allAckedS: number;
    controlCpuS: number;
    clientCpuS: number;
  };
  applies: ApplyRecord[];
  signing: {
    svids: number;
    concurrency: number;
    wallS: number;
    perSecond: number;
    latency: LatencySummary | null;
    controlCpuS: number;
    errors: number;
  };
  controlPeakRssMb: number;
  clientPeakRssMb: number;
  /** Wall time of the whole size, start to stop. */
  wallS: number;
  warnings: string[];
}

export interface ApplySummary {
  received: LatencySummary | null;
  acked: LatencySummary | null;
  allAckedMs: Spread | null;
  apiMs: Spread | null;
  controlCpuPerApplyS: Spread | null;
  clientCpuPerApplyS: Spread | null;
  missing: number;
}

/** Pools every proxy of every apply (p50/p99/max over all of them) and spreads the per-apply figures. */
export function summarizeApplies(applies: readonly ApplyRecord[]): ApplySummary {
  return {
    received: latencySummary(applies.flatMap((a) => a.receivedMs)),
    acked: latencySummary(applies.flatMap((a) => a.ackedMs)),
    allAckedMs: spread(applies.map((a) => a.allAckedMs ?? Number.NaN)),
    apiMs: spread(applies.map((a) => a.apiMs)),
    controlCpuPerApplyS: spread(applies.map((a) => a.controlCpuS)),
    clientCpuPerApplyS: spread(applies.map((a) => a.clientCpuS)),
    missing: applies.reduce((n, a) => n + a.missing, 0),
  };
}

export interface ControlReportMeta {
  date: string;
  gitSha: string;
  command: string;
  machine: string;
  loadAverage: { before: number; after: number; cpus: number };
  notes: string[];
}

const ms = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? 'n/a' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
const num2 = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(2);
const med = (s: Spread | null, f: (x: number) => string): string =>
  !s ? 'n/a' : s.n > 1 && f(s.min) !== f(s.max) ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
const pct = (l: LatencySummary | null): string => (l ? `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.max)}` : 'n/a');

/** The headline table: one row per size. */
export function controlTable(results: readonly SizeResult[]): string {
  const lines = [
    '| proxies | apply → ACK p50 / p99 / max ms (status) | apply → receipt p50 / p99 / max ms (clients) | all acked ms, median (min–max) | control CPU-s per apply | control peak RSS MB | SVIDs/s | attest p50 / p99 ms | client CPU-s per apply |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const s = summarizeApplies(r.applies);
    lines.push(
      `| ${r.nodes.toLocaleString('en-US')} | ${pct(s.acked)} | ${pct(s.received)} | ${med(s.allAckedMs, ms)} | ` +
        `${med(s.controlCpuPerApplyS, num2)} | ${Math.round(r.controlPeakRssMb)} | ${Math.round(r.signing.perSecond)} | ` +
        `${r.attestation.latency ? `${ms(r.attestation.latency.p50)} / ${ms(r.attestation.latency.p99)}` : 'n/a'} | ` +
        `${med(s.clientCpuPerApplyS, num2)} |`,
    );
  }
  return lines.join('\n');
}

/** The full markdown report: headline table, per-size details, notes. */
export function controlMarkdown(results: readonly SizeResult[], meta: ControlReportMeta): string {
  const out = [
    `# Weft control-plane benchmark ${meta.date} (${meta.gitSha})`,
    '',
    `Command: \`${meta.command}\`  `,
    `Machine: ${meta.machine}  `,
    `Load average (1 min) before / after: ${meta.loadAverage.before.toFixed(2)} / ${meta.loadAverage.after.toFixed(2)} on ${meta.loadAverage.cpus} CPUs`,
    '',
    '## Summary',
    '',
    controlTable(results),
    '',
  ];
  for (const r of results) {
    const s = summarizeApplies(r.applies);
    out.push(
      `## ${r.nodes.toLocaleString('en-US')} proxies`,
      '',
      `Mesh: ${r.nodes} Nodes, ${r.workloads} Workloads (one identity each), ${r.services} Services with an HTTPRoute and an AuthorizationPolicy each — ${r.resources} resources; one node's snapshot is ${(r.snapshotBytes / 1024).toFixed(0)} KiB. Initial apply: ${ms(r.initialApplyMs)} ms.`,
      '',
      '| phase | figure |',
      '|---|---|',
      `| attestation (POST /v1/nodes/{n}/attest, real join token, ${r.attestation.calls} calls, ${r.attestation.concurrency} in flight) | p50 / p90 / p99 ${ms(r.attestation.latency?.p50)} / ${ms(r.attestation.latency?.p90)} / ${ms(r.attestation.latency?.p99)} ms, ${Math.round(r.attestation.perSecond)} /s |`,
      `| connect ${r.nodes} proxies (${r.connect.concurrency} at a time): keygen + attest + mTLS + first snapshot | p50 / p99 / max ${pct(r.connect.firstSnapshot)} ms; all acked after ${r.connect.allAckedS.toFixed(1)} s; control ${r.connect.controlCpuS.toFixed(1)} CPU-s, client ${r.connect.clientCpuS.toFixed(1)} CPU-s |`,
      `| ${r.applies.length} applies: API call | median ${med(s.apiMs, ms)} ms |`,
      `| apply → ACK, every proxy (control plane's /v1/status) | p50 / p90 / p99 / max ${ms(s.acked?.p50)} / ${ms(s.acked?.p90)} / ${ms(s.acked?.p99)} / ${ms(s.acked?.max)} ms over ${s.acked?.count ?? 0} |`,
      `| apply → snapshot received, every proxy (client onSnapshot) | p50 / p90 / p99 / max ${ms(s.received?.p50)} / ${ms(s.received?.p90)} / ${ms(s.received?.p99)} / ${ms(s.received?.max)} ms over ${s.received?.count ?? 0} |`,
      `| apply → all acked | median ${med(s.allAckedMs, ms)} ms${s.missing ? `; ${s.missing} proxy-applies never acked` : ''} |`,
      `| control plane CPU per apply (call → last ACK) | ${med(s.controlCpuPerApplyS, num2)} CPU-s |`,
      `| client process CPU per apply (all simulated proxies + poller) | ${med(s.clientCpuPerApplyS, num2)} CPU-s |`,
      `| SVID signing (SignWorkload over the push channel, ${r.signing.concurrency} in flight) | ${r.signing.svids} SVIDs in ${r.signing.wallS.toFixed(2)} s = ${Math.round(r.signing.perSecond)} /s; p50 / p99 ${ms(r.signing.latency?.p50)} / ${ms(r.signing.latency?.p99)} ms; control ${r.signing.controlCpuS.toFixed(2)} CPU-s${r.signing.errors ? `; ${r.signing.errors} errors` : ''} |`,
      `| peak RSS | control plane ${Math.round(r.controlPeakRssMb)} MB; client process ${Math.round(r.clientPeakRssMb)} MB |`,
      `| wall time of this size | ${r.wallS.toFixed(0)} s |`,
      '',
      '| apply | change | API ms | all acked ms | control CPU-s | client CPU-s |',
      '|---:|---|---:|---:|---:|---:|',
      ...r.applies.map(
        (a) =>
          `| ${a.index + 1} | ${a.what} | ${ms(a.apiMs)} | ${a.allAckedMs == null ? `not all (${a.missing} missing)` : ms(a.allAckedMs)} | ${num2(a.controlCpuS)} | ${num2(a.clientCpuS)} |`,
      ),
      '',
    );
    for (const w of r.warnings) out.push(`- Warning: ${w}`);
    if (r.warnings.length) out.push('');
  }
  if (meta.notes.length) out.push('## Notes', '', ...meta.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}
