/**
 * Exact partitions of one request attribute's value space by the string matchers the policies use,
 * with one concrete witness per part. The engine's string forms (Istio AuthorizationPolicy "Rule":
 * exact `abc`, prefix `abc*`, suffix `*abc`, presence `*`) are compiled by the engine's own
 * `compileString` and evaluated by its own `matchString`, so a witness's part is decided by the same
 * code the proxy runs.
 *
 * Why the candidate set below covers every value (docs/policy-analysis.md, "String attributes"):
 * let E, P, S be the exact, prefix and suffix values and X a non-empty run of a character that
 * occurs in none of them. For a present, non-empty value v equal to no exact value, let p* be the
 * longest value of P that prefixes v and s* the longest of S that ends v ('' when none). Then
 * w = p* + X + s* matches the same matchers as v: a prefix q prefixes w iff q prefixes p* (a longer q
 * would have to contain X's character) iff q prefixes v (p* is the longest); the same for suffixes;
 * w equals no exact value (it contains X's character); presence matches both. So every value lies in
 * the part of one of: absent, '', each exact value, or p + X + s for p ∈ P ∪ {''}, s ∈ S ∪ {''}.
 * Attribute domains (methods are upper-case tokens, paths are canonical) are respected by choosing X
 * from the domain's alphabet and checking each generic witness; a check that fails is reported as
 * inexact instead of being guessed.
 */
import { compileString, matchString } from '../authz/match.ts';
import type { StringMatcher } from '../authz/match.ts';
import { normalizePath } from '../authz/path.ts';
import { parseCidr, cidrContains, parseIp } from '../authz/cidr.ts';
import type { Cidr } from '../authz/cidr.ts';

/** Which values an attribute can take at the engine (after the proxy's own processing). */
export type AttributeDomain = 'method' | 'path' | 'host' | 'header';

/** One part of an attribute's value space: a witness and which matcher texts it matches. */
export interface AttributePart {
  /** The witness; undefined means the attribute is absent (headers only). */
  readonly value: string | undefined;
  /** Matcher texts (as written) the value matches. */
  readonly matches: readonly string[];
  /** Matcher texts it does not match. */
  readonly misses: readonly string[];
}

export interface AttributePartition {
  readonly parts: readonly AttributePart[];
  /** Why the partition could not be proved complete ('' when it is exact). */
  readonly inexact: string;
}

const UPPER = 'QZXJKVWYBGPFMHUCDLNROSTIEA';
const LOWER = 'qzxjkvwybgpfmhucdlnrostiea';

function freshChar(values: readonly string[], alphabet: string): string | undefined {
  for (const c of alphabet) if (!values.some((v) => v.includes(c))) return c;
  return undefined;
}

function inDomain(domain: AttributeDomain, v: string | undefined): boolean {
  switch (domain) {
    case 'method':
      return v !== undefined && /^[A-Z][A-Z0-9_-]*$/.test(v);
    case 'path': {
      if (v === undefined) return false;
      const n = normalizePath(v);
      return n.ok && n.path === v;
    }
    case 'host':
      return v !== undefined && v === v.toLowerCase();
    case 'header':
      return true;
  }
}

/**
 * Partitions `domain` by the Istio string values `texts` (as written in policies). Hosts fold case as
 * the engine does. Returns one part per distinct match vector that some value of the domain has.
 */
