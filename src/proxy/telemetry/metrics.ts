/**
 * Proxy metrics in plain numbers, rendered as Prometheus text on demand. Counters are keyed by a
 * label string built once per (source, destination, code) — the data path increments a number in a
 * Map and allocates nothing else. Names follow `weft_<layer>_<thing>_<unit>` (docs/metrics.md).
 */

const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

class Histogram {
  readonly counts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
  sum = 0;
  count = 0;
  observe(ms: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
    this.sum += ms;
    this.count++;
  }
}

function labels(obj: Record<string, string>): string {
  return Object.entries(obj)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

export class ProxyMetrics {
  readonly #counters = new Map<string, Map<string, number>>();
  /** Histograms by name, then label key (no string is built per observation). */
  readonly #histograms = new Map<string, Map<string, Histogram>>();
  /** `key,code="N"` label strings, built once per (key, code). */
  readonly #codeKeys = new Map<string, Map<number, string>>();
  readonly #help = new Map<string, string>();
  #gauges: () => Record<string, number> = () => ({});

  constructor() {
    this.#help.set(
      'weft_proxy_requests_total',
      'HTTP requests by source identity, destination service and code',
    );
    this.#help.set(
      'weft_proxy_connections_total',
      'TCP connections by source identity, destination service, result',
    );
    this.#help.set('weft_proxy_bytes_total', 'Bytes carried by direction');
    this.#help.set(
      'weft_proxy_inbound_requests_total',
      'HTTP requests delivered to local workloads by source identity, destination service and code',
    );
    this.#help.set('weft_proxy_request_duration_ms', 'HTTP request latency seen by the proxy (ms)');
    this.#help.set('weft_proxy_denied_total', 'Requests or connections denied by authorization');
    this.#help.set('weft_proxy_errors_total', 'Failures by kind');
    this.#help.set(
      'weft_proxy_http1_full_path_total',
      'HTTP/1.1 connections handed from the fast path to the full HTTP server, by reason',
    );
  }

  /** Build the label key once and reuse it. */
  key(labelValues: Record<string, string>): string {
    return labels(labelValues);
  }

  inc(name: string, key: string, by = 1): void {
    let m = this.#counters.get(name);
    if (!m) this.#counters.set(name, (m = new Map()));
    m.set(key, (m.get(key) ?? 0) + by);
  }

  observe(name: string, key: string, ms: number): void {
    let byKey = this.#histograms.get(name);
    if (!byKey) this.#histograms.set(name, (byKey = new Map()));
    let h = byKey.get(key);
    if (!h) byKey.set(key, (h = new Histogram()));
    h.observe(ms);
  }

  /** The label key `key` plus `code="<code>"`, cached: a request's counter costs two Map lookups. */
  withCode(key: string, code: number): string {
    let byCode = this.#codeKeys.get(key);
    if (!byCode) this.#codeKeys.set(key, (byCode = new Map()));
    let k = byCode.get(code);
    if (k === undefined) byCode.set(code, (k = `${key},code="${code}"`));
    return k;
  }

  setGauges(fn: () => Record<string, number>): void {
    this.#gauges = fn;
  }

  counter(name: string, key: string): number {
    return this.#counters.get(name)?.get(key) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, m] of this.#counters) {
      out.push(`# HELP ${name} ${this.#help.get(name) ?? name}`, `# TYPE ${name} counter`);
      for (const [key, v] of m) out.push(`${name}{${key}} ${v}`);
    }
    for (const [name, list] of this.#histograms) {
      out.push(`# HELP ${name} ${this.#help.get(name) ?? name}`, `# TYPE ${name} histogram`);
      for (const [key, h] of list) {
        let cum = 0;
        const sep = key ? ',' : '';
        LATENCY_BUCKETS_MS.forEach((b, i) => {
          cum += h.counts[i]!;
          out.push(`${name}_bucket{${key}${sep}le="${b}"} ${cum}`);
        });
        out.push(`${name}_bucket{${key}${sep}le="+Inf"} ${h.count}`);
        out.push(`${name}_sum{${key}} ${h.sum}`, `${name}_count{${key}} ${h.count}`);
      }
    }
    for (const [name, v] of Object.entries(this.#gauges())) {
      out.push(`# TYPE ${name} gauge`, `${name} ${v}`);
    }
    return out.join('\n') + '\n';
  }
}
