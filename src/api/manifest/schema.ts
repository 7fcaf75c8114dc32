/**
 * A small schema language for resource kinds: one schema per kind, built from these combinators,
 * turns untrusted plain data into a typed value with defaults applied, and records every problem as
 * an Issue with the field path and whether it concerns the key or the value (so the caller can point
 * at the right line:column). Unknown keys are always rejected, with a did-you-mean suggestion.
 *
 * Why not a library: we need key-vs-value positions, did-you-mean and upstream-style messages
 * (`"Prefix" is not one of Exact, PathPrefix, RegularExpression`), which is most of the work anyway.
 */
import type { Severity } from '../resource.ts';

export type Seg = string | number;

export interface Issue {
  severity: Severity;
  code: string;
  path: Seg[];
  message: string;
  /** Point at the key of the field (unknown field) or its value (everything else). */
  at: 'key' | 'value';
}

/** Stable diagnostic codes of validation (catalogued in docs/errors.md). */
export const CODES = {
  syntax: 'WEFT_MANIFEST_SYNTAX',
  unknownField: 'WEFT_VALIDATION_UNKNOWN_FIELD',
  required: 'WEFT_VALIDATION_REQUIRED',
  type: 'WEFT_VALIDATION_TYPE',
  enum: 'WEFT_VALIDATION_ENUM',
  value: 'WEFT_VALIDATION_VALUE',
  unknownKind: 'WEFT_VALIDATION_UNKNOWN_KIND',
  unsupported: 'WEFT_VALIDATION_UNSUPPORTED',
  duplicate: 'WEFT_VALIDATION_DUPLICATE',
  reference: 'WEFT_VALIDATION_REFERENCE',
  selectsNothing: 'WEFT_VALIDATION_SELECTS_NOTHING',
} as const;

export class Ctx {
  readonly issues: Issue[] = [];
  error(path: Seg[], message: string, code: string = CODES.value, at: 'key' | 'value' = 'value'): void {
    this.issues.push({ severity: 'error', code, path, message, at });
  }
  warn(path: Seg[], message: string, code: string = CODES.value, at: 'key' | 'value' = 'value'): void {
    this.issues.push({ severity: 'warning', code, path, message, at });
  }
}

export interface Schema<T> {
  /** What the value should be, for type errors ("a string", "a list"). */
  readonly expected: string;
  parse(v: unknown, path: Seg[], cx: Ctx): T | undefined;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return typeof v;
}

function typeError(cx: Ctx, path: Seg[], expected: string, v: unknown): undefined {
  cx.error(path, `expected ${expected}, got ${typeName(v)}`, CODES.type);
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Did-you-mean

/** Levenshtein distance (case-insensitive), bounded inputs only (field and kind names). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase().slice(0, 100);
  const t = b.toLowerCase().slice(0, 100);
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[t.length]!;
}

/** The closest candidate when it is close enough to be a likely misspelling. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(input, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = Math.max(2, Math.floor(input.length / 3));
  return bestD <= limit ? best : undefined;
}

export function oneOfMessage(v: string, allowed: readonly string[]): string {
  const hint = didYouMean(v, allowed);
  return `${JSON.stringify(v)} is not one of ${allowed.join(', ')}${hint && hint !== v ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Scalars

export interface StrOpts {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** Said when `pattern` does not match: what a valid value looks like. */
  patternHint?: string;
  check?: (s: string) => string | undefined;
}

export function str(o: StrOpts = {}): Schema<string> {
  return {
    expected: 'a string',
    parse(v, path, cx) {
      if (typeof v !== 'string') return typeError(cx, path, 'a string', v);
      if (o.min !== undefined && v.length < o.min) {
        cx.error(path, o.min === 1 ? 'must not be empty' : `must be at least ${o.min} characters`);
        return undefined;
      }
      if (o.max !== undefined && v.length > o.max) {
        cx.error(path, `must be at most ${o.max} characters (got ${v.length})`);
        return undefined;
      }
      if (o.pattern && !o.pattern.test(v)) {
        cx.error(
          path,
          `${JSON.stringify(v)} is invalid: ${o.patternHint ?? `must match ${o.pattern.source}`}`,
        );
        return undefined;
      }
      const msg = o.check?.(v);
      if (msg) {
        cx.error(path, msg);
        return undefined;
      }
      return v;
    },
  };
}

