/**
 * The reachability matrix: for every (source, destination workload, port), which request classes are
 * allowed. Cells where nothing is allowed are left out unless asked for (default deny makes them the
 * overwhelming majority). The compact graph form is for the dashboard: one edge per cell that allows
 * anything, `full` when every class is allowed.
 */
import type { Analyser, RequestClass, Verdict, WitnessRequest } from './analyser.ts';

export interface AllowedClass {
  readonly constraints: readonly string[];
  readonly request: WitnessRequest | undefined;
  readonly policies: readonly string[];
}

export interface MatrixCell {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: string;
  readonly services: readonly string[];
  readonly mtls: string;
  /** 'all' when every request class is allowed, 'some', or 'none'. */
  readonly allowed: 'all' | 'some' | 'none';
  readonly allowedClasses: number;
  readonly classes: number;
  readonly allow: readonly AllowedClass[];
}

export interface Matrix {
  readonly cells: readonly MatrixCell[];
  readonly sources: number;
  readonly destinations: number;
  /** Statements about what is not decided exactly (empty when the matrix is a proof). */
  readonly notes: readonly string[];
}

export interface MatrixOptions {
  readonly includeDenied?: boolean;
}

export function computeMatrix(a: Analyser, opts: MatrixOptions = {}): Matrix {
  const cells: MatrixCell[] = [];
  const notes = new Set(a.notes);
  for (const dst of a.destinations) {
    for (const port of dst.ports) {
      const set = a.classes(dst, port);
      if (set.inexact) notes.add(`${dst.id}:${port.port}: ${set.inexact}`);
      for (const src of a.sources) {
        const allow: AllowedClass[] = [];
        let mtls = '';
        for (const cls of set.classes) {
          const v: Verdict = a.decide(src, dst, port, cls);
          mtls = v.mtls;
          if (v.allowed) allow.push(allowedClass(cls, v));
        }
        if (allow.length === 0 && !opts.includeDenied) continue;
        cells.push({
          from: src.id,
          to: dst.id,
          port: port.port,
          protocol: port.protocol,
          services: port.services,
          mtls,
          allowed: allow.length === 0 ? 'none' : allow.length === set.classes.length ? 'all' : 'some',
          allowedClasses: allow.length,
          classes: set.classes.length,
          allow,
        });
      }
    }
  }
  return { cells, sources: a.sources.length, destinations: a.destinations.length, notes: [...notes] };
}

function allowedClass(cls: RequestClass, v: Verdict): AllowedClass {
  return { constraints: cls.constraints, request: cls.request, policies: v.policies };
}

export interface MatrixGraph {
  readonly nodes: readonly { id: string; namespace: string }[];
  readonly edges: readonly { from: string; to: string; port: number; full: boolean }[];
}

export function matrixGraph(m: Matrix): MatrixGraph {
  const nodes = new Map<string, string>();
  const edges: { from: string; to: string; port: number; full: boolean }[] = [];
  for (const c of m.cells) {
    if (c.allowed === 'none') continue;
    nodes.set(c.from, c.from.split('/')[0] ?? '');
    nodes.set(c.to, c.to.split('/')[0] ?? '');
    edges.push({ from: c.from, to: c.to, port: c.port, full: c.allowed === 'all' });
  }
  return {
    nodes: [...nodes].sort().map(([id, namespace]) => ({ id, namespace })),
    edges,
  };
}

/** A request as one line: `GET /x host=h h1=v`. */
export function requestLine(r: WitnessRequest | undefined): string {
  if (!r) return 'TCP connection';
  const hs = Object.entries(r.headers).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  return [`${r.method} ${r.path}`, `host ${r.host}`, ...hs].join('  ');
}

export function formatMatrix(m: Matrix): string {
  const rows: string[][] = [['FROM', 'TO', 'PORT', 'ALLOWED', 'WHAT']];
  for (const c of m.cells) {
    const what =
      c.allowed === 'all'
        ? c.protocol === 'tcp'
          ? 'TCP'
          : 'all requests'
        : c.allowed === 'none'
          ? '-'
          : c.allow.map((x) => x.constraints.join(' & ')).join(' | ');
    rows.push([
      c.from,
      c.to,
      `${c.port}/${c.protocol}`,
      `${c.allowed} (${c.allowedClasses}/${c.classes})`,
      what,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) =>
    r
      .map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  lines.push(
    `${m.cells.length} allowed flows between ${m.sources} sources and ${m.destinations} destinations`,
  );
  for (const n of m.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