export function partitionStrings(domain: AttributeDomain, texts: readonly string[]): AttributePartition {
  const uniq = [...new Set(texts)].sort();
  const matchers: StringMatcher[] = uniq.map((t) => compileString(t, domain === 'host'));
  const values = matchers.map((m) => m.value);
  const exact = matchers.filter((m) => m.kind === 0).map((m) => m.value);
  const prefixes = ['', ...new Set(matchers.filter((m) => m.kind === 1).map((m) => m.value))];
  const suffixes = ['', ...new Set(matchers.filter((m) => m.kind === 2).map((m) => m.value))];
  const alphabet = domain === 'method' ? UPPER : domain === 'host' ? LOWER : LOWER + UPPER;
  const c = freshChar(values, alphabet);
  let inexact = '';
  const candidates: (string | undefined)[] = [];
  if (domain === 'header') candidates.push(undefined, '');
  if (domain === 'host') candidates.push('');
  candidates.push(...exact);
  if (c === undefined) {
    inexact = `every letter occurs in the ${domain} values, so no fresh separator exists`;
  } else {
    const x = c.repeat(2);
    for (const p of prefixes) {
      for (const s of suffixes) {
        const head = domain === 'path' && p === '' ? '/' : p;
        const w = head + x + s;
        // The proof needs w's prefixes/suffixes to be exactly those of p and s (see the top).
        const ok = matchers.every((m) => {
          const hit = matchString(m, w);
          if (m.kind === 0) return !hit;
          if (m.kind === 1)
            return hit === p.startsWith(m.value) || (p === '' && head.startsWith(m.value) && hit);
          if (m.kind === 2) return hit === s.endsWith(m.value);
          return hit;
        });
        if (!inDomain(domain, w)) {
          // Some values with this prefix/suffix pair may exist in the domain; if they do, their
          // part is missing. Say so when the pair could occur in the domain at all.
          if (domain !== 'path' || (head.startsWith('/') && !s.includes('//'))) {
            inexact ||= `no ${domain} witness of the form ${JSON.stringify(head)}…${JSON.stringify(s)} (${JSON.stringify(w)} is not a valid ${domain})`;
          }
          continue;
        }
        if (!ok) {
          inexact ||= `the ${domain} witness ${JSON.stringify(w)} does not separate the values`;
          continue;
        }
        candidates.push(w);
      }
    }
  }
  // The asterisk-form `*` (OPTIONS *) last, so ordinary paths are preferred as witnesses.
  if (domain === 'path') candidates.push('*');
  const parts: AttributePart[] = [];
  const seen = new Set<string>();
  for (const v of candidates) {
    if (v !== undefined && !inDomain(domain, v)) continue;
    const hits = matchers.map((m) => matchString(m, v));
    const key = hits.map((h) => (h ? '1' : '0')).join('');
    if (seen.has(key)) continue;
    seen.add(key);
    parts.push({
      value: v,
      matches: uniq.filter((_, i) => hits[i]),
      misses: uniq.filter((_, i) => !hits[i]),
    });
  }
  return { parts, inexact };
}

/** The IPv4 address of a 32-bit number. */
function v4Text(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Partitions the IPv4 space by CIDR blocks: every elementary interval between consecutive block
 * boundaries lies inside exactly the same blocks, so its first address is a witness for all of it.
 * IPv6 blocks cannot be enumerated this way in a useful size; they are reported as inexact.
 */
export function partitionIpv4(cidrTexts: readonly string[]): { witnesses: string[]; inexact: string } {
  const bounds = new Set<number>([0]);
  let inexact = '';
  const cidrs = [];
  for (const t of new Set(cidrTexts)) {
    const c = parseCidr(t);
    if (!c) continue;
    cidrs.push(c);
    if (c.bits < 96 || c.words[0] !== 0 || c.words[1] !== 0 || c.words[2] !== 0xffff) {
      inexact ||= `IPv6 block ${t}: external IPv6 sources are not enumerated`;
      continue;
    }
    const start = c.words[3];
    const size = 2 ** (128 - c.bits);
    bounds.add(start);
    if (start + size <= 0xffffffff) bounds.add(start + size);
  }
  const sorted = [...bounds].sort((a, b) => a - b);
  const witnesses: string[] = [];
  const seen = new Set<string>();
  for (const b of sorted) {
    const ip = v4Text(b);
    const words = parseIp(ip)!.words;
    const key = cidrs.map((c) => (cidrContains(c, words) ? '1' : '0')).join('');
    if (seen.has(key)) continue;
    seen.add(key);
    witnesses.push(ip);
  }
  return { witnesses, inexact };
}

/** Parses CIDR texts once (unparseable ones are skipped: the engine rejects them at compile time). */
export function compileCidrs(cidrTexts: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const t of new Set(cidrTexts)) {
    const c = parseCidr(t);
    if (c) out.push(c);
  }
  return out;
}

/** The vector of blocks an address lies in, as a key (for grouping addresses that no block tells apart). */
export function ipVector(cidrs: readonly Cidr[], ip: string): string {
  const w = parseIp(ip);
  if (!w) return '?';
  let k = '';
  for (const c of cidrs) k += cidrContains(c, w.words) ? '1' : '0';
  return k;
}
