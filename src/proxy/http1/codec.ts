/**
 * A deliberately narrow HTTP/1.1 codec for the proxy's fast path (docs/architecture.md, "The HTTP/1.1
 * fast path"): request heads are accepted only in the plain, common form — an HTTP/1.1 request line,
 * token header names, values without control characters, at most one Content-Length, no
 * Transfer-Encoding, no Upgrade or Expect. Anything else is reported as `other`, and the caller hands
 * the connection, bytes untouched, to Node's own HTTP server (llhttp), which accepts or refuses it
 * exactly as before. So this parser never has to be more lenient or more strict than llhttp: it only
 * has to be right about the subset it accepts (RFC 9112 §3, §5, §6).
 *
 * Responses come from upstreams the proxy talks to and must all be read, so the response side is
 * complete: Content-Length, chunked (relayed verbatim; ChunkedFramer finds the end), read-until-close,
 * and bodiless statuses and HEAD (RFC 9112 §6.3). Malformed responses are errors (the caller answers
 * 502).
 */

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** Largest request or response head accepted (Node's default `maxHeaderSize`). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Header values in Node's shape: lowercase names; repeated values joined, `set-cookie` a list. */
export type HeadHeaders = Record<string, string | string[] | undefined>;

export interface RequestHead {
  method: string;
  /** The request target as sent (origin form). */
  url: string;
  headers: HeadHeaders;
  /** Body length from Content-Length; 0 when there is none. */
  contentLength: number;
  /** The client asked to close the connection after this exchange. */
  close: boolean;
  /** Bytes of the head including the blank line. */
  headBytes: number;
}

export type RequestParse =
  | { kind: 'ok'; head: RequestHead }
  | { kind: 'incomplete' }
  /** Not in the fast path's subset: hand the bytes to the full HTTP server. */
  | { kind: 'other'; reason: string };

/** tchar (RFC 9110 §5.6.2) by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** field-value characters: VCHAR, obs-text, SP, HTAB — no other control character. */
function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  return true;
}

/** Request target in origin form: starts with '/', visible ASCII only (llhttp refuses the rest). */
function isOriginForm(s: string): boolean {
  if (s.charCodeAt(0) !== 47) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}

/**
 * Methods the fast path takes: the common ones, spelled as registered (RFC 9110 §9, RFC 5789). Any
 * other token goes to llhttp, which knows its own list and refuses the rest.
 */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE']);

/** Headers Node keeps only the first of (node:http `IncomingMessage` rules, the ones that matter here). */
const SINGLE = new Set([
  'host',
  'content-type',
  'user-agent',
  'authorization',
  'proxy-authorization',
  'referer',
  'from',
  'if-modified-since',
  'if-unmodified-since',
  'max-forwards',
  'age',
  'etag',
  'expires',
  'last-modified',
  'location',
  'retry-after',
  'server',
]);

function addHeader(headers: HeadHeaders, name: string, value: string): void {
  // node:http drops it too; as a key it would be the object's prototype slot.
  if (name === '__proto__') return;
  const prev = headers[name];
  if (prev === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value;
  } else if (name === 'set-cookie') {
    (prev as string[]).push(value);
  } else if (!SINGLE.has(name)) {
    headers[name] = name === 'cookie' ? `${prev as string}; ${value}` : `${prev as string}, ${value}`;
  }
}

/**
 * Split a head (without its blank line) into lines and the header object. Returns a reason string
 * when a line is not in the accepted form.
 */
function parseFields(text: string, from: number, headers: HeadHeaders): string | undefined {
  let pos = from;
  const end = text.length;
  while (pos < end) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = end;
    const c0 = text.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) return 'obsolete line folding';
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon > eol) return 'header line without a colon';
    const name = text.slice(pos, colon);
    if (!isToken(name)) return 'header name is not a token';
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const value = text.slice(vs, ve);
    if (!isFieldValue(value)) return 'control character in a header value';
    addHeader(headers, name.toLowerCase(), value);
    pos = eol + 2;
  }
  return undefined;
}

