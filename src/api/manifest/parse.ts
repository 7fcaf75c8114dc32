/**
 * Manifest files → resources. YAML (multi-document, YAML 1.2 core schema) and JSON (one object, an
 * array of objects, or a `kind: List` with `items`) go through the `yaml` package's document API with
 * a LineCounter, so every key and value has a line:column; each diagnostic points at the offending
 * key (unknown field) or value (everything else), falling back to the nearest enclosing node.
 */
import { createRequire } from 'node:module';
import type * as YamlLib from 'yaml';
import type { Node as YamlNode, Document, LineCounter } from 'yaml';

/**
 * The YAML library is loaded on first use, not at import: the node proxy imports this layer for its
 * types and helpers and never parses manifests, and `yaml` costs ~11 MB resident per process.
 */
let yamlLib: typeof YamlLib | undefined;
function yaml(): typeof YamlLib {
  return (yamlLib ??= createRequire(import.meta.url)('yaml') as typeof YamlLib);
}
const isMap = (n: unknown) => yaml().isMap(n);
const isSeq = (n: unknown) => yaml().isSeq(n);
const isScalar = (n: unknown) => yaml().isScalar(n);
import type { Diagnostic, Resource, SourceRef } from '../resource.ts';
import { resourceKey } from '../resource.ts';
import { parseEnvelope } from './envelope.ts';
import { CODES, formatPath, isPlainObject, type Issue, type Seg } from './schema.ts';

interface Pos {
  line: number;
  column: number;
}

/** Positions of keys and values by formatted path, for one YAML document. */
export class PositionIndex {
  readonly keys = new Map<string, Pos>();
  readonly values = new Map<string, Pos>();

  /** The position for an issue: the key or value at `path`, else the nearest ancestor's value. */
  lookup(path: readonly Seg[], at: 'key' | 'value'): Pos | undefined {
    const exact =
      (at === 'key' ? this.keys : this.values).get(formatPath(path)) ?? this.keys.get(formatPath(path));
    if (exact) return exact;
    for (let n = path.length - 1; n >= 0; n--) {
      const p = this.values.get(formatPath(path.slice(0, n)));
      if (p) return p;
    }
    return undefined;
  }
}

function indexDocument(doc: Document, lc: LineCounter): PositionIndex {
  const idx = new PositionIndex();
  const pos = (offset: number): Pos => {
    const { line, col } = lc.linePos(offset);
    return { line, column: col };
  };
  // Bounded by the document's size: each node is visited once.
  const walk = (node: unknown, path: Seg[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const p = [...path, k];
        const f = formatPath(p);
        const keyNode = pair.key as YamlNode | null;
        if (keyNode?.range) idx.keys.set(f, pos(keyNode.range[0]));
        const valNode = pair.value as YamlNode | null;
        if (valNode?.range) idx.values.set(f, pos(valNode.range[0]));
        else if (keyNode?.range) idx.values.set(f, pos(keyNode.range[0]));
        walk(pair.value, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = [...path, i];
        const n = item as YamlNode | null;
        if (n?.range) idx.values.set(formatPath(p), pos(n.range[0]));
        walk(item, p);
      });
    }
  };
  const root = doc.contents as YamlNode | null;
  if (root?.range) idx.values.set('', pos(root.range[0]));
  walk(root, []);
  return idx;
}

/** Where each parsed resource's fields are (for cross-resource checks with field precision). */
const LOCATORS = new WeakMap<object, { file: string; index: PositionIndex; base: Seg[] }>();

/** Position of `path` inside a resource that came from parseManifests, if known. */
export function locate(
  r: Resource<unknown>,
  path: readonly Seg[],
  at: 'key' | 'value' = 'value',
): (Pos & { file: string }) | undefined {
  const l = LOCATORS.get(r);
  if (!l) return undefined;
  const p = l.index.lookup([...l.base, ...path], at);
  return p ? { file: l.file, ...p } : undefined;
}

export function issueToDiagnostic(i: Issue, file?: string, pos?: Pos): Diagnostic {
  return {
    severity: i.severity,
    code: i.code,
    ...(file !== undefined ? { file } : {}),
    ...(pos ? { line: pos.line, column: pos.column } : {}),
    path: formatPath(i.path),
    message: i.message,
  };
}

