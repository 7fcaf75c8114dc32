/**
 * Request-path normalisation before authorization. A policy on `/admin*` must not be bypassed by
 * `//admin`, `/x/../admin`, `/%61dmin` or `/admin%2Fsecret`, so the path is brought to one canonical
 * form first, and the proxy forwards that same form (Istio: "The normalized request will be used for
 * both the evaluation of authorization policies and the request that is ultimately sent to the
 * backend server", Authorization Policy Normalization).
 *
 * Weft always applies the strictest of Istio's `meshConfig.pathNormalization` options,
 * `DECODE_AND_MERGE_SLASHES` (Istio's default is `BASE`, which neither merges slashes nor decodes
 * `%2F`/`%5C`). In order:
 *  1. query (`?…`) and fragment (`#…`) are not part of the path (Istio: "remove anything after the
 *     question mark");
 *  2. `%00` rejects the request (Istio answers 400);
 *  3. one pass of percent-decoding (no double decoding) of unreserved characters (RFC 3986 §2.3:
 *     ALPHA, DIGIT, `-`, `.`, `_`, `~`) and of `%2F` and `%5C`; other escapes get upper-case hex
 *     (RFC 3986 §6.2.2.1);
 *  4. `\` becomes `/`;
 *  5. runs of `/` merge into one;
 *  6. `.` and `..` segments are removed (RFC 3986 §5.2.4).
 * A path that is not origin-form (does not start with `/`) is rejected, except the asterisk-form `*`.
 */

/** `{ok: true, path}` with the canonical path, or `{ok: false, reason}` when the request must be rejected. */
export type NormalizedPath =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

const HEX = '0123456789ABCDEF';

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 §2.3 unreserved, plus `/` and `\` (decoded under DECODE_AND_MERGE_SLASHES). */
function decodable(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e ||
    b === 0x2f ||
    b === 0x5c
  );
}

/** True when `p` is already canonical, so the common case allocates nothing. */
function isCanonical(p: string): boolean {
  if (p.length === 0 || p.charCodeAt(0) !== 0x2f) return false;
  let prev = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x25 || c === 0x5c || c === 0x3f || c === 0x23 || c === 0) return false; // % \ ? # NUL
    if (prev === 0x2f && (c === 0x2f || c === 0x2e)) return false; // `//` or a segment starting with `.`
    prev = c;
  }
  return true;
}

/** Normalises a request path (`:path` / request-target) as described at the top of this file. */
export function normalizePath(raw: string): NormalizedPath {
  if (isCanonical(raw)) return { ok: true, path: raw };
  if (raw === '*') return { ok: true, path: '*' };
  let p = raw;
  const q = p.search(/[?#]/);
  if (q !== -1) p = p.slice(0, q);
  if (!p.startsWith('/') && !p.startsWith('\\')) {
    return { ok: false, reason: `path ${JSON.stringify(raw)} is not origin-form (must start with "/")` };
  }
  // 2 and 3: one decoding pass.
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x25 && i + 2 < p.length) {
      const h = hexVal(p.charCodeAt(i + 1));
      const l = hexVal(p.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) {
        const b = h * 16 + l;
        if (b === 0) return { ok: false, reason: 'path contains %00' };
        out += decodable(b) ? String.fromCharCode(b) : `%${HEX[h]}${HEX[l]}`;
        i += 2;
        continue;
      }
    }
    if (c === 0) return { ok: false, reason: 'path contains a NUL byte' };
    out += p[i];
  }
  // 4 and 5.
  out = out.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  // 6: RFC 3986 §5.2.4 remove_dot_segments on an absolute path without empty segments.
  const segs = out.split('/');
  const stack: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i] ?? '';
    const last = i === segs.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..' && stack.length > 0) stack.pop();
      if (last) stack.push('');
    } else {
      stack.push(s);
    }
  }
  return { ok: true, path: `/${stack.join('/')}` };
}