/** Content-Length as a number, or -1 when it is not a plain decimal. */
function parseLength(v: string): number {
  if (v.length === 0 || v.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Does a Connection header value list `token` (case-insensitive)? */
export function connectionHas(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  const v = (Array.isArray(value) ? value.join(',') : value).toLowerCase();
  if (v === token) return true;
  for (const part of v.split(',')) if (part.trim() === token) return true;
  return false;
}

/** Parse the request head at `buf[start..]`, if a whole one is there. */
export function parseRequestHead(buf: Buffer, start: number): RequestParse {
  const endIdx = buf.indexOf(HEAD_END, start);
  if (endIdx < 0) {
    // +3: the head may be whole but for the last bytes of its CRLFCRLF.
    if (buf.length - start > MAX_HEAD_BYTES + 3) return { kind: 'other', reason: 'head too large' };
    // A head with bare LF line ends never shows a CRLFCRLF; llhttp answers it at once.
    if (hasBareLfBytes(buf, start)) return { kind: 'other', reason: 'bare LF' };
    return { kind: 'incomplete' };
  }
  if (endIdx - start > MAX_HEAD_BYTES) return { kind: 'other', reason: 'head too large' };
  const text = buf.toString('latin1', start, endIdx);
  const lineEnd = text.indexOf('\r\n');
  const line = lineEnd < 0 ? text : text.slice(0, lineEnd);
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0)
    return { kind: 'other', reason: 'request line' };
  const method = line.slice(0, sp1);
  const url = line.slice(sp1 + 1, sp2);
  if (line.slice(sp2 + 1) !== 'HTTP/1.1') return { kind: 'other', reason: 'not HTTP/1.1' };
  if (!METHODS.has(method)) return { kind: 'other', reason: 'method' };
  if (!isOriginForm(url)) return { kind: 'other', reason: 'request target' };
  if (hasBareLf(text)) return { kind: 'other', reason: 'bare LF' };
  // No prototype: a field named `constructor` or `__proto__` is a field like any other.
  const headers: HeadHeaders = Object.create(null) as HeadHeaders;
  if (lineEnd >= 0) {
    const bad = parseFields(text, lineEnd + 2, headers);
    if (bad !== undefined) return { kind: 'other', reason: bad };
  }
  if (headers['transfer-encoding'] !== undefined) return { kind: 'other', reason: 'transfer-encoding' };
  if (headers['upgrade'] !== undefined) return { kind: 'other', reason: 'upgrade' };
  if (headers['expect'] !== undefined) return { kind: 'other', reason: 'expect' };
  if (headers['host'] === undefined) return { kind: 'other', reason: 'no host' };
  let contentLength = 0;
  const cl = headers['content-length'];
  if (cl !== undefined) {
    contentLength = parseLength(cl as string);
    if (contentLength < 0) return { kind: 'other', reason: 'content-length' };
  }
  return {
    kind: 'ok',
    head: {
      method,
      url,
      headers,
      contentLength,
      close: connectionHas(headers['connection'], 'close'),
      headBytes: endIdx + 4 - start,
    },
  };
}

/** Is there an LF not preceded by CR in `buf[start..]`? */
function hasBareLfBytes(buf: Buffer, start: number): boolean {
  let i = buf.indexOf(LF, start);
  while (i >= 0) {
    if (i === start || buf[i - 1] !== CR) return true;
    i = buf.indexOf(LF, i + 1);
  }
  return false;
}

/** Does the head use a line ending other than CRLF (a bare LF or CR)? */
function hasBareLf(text: string): boolean {
  let i = text.indexOf('\n');
  while (i >= 0) {
    if (i === 0 || text.charCodeAt(i - 1) !== CR) return true;
    i = text.indexOf('\n', i + 1);
  }
  i = text.indexOf('\r');
  while (i >= 0) {
    if (text.charCodeAt(i + 1) !== LF) return true;
    i = text.indexOf('\r', i + 1);
  }
  return false;
}

// ---- responses -------------------------------------------------------------------------------

/** How a response body is delimited (RFC 9112 §6.3). */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

export interface ResponseHead {
  status: number;
  headers: HeadHeaders;
  framing: number;
  /** Body length for BODY_LENGTH. */
  length: number;
  /** The upstream will close (or must be closed) after this response. */
  close: boolean;
  headBytes: number;
  /** The header names are free of hop-by-hop names: the raw head can be forwarded as is. */
  clean: boolean;
}

export type ResponseParse =
  { kind: 'ok'; head: ResponseHead } | { kind: 'incomplete' } | { kind: 'error'; reason: string };

/** Hop-by-hop header names (RFC 9110 §7.6.1) plus the ones Node's proxying code drops too. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
]);

/** Parse a response head at `buf[start..]`; `headRequest`: the request was HEAD (no body follows). */
export function parseResponseHead(buf: Buffer, start: number, headRequest: boolean): ResponseParse {
  const endIdx = buf.indexOf(HEAD_END, start);
  if (endIdx < 0) {
    if (buf.length - start > MAX_HEAD_BYTES + 3) return { kind: 'error', reason: 'response head too large' };
    return { kind: 'incomplete' };
  }
  if (endIdx - start > MAX_HEAD_BYTES) return { kind: 'error', reason: 'response head too large' };
  const text = buf.toString('latin1', start, endIdx);
  if (hasBareLf(text)) return { kind: 'error', reason: 'bare LF in response head' };
  const lineEnd = text.indexOf('\r\n');
  const line = lineEnd < 0 ? text : text.slice(0, lineEnd);
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  if (!line.startsWith('HTTP/1.') || line.length < 12 || line.charCodeAt(8) !== 32)
    return { kind: 'error', reason: 'bad status line' };
  const minor = line.charCodeAt(7) - 48;
  const status = parseLength(line.slice(9, 12));
  if ((minor !== 0 && minor !== 1) || status < 100 || status > 999 || (line.length > 12 && line[12] !== ' '))
    return { kind: 'error', reason: 'bad status line' };
  const headers: HeadHeaders = Object.create(null) as HeadHeaders;
  let clean = true;
  if (lineEnd >= 0) {
    const bad = parseFields(text, lineEnd + 2, headers);
    if (bad !== undefined) return { kind: 'error', reason: bad };
    for (const name in headers)
      if (HOP_BY_HOP.has(name)) {
        clean = false;
        break;
      }
  }
  const conn = headers['connection'];
  let close = minor === 0 ? !connectionHas(conn, 'keep-alive') : connectionHas(conn, 'close');
  let framing = BODY_UNTIL_CLOSE;
  let length = 0;
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  // Checked whether or not a body follows, as llhttp does.
  if (te !== undefined && cl !== undefined)
    return { kind: 'error', reason: 'both transfer-encoding and content-length' };
  if (cl !== undefined) {
    length = parseLength(cl as string);
    if (length < 0) return { kind: 'error', reason: 'bad content-length' };
  }
  if (headRequest || status < 200 || status === 204 || status === 304) {
    framing = BODY_NONE;
    length = 0;
  } else if (te !== undefined) {
    const codings = (te as string).toLowerCase().split(',');
    framing = codings[codings.length - 1]!.trim() === 'chunked' ? BODY_CHUNKED : BODY_UNTIL_CLOSE;
  } else if (cl !== undefined) {
    framing = length === 0 ? BODY_NONE : BODY_LENGTH;
  }
  if (framing === BODY_UNTIL_CLOSE) close = true;
  return {
    kind: 'ok',
    head: { status, headers, framing, length, close, headBytes: endIdx + 4 - start, clean },
  };
}

/**
 * Finds where a chunked body ends while its bytes are relayed unchanged (RFC 9112 §7.1): chunk-size
 * lines, data, CRLF, and the trailer section up to its blank line. As strict as llhttp: a size is hex
 * digits followed by CRLF or by extensions (`;` and a token, no control characters); trailer lines
 * are field lines (token name, colon, value without control characters); line ends are CRLF.
 */
export class ChunkedFramer {
  // 0: size digits, 1: first byte of an extension name, 10: rest of the name, 11: first byte of an
  // extension value, 12: rest of a token value, 13: inside a quoted value, 14: after a backslash in
  // it, 15: after its closing quote, 8: LF after the size line, 2: data, 3: CR after data, 4: LF after data, 5: start of a trailer line (or the blank line),
  // 6: inside a trailer line, 9: LF ending a trailer line, 7: LF ending the blank line.
  #state = 0;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #done = false;
  #line = '';
  #trailerBytes = 0;

  get done(): boolean {
    return this.#done;
  }

  /**
   * Consume bytes of `buf[start..end)`; returns how many belong to the body (the rest is what follows
   * the message), or -1 when the framing is malformed.
   */
  push(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && !this.#done) {
      const c = buf[i]!;
      switch (this.#state) {
        case 0: {
          const d = hexValue(c);
          if (d >= 0) {
            // Leading zeros do not count towards the 12 digits a size may have.
            if (++this.#digits > 12 && this.#size > 0) return -1;
            this.#size = this.#size * 16 + d;
            if (this.#size > Number.MAX_SAFE_INTEGER / 16) return -1;
          } else if (this.#digits === 0) return -1;
          else if (c === 59 /* ; */) this.#state = 1;
          else if (c === CR) this.#state = 8;
          else return -1;
          i++;
          break;
        }
        case 1:
          if (c > 127 || TCHAR[c] === 0) return -1;
          this.#state = 10;
          i++;
          break;
        case 10: // chunk-ext-name
        case 12: // token chunk-ext-val
          if (c === CR) this.#state = 8;
          else if (c === 59) this.#state = 1;
          else if (c === 61 /* = */ && this.#state === 10) this.#state = 11;
          else if (c > 127 || TCHAR[c] === 0) return -1;
          i++;
          break;
        case 11:
          if (c === 34 /* " */) this.#state = 13;
          else if (c <= 127 && TCHAR[c] === 1) this.#state = 12;
          else return -1;
          i++;
          break;
        case 13: // quoted-string: qdtext or quoted-pair
          if (c === 34) this.#state = 15;
          else if (c === 92 /* \\ */) this.#state = 14;
          else if ((c < 32 && c !== 9) || c === 127) return -1;
          i++;
          break;
        case 14:
          if ((c < 32 && c !== 9) || c === 127) return -1;
          this.#state = 13;
          i++;
          break;
        case 15:
          if (c === CR) this.#state = 8;
          else if (c === 59) this.#state = 1;
          else return -1;
          i++;
          break;
        case 8:
          if (c !== LF) return -1;
          i++;
          if (this.#size === 0) this.#state = 5;
          else {
            this.#remaining = this.#size;
            this.#state = 2;
          }
          break;
        case 2: {
          const n = Math.min(this.#remaining, end - i);
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = 3;
          break;
        }
        case 3:
          if (c !== CR) return -1;
          i++;
          this.#state = 4;
          break;
        case 4:
          if (c !== LF) return -1;
          i++;
          this.#state = 0;
          this.#size = 0;
          this.#digits = 0;
          break;
        case 5:
          if (c === CR) this.#state = 7;
          else if (c === LF) return -1;
          else {
            this.#line = String.fromCharCode(c);
            this.#state = 6;
          }
          i++;
          break;
        case 6:
          if (c === CR) {
            if (!isFieldLine(this.#line)) return -1;
            this.#state = 9;
          } else if (c === LF) return -1;
          else {
            if (++this.#trailerBytes > MAX_HEAD_BYTES) return -1;
            this.#line += String.fromCharCode(c);
          }
          i++;
          break;
        case 9:
          if (c !== LF) return -1;
          i++;
          this.#state = 5;
          break;
        case 7:
          if (c !== LF) return -1;
          i++;
          this.#done = true;
          break;
      }
    }
    return i - start;
  }
}

/** `name: value` with a token name, no space before the colon, no control character in the value. */
function isFieldLine(line: string): boolean {
  const colon = line.indexOf(':');
  if (colon <= 0 || !isToken(line.slice(0, colon))) return false;
  return isFieldValue(line.slice(colon + 1));
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

// ---- serialisation -----------------------------------------------------------------------------

/** Header lines `name: value\r\n` for an object of headers (arrays become repeated lines). */
export function headerLines(
  headers: Record<string, string | number | readonly string[] | undefined>,
): string {
  let s = '';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'object') for (const one of v) s += `${name}: ${one}\r\n`;
    else s += `${name}: ${v}\r\n`;
  }
  return s;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
}