function jsonSyntaxProblem(text: string): { message: string; pos: Pos } | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    const m = /\(line (\d+) column (\d+)\)/.exec(message) ?? undefined;
    const at = /at position (\d+)/.exec(message);
    let pos: Pos = { line: 1, column: 1 };
    if (m) pos = { line: Number(m[1]), column: Number(m[2]) };
    else if (at) {
      const before = text.slice(0, Number(at[1]));
      const nl = before.lastIndexOf('\n');
      pos = { line: before.split('\n').length, column: before.length - nl };
    }
    return {
      message: message.replace(/ in JSON at position.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, ''),
      pos,
    };
  }
}

export interface ParseResult {
  resources: Resource[];
  /** Keyed by resourceKey: where each resource's document starts. */
  sources: Map<string, SourceRef>;
  diagnostics: Diagnostic[];
}

/**
 * Parse manifest files. Invalid documents are left out of `resources` (and reported); a second
 * resource with the same kind/namespace/name is reported and left out too.
 */
export function parseManifests(sources: readonly { file: string; text: string }[]): ParseResult {
  const resources: Resource[] = [];
  const refs = new Map<string, SourceRef>();
  const diagnostics: Diagnostic[] = [];
  for (const { file, text } of sources) {
    // JSON is parsed by the YAML parser (for positions), which is laxer than JSON: check JSON first.
    if (/\.json$/i.test(file)) {
      const problem = jsonSyntaxProblem(text);
      if (problem) {
        diagnostics.push({
          severity: 'error',
          code: CODES.syntax,
          file,
          ...problem.pos,
          path: '',
          message: `JSON syntax: ${problem.message}`,
        });
        continue;
      }
    }
    const lc = new (yaml().LineCounter)();
    const docs = yaml().parseAllDocuments(text, {
      lineCounter: lc,
      prettyErrors: false,
      uniqueKeys: true,
      strict: true,
    });
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      let syntaxError = false;
      for (const e of [...doc.errors, ...doc.warnings]) {
        const { line, col } = lc.linePos(e.pos[0]);
        const isErr = doc.errors.includes(e as never);
        syntaxError ||= isErr;
        diagnostics.push({
          severity: isErr ? 'error' : 'warning',
          code: CODES.syntax,
          file,
          line,
          column: col,
          path: '',
          message: `${/\.json$/i.test(file) ? 'JSON' : 'YAML'} syntax: ${e.message.split('\n')[0]}`,
        });
      }
      if (syntaxError || doc.contents === null) continue;
      const index = indexDocument(doc, lc);
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 1000 });
      } catch (err) {
        const p = index.lookup([], 'value');
        diagnostics.push({
          severity: 'error',
          code: CODES.syntax,
          file,
          ...p,
          path: '',
          message: `YAML: ${(err as Error).message}`,
        });
        continue;
      }
      if (value === null || value === undefined) continue;
      // Collections: a top-level array, or a Kubernetes List.
      let items: { obj: unknown; base: Seg[] }[];
      if (Array.isArray(value)) items = value.map((obj, i) => ({ obj, base: [i] }));
      else if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items))
        items = value.items.map((obj: unknown, i: number) => ({ obj, base: ['items', i] }));
      else items = [{ obj: value, base: [] }];
      for (const { obj, base } of items) {
        const { resource, issues } = parseEnvelope(obj);
        for (const i of issues) {
          const full = { ...i, path: [...base, ...i.path] };
          diagnostics.push(issueToDiagnostic(full, file, index.lookup(full.path, i.at)));
        }
        if (!resource) continue;
        const start = index.lookup(base, 'value') ?? { line: 1, column: 1 };
        const key = resourceKey(resource);
        const prev = refs.get(key);
        if (prev) {
          diagnostics.push({
            severity: 'error',
            code: CODES.duplicate,
            file,
            ...start,
            path: '',
            message: `duplicate ${resource.kind} ${resource.metadata.namespace ? resource.metadata.namespace + '/' : ''}${resource.metadata.name} (first defined at ${prev.file}:${prev.line}:${prev.column})`,
          });
          continue;
        }
        LOCATORS.set(resource, { file, index, base });
        refs.set(key, { file, ...start });
        resources.push(resource);
      }
    }
  }
  return { resources, sources: refs, diagnostics };
}

/**
 * Validate one JSON object (the HTTP API's input): the same checks as a manifest, without
 * positions. Diagnostics carry the field path only.
 */
export function parseResourceObject(obj: unknown): { resource?: Resource; diagnostics: Diagnostic[] } {
  const { resource, issues } = parseEnvelope(obj);
  return { ...(resource ? { resource } : {}), diagnostics: issues.map((i) => issueToDiagnostic(i)) };
}