export function oneOf<const T extends string>(allowed: readonly T[]): Schema<T> {
  return {
    expected: `one of ${allowed.join(', ')}`,
    parse(v, path, cx) {
      if (typeof v !== 'string') return typeError(cx, path, `one of ${allowed.join(', ')}`, v);
      if (!(allowed as readonly string[]).includes(v)) {
        cx.error(path, oneOfMessage(v, allowed), CODES.enum);
        return undefined;
      }
      return v as T;
    },
  };
}

export interface IntOpts {
  min?: number;
  max?: number;
  check?: (n: number) => string | undefined;
}

export function int(o: IntOpts = {}): Schema<number> {
  return {
    expected: 'an integer',
    parse(v, path, cx) {
      if (typeof v !== 'number' || !Number.isInteger(v)) return typeError(cx, path, 'an integer', v);
      if ((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) {
        const range =
          o.max === undefined
            ? `at least ${o.min}`
            : o.min === undefined
              ? `at most ${o.max}`
              : `${o.min}-${o.max}`;
        cx.error(path, `${v} is out of range (must be ${range})`);
        return undefined;
      }
      const msg = o.check?.(v);
      if (msg) {
        cx.error(path, msg);
        return undefined;
      }
      return v;
    },
  };
}

export function num(o: { min?: number; max?: number } = {}): Schema<number> {
  return {
    expected: 'a number',
    parse(v, path, cx) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return typeError(cx, path, 'a number', v);
      if ((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) {
        cx.error(path, `${v} is out of range (must be ${o.min ?? '-∞'}-${o.max ?? '∞'})`);
        return undefined;
      }
      return v;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    expected: 'true or false',
    parse(v, path, cx) {
      if (typeof v !== 'boolean') return typeError(cx, path, 'true or false', v);
      return v;
    },
  };
}

/** A TCP/UDP port number 1-65535. */
export const portNumber = (): Schema<number> => int({ min: 1, max: 65535 });

/** Kubernetes IntOrString: a number or a string (e.g. a named port). */
export function intOrString(i: Schema<number>, s: Schema<string>): Schema<number | string> {
  return {
    expected: 'a number or a string',
    parse(v, path, cx) {
      if (typeof v === 'number') return i.parse(v, path, cx);
      if (typeof v === 'string') return s.parse(v, path, cx);
      return typeError(cx, path, 'a number or a string', v);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Containers

export interface ListOpts {
  min?: number;
  max?: number;
  /** Items must be unique by this key (Kubernetes listMapKey). */
  uniqueBy?: (item: unknown) => string | undefined;
  uniqueWhat?: string;
}

export function list<T>(item: Schema<T>, o: ListOpts = {}): Schema<T[]> {
  return {
    expected: 'a list',
    parse(v, path, cx) {
      if (!Array.isArray(v)) return typeError(cx, path, 'a list', v);
      if (o.min !== undefined && v.length < o.min) {
        cx.error(path, o.min === 1 ? 'must have at least one item' : `must have at least ${o.min} items`);
      }
      if (o.max !== undefined && v.length > o.max) {
        cx.error(path, `must have at most ${o.max} items (got ${v.length})`);
        return undefined;
      }
      const out: T[] = [];
      const seen = new Map<string, number>();
      let ok = true;
      v.forEach((x, i) => {
        const p = [...path, i];
        const r = item.parse(x, p, cx);
        if (r === undefined) ok = false;
        else out.push(r);
        const k = o.uniqueBy?.(x);
        if (k !== undefined) {
          const first = seen.get(k);
          if (first !== undefined) {
            cx.error(
              p,
              `duplicate ${o.uniqueWhat ?? 'item'} ${JSON.stringify(k)} (first at index ${first})`,
              CODES.duplicate,
            );
            ok = false;
          } else seen.set(k, i);
        }
      });
      return ok ? out : undefined;
    },
  };
}

/** A string-keyed map (labels, annotations, portLevelMtls). */
export function record<T>(key: Schema<string>, value: Schema<T>): Schema<Record<string, T>> {
  return {
    expected: 'an object',
    parse(v, path, cx) {
      if (!isPlainObject(v)) return typeError(cx, path, 'an object (a map)', v);
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, x] of Object.entries(v)) {
        const p = [...path, k];
        const before = cx.issues.length;
        const kk = key.parse(k, p, cx);
        for (const iss of cx.issues.slice(before)) iss.at = 'key';
        const vv = value.parse(x, p, cx);
        if (kk === undefined || vv === undefined) ok = false;
        else out[kk] = vv;
      }
      return ok ? out : undefined;
    },
  };
}

export interface Field {
  schema: Schema<unknown>;
  required?: boolean;
  /** Applied when the field is absent (a function for fresh objects). */
  default?: unknown;
}

type FieldSpec = Schema<unknown> | Field;

export const req = <T>(schema: Schema<T>): Field => ({ schema: schema as Schema<unknown>, required: true });
export const dflt = <T>(schema: Schema<T>, value: T | (() => T)): Field => ({
  schema: schema as Schema<unknown>,
  default: value,
});

export interface ObjOpts<T> {
  /** Cross-field rules, run when every field parsed. Report through cx; the return value is ignored. */
  check?: (o: T, path: Seg[], cx: Ctx, raw: Record<string, unknown>) => void;
  /** Exactly one (or at most one when `atMostOne`) of these fields must be present. */
  exactlyOne?: string[][];
  atMostOne?: string[][];
}

/**
 * An object with known fields. Unknown keys are errors (with did-you-mean), missing required
 * fields are errors, defaults fill absent fields. A field explicitly set to null is treated as absent
 * (as kubectl does).
 */
export function obj<T>(fields: Record<string, FieldSpec>, o: ObjOpts<T> = {}): Schema<T> {
  const names = Object.keys(fields);
  const norm: Record<string, Field> = {};
  for (const [k, f] of Object.entries(fields)) norm[k] = 'parse' in f ? { schema: f } : f;
  return {
    expected: 'an object',
    parse(v, path, cx) {
      if (!isPlainObject(v)) return typeError(cx, path, 'an object', v);
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const k of Object.keys(v)) {
        if (!(k in norm)) {
          const hint = didYouMean(k, names);
          cx.error(
            [...path, k],
            hint
              ? `unknown field ${JSON.stringify(k)}; did you mean ${JSON.stringify(hint)}?`
              : `unknown field ${JSON.stringify(k)} (known fields: ${names.join(', ') || 'none'})`,
            CODES.unknownField,
            'key',
          );
          ok = false;
        }
      }
      for (const name of names) {
        const f = norm[name]!;
        const x = v[name];
        if (x === undefined || x === null) {
          if (f.required) {
            cx.error([...path, name], 'required field is missing', CODES.required);
            ok = false;
          } else if (f.default !== undefined) {
            out[name] =
              typeof f.default === 'function' ? (f.default as () => unknown)() : structuredClone(f.default);
          }
          continue;
        }
        const r = f.schema.parse(x, [...path, name], cx);
        if (r === undefined) ok = false;
        else out[name] = r;
      }
      for (const group of o.exactlyOne ?? []) {
        const present = Object.keys(v).filter(
          (g) => group.includes(g) && v[g] !== undefined && v[g] !== null,
        );
        if (present.length !== 1) {
          cx.error(
            present.length > 1 ? [...path, present[1]!] : path,
            present.length === 0
              ? `exactly one of ${group.join(', ')} must be set`
              : `only one of ${group.join(', ')} may be set (found ${present.join(' and ')})`,
            present.length === 0 ? CODES.required : CODES.value,
            present.length > 1 ? 'key' : 'value',
          );
          ok = false;
        }
      }
      for (const group of o.atMostOne ?? []) {
        const present = Object.keys(v).filter(
          (g) => group.includes(g) && v[g] !== undefined && v[g] !== null,
        );
        if (present.length > 1) {
          cx.error(
            [...path, present[1]!],
            `only one of ${present.join(', ')} may be set`,
            CODES.value,
            'key',
          );
          ok = false;
        }
      }
      if (!ok) return undefined;
      const before = cx.issues.filter((i) => i.severity === 'error').length;
      o.check?.(out as T, path, cx, v);
      if (cx.issues.filter((i) => i.severity === 'error').length > before) return undefined;
      return out as T;
    },
  };
}

/** Defers construction (recursive or mutually referencing schemas). */
export function lazy<T>(f: () => Schema<T>): Schema<T> {
  let s: Schema<T> | undefined;
  return {
    expected: 'a value',
    parse(v, path, cx) {
      s ??= f();
      return s.parse(v, path, cx);
    },
  };
}

/** Any JSON value, accepted as-is (used only for opaque, documented pass-through fields). */
export function anyValue(): Schema<unknown> {
  return { expected: 'a value', parse: (v) => v };
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** `spec.rules[0].matches[1].path.type`; keys that are not identifiers are quoted. */
export function formatPath(path: readonly Seg[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg)) s += s ? `.${seg}` : seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}
