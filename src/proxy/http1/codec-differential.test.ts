/**
 * Differential property tests of the fast-path codec against Node's own HTTP/1 parser (llhttp), driven
 * in-process: an `http.createServer()` that is never listening gets each input over a Duplex through
 * `emit('connection')`, and `http.request` gets responses over a Duplex from `createConnection`.
 *
 * - Requests: whenever parseRequestHead says `ok`, Node's server accepts the same bytes and agrees on
 *   the method, the url, every value of `req.headers`, and the body length (the body is followed by a
 *   second, sentinel request that Node must then parse as such).
 * - Responses: whenever parseResponseHead says `ok`, Node's client agrees on the status, the headers,
 *   the body framing (the body is followed by junk that only a wrong framing would take as body) and
 *   on keep-alive.
 * - ChunkedFramer: on a body in RFC 9112 §7.1's strict grammar it ends where the grammar does (and
 *   never refuses one); whenever it finds the end of a body, Node's parser accepts that body, ends it
 *   at the same byte and parses the sentinel request after it; while it asks for more, Node has not
 *   finished the message either.
 *
 * The generators draw from tricky alphabets (CR, LF, NUL, tab, space, colon, comma, DEL, high bytes).
 * The first properties count inputs that once hit a divergence (fixed since; codec.test.ts has the
 * regression tests) and leave them out; the "with no input left out" properties run without that filter.
 * Two llhttp behaviours the codec rightly does not copy are left out too: Node's client decides
 * keep-alive for a HEAD response as if a body could follow, and does not take "chunked" followed by a
 * tab as chunked.
 *
 * WEFT_FUZZ_RUNS (or FUZZ_RUNS) sets the number of runs per property (default 300), WEFT_FUZZ_SEED
 * the seed (default fixed, so `npm test` is deterministic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  ChunkedFramer,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
} from './codec.ts';
import type { RequestHead, ResponseHead } from './codec.ts';

const RUNS = Number(process.env['WEFT_FUZZ_RUNS'] ?? process.env['FUZZ_RUNS'] ?? 300);
const SEED = process.env['WEFT_FUZZ_SEED'] === undefined ? 20261122 : Number(process.env['WEFT_FUZZ_SEED']);
const FC_OPTIONS = { numRuns: RUNS, seed: SEED, endOnFailure: false };
/** A bound on each test, so that a parser that never answers fails instead of hanging. */
const BOUND = { timeout: 30_000 + RUNS * 50 };

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const SENTINEL = 'GET /__sentinel HTTP/1.1\r\nHost: s\r\n\r\n';
/** Bodies longer than this are not fed (the head is still compared). */
const MAX_FED_BODY = 4096;

// ---- Node's server parser, in-process ----------------------------------------------------------

interface ServerOutcome {
  requests: http.IncomingMessage[];
  error: (Error & { code?: string }) | undefined;
}

const server = http.createServer();
const outcomes = new WeakMap<object, ServerOutcome>();
server.on('request', (req: http.IncomingMessage) => outcomes.get(req.socket)?.requests.push(req));
server.on('clientError', (err: Error, socket: Duplex) => {
  const o = outcomes.get(socket);
  if (o !== undefined) o.error ??= err;
  socket.destroy();
});
test.after(() => server.close());

/**
 * Feed `bytes` to Node's HTTP server in one chunk; resolves once the server's parser has consumed it
 * (our 'data' listener runs after the server's own). Every request it parsed, and its error if any.
 */
function nodeServerParse(bytes: Buffer): Promise<ServerOutcome> {
  return new Promise((resolve) => {
    const socket = new Duplex({
      read() {},
      write(_chunk, _enc, cb) {
        cb();
      },
    });
    const outcome: ServerOutcome = { requests: [], error: undefined };
    outcomes.set(socket, outcome);
    server.emit('connection', socket);
    socket.on('data', () => {
      resolve(outcome);
      socket.destroy();
    });
    socket.on('error', () => {});
    socket.push(bytes);
  });
}

// ---- Node's client parser, in-process ----------------------------------------------------------

interface ClientOutcome {
  status: number | undefined;
  headers: Record<string, unknown> | undefined;
  info: { status: number; headers: Record<string, unknown> }[];
  body: Buffer;
  complete: boolean;
  keepAlive: boolean | undefined;
  error: string | undefined;
}

/**
 * Send a `method` request through `http.request` over a Duplex that answers with `bytes` and then
 * EOF; resolves at the end of the response body or at an error before the response.
 */
function nodeClientParse(bytes: Buffer, method: string): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const out: ClientOutcome = {
      status: undefined,
      headers: undefined,
      info: [],
      body: Buffer.alloc(0),
      complete: false,
      keepAlive: undefined,
      error: undefined,
    };
    let answered = false;
    const socket = new Duplex({
      read() {},
      write(_chunk, _enc, cb) {
        cb();
        if (!answered) {
          answered = true;
          socket.push(bytes);
          socket.push(null);
        }
      },
    });
    const req = http.request({
      method,
      path: '/',
      headers: { host: 'x', connection: 'keep-alive' },
      createConnection: () => socket as never,
    });
    req.on('information', (i) => out.info.push({ status: i.statusCode, headers: { ...i.headers } }));
    req.on('response', (res) => {
      out.status = res.statusCode;
      out.headers = { ...res.headers };
      out.keepAlive = req.shouldKeepAlive;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        out.body = Buffer.concat(parts);
        out.complete = res.complete;
        resolve(out);
        socket.destroy();
      });
      res.on('error', (e) => {
        out.error ??= String(e);
        out.body = Buffer.concat(parts);
        resolve(out);
        socket.destroy();
      });
    });
    req.on('error', (e: Error & { code?: string }) => {
      out.error ??= e.code ?? String(e);
      if (out.status === undefined) {
        resolve(out);
        socket.destroy();
      }
    });
    req.end();
  });
}

// ---- generators --------------------------------------------------------------------------------

const chars = (s: string): string[] => [...s];
const TOKEN_CHARS = chars("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
/** Bytes that matter to a parser, each a one-character latin1 string. */
const TRICKY = chars('\r\n\x00\t :,;"=\x7f\x80\xe9\xff\x01\x0b\x0c\x1f/?#%\\');

/** Strings over `base`; one in seven has tricky bytes mixed in. */
function mixed(base: string[], maxLength: number, tricky = TRICKY): fc.Arbitrary<string> {
  const clean = fc.string({ unit: fc.constantFrom(...base), maxLength });
  const dirty = fc.string({
    unit: fc.oneof(
      { arbitrary: fc.constantFrom(...base), weight: 6 },
      { arbitrary: fc.constantFrom(...tricky), weight: 1 },
    ),
    maxLength,
  });
  return fc.oneof({ arbitrary: clean, weight: 6 }, { arbitrary: dirty, weight: 1 });
}

const token = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength });

const KNOWN_METHODS = http.METHODS.filter((m) => m !== 'CONNECT');
const COMMON_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
const method = fc.oneof(
  { arbitrary: fc.constantFrom(...COMMON_METHODS), weight: 10 },
  { arbitrary: fc.constantFrom(...KNOWN_METHODS), weight: 2 },
  { arbitrary: fc.constantFrom('CONNECT', 'get', 'Get', 'FOO', 'PRI', 'GET\x00', 'G T'), weight: 1 },
  { arbitrary: token(8), weight: 1 },
);

const PATH_CHARS = chars('abcxyzABC0123456789-._~!$&\'()*+,;=:@/?%#[]"<>\\^`{|}');
const target = fc.oneof(
  { arbitrary: mixed(PATH_CHARS, 16).map((s) => '/' + s), weight: 12 },
  { arbitrary: fc.constantFrom('*', 'http://a/b', 'a:80', '', '//a', '/ /', '/\t'), weight: 1 },
);

const version = fc.oneof(
  { arbitrary: fc.constant('HTTP/1.1'), weight: 20 },
  {
    arbitrary: fc.constantFrom(
      'HTTP/1.0',
      'HTTP/1.2',
      'http/1.1',
      'HTTP/2.0',
      'HTTP/1.1 ',
      'HTTP/1.10',
      'HTTP/1',
    ),
    weight: 1,
  },
);

const sp = fc.oneof(
  { arbitrary: fc.constant(' '), weight: 40 },
  { arbitrary: fc.constantFrom('  ', '\t', ''), weight: 1 },
);
const eol = fc.oneof(
  { arbitrary: fc.constant('\r\n'), weight: 60 },
  { arbitrary: fc.constantFrom('\n', '\r', '\r\r\n'), weight: 1 },
);
const ows = fc.constantFrom('', '', ' ', ' ', '  ', '\t', ' \t ');

const HEADER_NAMES = [
  'Accept',
  'X-Custom',
  'x-custom',
  'Cookie',
  'cookie',
  'Set-Cookie',
  'Content-Type',
  'content-type',
  'User-Agent',
  'Authorization',
  'Referer',
  'Connection',
  'Keep-Alive',
  'TE',
  'Transfer-Encoding',
  'Upgrade',
  'Expect',
  'Host',
  'Content-Length',
  'Location',
  'Vary',
  'Cache-Control',
  'If-Modified-Since',
  'Max-Forwards',
  'constructor',
  'Constructor',
  'toString',
  'hasOwnProperty',
  '__proto__',
  'valueOf',
];
const headerName = fc.oneof(
  { arbitrary: fc.constantFrom(...HEADER_NAMES), weight: 8 },
  { arbitrary: token(10), weight: 3 },
  { arbitrary: mixed(TOKEN_CHARS, 8), weight: 1 },
);

const VALUE_CHARS = chars('abcXYZ019 -_.=/;,');
const lengthValue = fc.oneof(
  { arbitrary: fc.nat(300).map(String), weight: 8 },
  { arbitrary: fc.nat(300).map((n) => '00' + n), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '5, 5',
      '5,5',
      '',
      ' ',
      '+5',
      '-1',
      '0x5',
      '5a',
      '1e2',
      '999999999999999',
      '1000000000000000',
    ),
    weight: 2,
  },
);
const CONNECTION_VALUES = ['close', 'keep-alive', 'Close', 'keep-alive, close', 'upgrade', 'closed', 'te'];
const TE_VALUES = [
  'chunked',
  'gzip, chunked',
  'chunked, gzip',
  'gzip',
  'identity',
  'Chunked',
  'chunked, chunked',
];

/** One header line (without its line ending): name, optional junk before the colon, value. */
const headerLine = fc.oneof(
  {
    arbitrary: fc
      .record({
        name: headerName,
        beforeColon: fc.oneof(
          { arbitrary: fc.constant(''), weight: 40 },
          { arbitrary: fc.constantFrom(' ', '\t'), weight: 1 },
        ),
        lead: ows,
        trail: ows,
        value: mixed(VALUE_CHARS, 12),
        length: lengthValue,
        conn: fc.constantFrom(...CONNECTION_VALUES),
        te: fc.constantFrom(...TE_VALUES),
      })
      .map(({ name, beforeColon, lead, trail, value, length, conn, te }) => {
        const lower = name.toLowerCase();
        const v =
          lower === 'content-length'
            ? length
            : lower === 'connection'
              ? conn
              : lower === 'transfer-encoding'
                ? te
                : value;
        return `${name}${beforeColon}:${lead}${v}${trail}`;
      }),
    weight: 40,
  },
  { arbitrary: fc.constantFrom(' folded', '\tfolded', 'no-colon', ':empty-name', ''), weight: 1 },
);

/** A whole request head: request line, fields (Host usually among them), blank line. */
const requestHead = fc
  .record({
    method,
    sp1: sp,
    target,
    sp2: sp,
    version,
    lines: fc.array(fc.tuple(headerLine, eol), { maxLength: 7 }),
    host: fc.option(fc.tuple(fc.nat(7), mixed(chars('abc.example:80'), 12), ows), {
      freq: 8,
      nil: undefined,
    }),
    length: fc.option(fc.tuple(fc.nat(7), lengthValue), { freq: 2, nil: undefined }),
    eol1: eol,
    last: eol,
  })
  .map(({ method, sp1, target, sp2, version, lines, host, length, eol1, last }) => {
    const all = lines.map(([l, e]) => l + e);
    if (length !== undefined) all.splice(length[0] % (all.length + 1), 0, `Content-Length: ${length[1]}\r\n`);
    if (host !== undefined) all.splice(host[0] % (all.length + 1), 0, `Host:${host[2]}${host[1]}\r\n`);
    return `${method}${sp1}${target}${sp2}${version}${eol1}${all.join('')}${last}`;
  });

// ---- divergences found earlier (fixed; kept as filters of the first properties) -------------------------------------------------------------------------

/**
 * Header names that collide with Object.prototype members (codec.test.ts). `__proto__` too:
 * node:http drops such a field (its headers object has a prototype); a codec building its headers
 * without one keeps it.
 */
function prototypeName(name: string): boolean {
  return name in Object.prototype;
}

/** Why an `ok` request head is known to differ from llhttp, or undefined. */
function knownRequestDivergence(head: RequestHead, text: string): string | undefined {
  if (!KNOWN_METHODS.includes(head.method)) return 'method llhttp does not know';
  if (/[\x80-\xff]/.test(head.url)) return 'obs-text in the target';
  const names = text
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(0, Math.max(0, l.indexOf(':'))).toLowerCase());
  if (names.some(prototypeName)) return 'Object.prototype field name';
  return undefined;
}

// ---- requests ----------------------------------------------------------------------------------

/** Check one request head against Node; returns the kind of our parse (for statistics). */
async function checkRequest(text: string, skipKnown: boolean, stats: Map<string, number>): Promise<void> {
  const bytes = latin1(text);
  const parsed = parseRequestHead(bytes, 0);
  const count = (k: string) => stats.set(k, (stats.get(k) ?? 0) + 1);
  if (parsed.kind !== 'ok') {
    count(parsed.kind === 'other' ? `other: ${parsed.reason}` : 'incomplete');
    return;
  }
  const head = parsed.head;
  // An empty field line ends the head early: what follows it is not part of this request.
  text = text.slice(0, head.headBytes);
  if (skipKnown) {
    const known = knownRequestDivergence(head, text);
    if (known !== undefined) {
      count(`skipped: ${known}`);
      return;
    }
  }
  count(head.contentLength > 0 ? 'ok (with a body)' : 'ok');
  const feedBody = head.contentLength <= MAX_FED_BODY;
  const body = feedBody ? 'b'.repeat(head.contentLength) : '';
  const withSentinel = feedBody && !head.close;
  const node = await nodeServerParse(latin1(text + body + (withSentinel ? SENTINEL : '')));
  const where = JSON.stringify(text);
  assert.equal(node.error, undefined, `Node refused an ok head ${where}: ${String(node.error)}`);
  const first = node.requests[0];
  assert.ok(first !== undefined, `Node parsed no request from ${where}`);
  assert.equal(first.method, head.method, where);
  assert.equal(first.url, head.url, where);
  assert.deepEqual({ ...first.headers }, { ...head.headers }, where);
  if (feedBody) {
    assert.equal(first.complete, true, `Node wants more body than ${head.contentLength} for ${where}`);
    assert.equal(first.readableLength, head.contentLength, where);
    assert.deepEqual(
      node.requests.slice(1).map((r) => r.url),
      withSentinel ? ['/__sentinel'] : [],
      where,
    );
  }
}

function report(t: { diagnostic(s: string): void }, stats: Map<string, number>): void {
  const lines = [...stats.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`);
  t.diagnostic(`runs=${RUNS} seed=${SEED}: ${lines.join('; ')}`);
}

test(
  'parseRequestHead ok ⇒ Node accepts the bytes and agrees on method, url, headers, body length',
  BOUND,
  async (t) => {
    const stats = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requestHead, (text) => checkRequest(text, true, stats)),
      FC_OPTIONS,
    );
    report(t, stats);
    // The generator is not degenerate: most runs reach the comparison.
    const ok = (stats.get('ok') ?? 0) + (stats.get('ok (with a body)') ?? 0);
    assert.ok(ok > RUNS / 5, `too few ok heads: ${JSON.stringify([...stats])}`);
  },
);

test('parseRequestHead ok ⇒ Node accepts and agrees, with no input left out', BOUND, async () => {
  await fc.assert(
    fc.asyncProperty(requestHead, (text) => checkRequest(text, false, new Map())),
    FC_OPTIONS,
  );
});

test('request examples: edge cases agree with Node', BOUND, async () => {
  const stats = new Map<string, number>();
  const examples = [
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
    'POST /x?y#z HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nCookie: a\r\nCookie: b\r\nSet-Cookie: c\r\nX: 1\r\nX: 2\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX:\t \tv \t\r\nY:\r\nZ: a\x80\xff\r\n\r\n',
    'DELETE /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999\r\n\r\n',
    // The largest head the codec takes: Node (which counts only target, names and values) takes it too.
    `GET / HTTP/1.1\r\nHost: a\r\nX: ${'x'.repeat(MAX_HEAD_BYTES - 29)}\r\n\r\n`,
  ];
  for (const text of examples) await checkRequest(text, false, stats);
  assert.equal(
    (stats.get('ok') ?? 0) + (stats.get('ok (with a body)') ?? 0),
    examples.length - 1,
    JSON.stringify([...stats]),
  );
  assert.equal(stats.get('other: request target'), 1);
});

// ---- responses ---------------------------------------------------------------------------------

const statusCode = fc.oneof(
  { arbitrary: fc.constantFrom('200', '204', '304', '100', '103', '404', '500', '205', '302'), weight: 8 },
  { arbitrary: fc.integer({ min: 100, max: 999 }).map(String), weight: 3 },
  { arbitrary: fc.constantFrom('20', '2000', '099', '000', '2x0', ' 200'), weight: 1 },
);
const REASON_CHARS = chars('OK Not Found abc-');
const statusLineArb = fc
  .record({
    version: fc.oneof(
      { arbitrary: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), weight: 12 },
      { arbitrary: fc.constantFrom('HTTP/1.2', 'HTTP/2', 'http/1.1', 'HTTP/1.1 '), weight: 1 },
    ),
    code: statusCode,
    reason: fc.oneof(
      { arbitrary: fc.constantFrom(' OK', ' Not Found', '', ' '), weight: 6 },
      { arbitrary: mixed(REASON_CHARS, 10).map((s) => ' ' + s), weight: 2 },
    ),
  })
  .map(({ version, code, reason }) => `${version} ${code}${reason}`);

/** Mostly a framing field among the others, so that every framing is drawn often. */
const framingLine = fc.oneof(
  { arbitrary: lengthValue.map((v) => `Content-Length: ${v}`), weight: 3 },
  { arbitrary: fc.constantFrom(...TE_VALUES).map((v) => `Transfer-Encoding: ${v}`), weight: 3 },
  { arbitrary: fc.constant(''), weight: 2 },
);

const responseHead = fc
  .record({
    line: statusLineArb,
    eol1: eol,
    lines: fc.array(fc.tuple(headerLine, eol), { maxLength: 5 }),
    framing: framingLine,
    at: fc.nat(5),
    last: eol,
  })
  .map(({ line, eol1, lines, framing, at, last }) => {
    const all = lines.map(([l, e]) => l + e);
    if (framing !== '') all.splice(at % (all.length + 1), 0, framing + '\r\n');
    return `${line}${eol1}${all.join('')}${last}`;
  });

/** Why an `ok` response head is known to differ from llhttp, or undefined. */
function knownResponseDivergence(text: string, h: ResponseHead, method: string): string | undefined {
  if (text.split('\r\n').some((l) => prototypeName(l.slice(0, Math.max(0, l.indexOf(':'))).toLowerCase())))
    return 'Object.prototype field name';
  const bodiless = method === 'HEAD' || h.status < 200 || h.status === 204 || h.status === 304;
  const cl = h.headers['content-length'];
  if (
    bodiless &&
    cl !== undefined &&
    (h.headers['transfer-encoding'] !== undefined || !/^[0-9]+$/.test(String(cl)))
  )
    return 'framing fields of a bodiless response unchecked';
  return undefined;
}

/**
 * Not a codec defect: llhttp does not take "chunked" followed by a tab (OWS, RFC 9110 §5.6.3) as
 * chunked and reads such a response until close; the codec trims the OWS and reads it as chunked.
 */
function llhttpQuirk(text: string): string | undefined {
  if (/^transfer-encoding:.*chunked[ \t]*\t[ \t]*$/im.test(text)) return 'llhttp: "chunked" then HTAB';
  return undefined;
}

const JUNK = 'JUNK\r\n\r\n';

/** The bytes following a response head in the test, and the body Node must then report. */
function bodyFor(h: ResponseHead): { bytes: string; expected: string } | undefined {
  switch (h.framing) {
    case BODY_NONE:
      return { bytes: JUNK, expected: '' };
    case BODY_LENGTH:
      if (h.length > MAX_FED_BODY) return undefined;
      return { bytes: 'L'.repeat(h.length) + JUNK, expected: 'L'.repeat(h.length) };
    case BODY_CHUNKED:
      return { bytes: '3\r\nabc\r\n0\r\n\r\n' + JUNK, expected: 'abc' };
    case BODY_UNTIL_CLOSE:
      return { bytes: 'abc' + JUNK, expected: 'abc' + JUNK };
  }
  throw new Error(`framing ${h.framing}`);
}

async function checkResponse(
  text: string,
  method: 'GET' | 'HEAD',
  skipKnown: boolean,
  stats: Map<string, number>,
): Promise<void> {
  const count = (k: string) => stats.set(k, (stats.get(k) ?? 0) + 1);
  const parsed = parseResponseHead(latin1(text), 0, method === 'HEAD');
  if (parsed.kind !== 'ok') {
    count(parsed.kind === 'error' ? `error: ${parsed.reason}` : 'incomplete');
    return;
  }
  const h = parsed.head;
  text = text.slice(0, h.headBytes);
  const where = `${method} → ${JSON.stringify(text)}`;
  if (h.status === 101) {
    // Node's client takes any 101 as a protocol switch; the connection layer refuses it (conn.test.ts).
    count('101 (not compared)');
    return;
  }
  const known = llhttpQuirk(text) ?? (skipKnown ? knownResponseDivergence(text, h, method) : undefined);
  if (known !== undefined) {
    count(`skipped: ${known}`);
    return;
  }
  if (h.status < 200) {
    count('ok 1xx');
    const node = await nodeClientParse(latin1(text + 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), method);
    assert.deepEqual(node.info, [{ status: h.status, headers: { ...h.headers } }], `${where}: ${node.error}`);
    if (h.close) {
      // An HTTP/1.0 interim response without keep-alive: llhttp takes the connection as closing too.
      assert.equal(node.error, 'HPE_CLOSED_CONNECTION', where);
    } else {
      assert.equal(node.error, undefined, `Node refused what follows an ok 1xx head ${where}: ${node.error}`);
      assert.equal(node.status, 200, where);
    }
    return;
  }
  const body = bodyFor(h);
  if (body === undefined) {
    count('ok (long body, head only)');
    return;
  }
  count(`ok framing ${h.framing}`);
  const node = await nodeClientParse(latin1(text + body.bytes), method);
  assert.equal(node.status, h.status, `Node refused an ok head ${where}: ${node.error}`);
  assert.deepEqual(node.headers, { ...h.headers }, where);
  assert.equal(node.complete, true, `${where}: ${node.error}`);
  assert.equal(node.body.toString('latin1'), body.expected, `framing ${h.framing} for ${where}`);
  if (method === 'HEAD') {
    // Node's client decides keep-alive before it knows the request was HEAD: as for a GET, it
    // closes after a response that would be read until close. The codec keeps such a connection
    // (RFC 9112 §6.3: a HEAD response ends at its head), which is right, so compare with the GET view.
    const asGet = parseResponseHead(latin1(text), 0, false);
    if (asGet.kind === 'ok') assert.equal(node.keepAlive, !asGet.head.close, `close for ${where}`);
    else assert.equal(node.keepAlive, !h.close, `close for ${where}`);
  } else assert.equal(node.keepAlive, !h.close, `close for ${where}`);
}

const responseCase = fc.tuple(
  responseHead,
  fc.oneof({ arbitrary: fc.constant<'GET'>('GET'), weight: 5 }, fc.constant<'HEAD'>('HEAD')),
);

test(
  'parseResponseHead ok ⇒ Node agrees on status, headers, body framing and keep-alive',
  BOUND,
  async (t) => {
    const stats = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(responseCase, ([text, method]) => checkResponse(text, method, true, stats)),
      FC_OPTIONS,
    );
    report(t, stats);
    const ok = [...stats].filter(([k]) => k.startsWith('ok')).reduce((n, [, v]) => n + v, 0);
    assert.ok(ok > RUNS / 5, `too few ok heads: ${JSON.stringify([...stats])}`);
  },
);

test('parseResponseHead ok ⇒ Node agrees, with no input left out', BOUND, async () => {
  await fc.assert(
    fc.asyncProperty(responseCase, ([text, method]) => checkResponse(text, method, false, new Map())),
    FC_OPTIONS,
  );
});

test('response examples: every framing agrees with Node', BOUND, async () => {
  const stats = new Map<string, number>();
  const cases: [string, 'GET' | 'HEAD'][] = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', 'GET'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', 'HEAD'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'GET'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 'GET'],
    ['HTTP/1.1 200 OK\r\n\r\n', 'GET'],
    ['HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n', 'GET'],
    ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n', 'GET'],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n', 'GET'],
    ['HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n', 'GET'],
    ['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET'],
    ['HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n', 'GET'],
    ['HTTP/1.1 100 Continue\r\n\r\n', 'GET'],
    ['HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n', 'GET'],
    ['HTTP/1.1 599 Whatever\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nContent-Length: 1\r\n\r\n', 'GET'],
  ];
  for (const [text, method] of cases) await checkResponse(text, method, false, stats);
  assert.equal(
    [...stats].filter(([k]) => k.startsWith('ok')).reduce((n, [, v]) => n + v, 0),
    cases.length,
    JSON.stringify([...stats]),
  );
});

// ---- ChunkedFramer -----------------------------------------------------------------------------

const hexSize = (n: number) =>
  fc.constantFrom(n.toString(16), n.toString(16).toUpperCase(), '0' + n.toString(16), '00' + n.toString(16));
const extension = fc.oneof(
  { arbitrary: fc.constantFrom('', '', '', ';a', ';a=b', ';a="b c"', ';a;b=c', ';a="\\""'), weight: 8 },
  { arbitrary: fc.constantFrom(' ;a', '\t;a', ';', ' ', 'x', ';a\x00', ' \t', ';a =b'), weight: 1 },
);
const chunkEol = fc.oneof(
  { arbitrary: fc.constant('\r\n'), weight: 25 },
  { arbitrary: fc.constantFrom('\n', '\r', '', '\r\r\n'), weight: 1 },
);
const DATA_CHARS = chars('abcdefxyz0123\r\n');
const chunk = fc.integer({ min: 1, max: 20 }).chain((n) =>
  fc
    .record({
      size: hexSize(n),
      ext: extension,
      e1: chunkEol,
      data: fc.string({ unit: fc.constantFrom(...DATA_CHARS), minLength: n, maxLength: n }),
      slip: fc.oneof({ arbitrary: fc.constant(0), weight: 20 }, fc.constantFrom(-1, 1)),
      e2: chunkEol,
    })
    .map(
      ({ size, ext, e1, data, slip, e2 }) =>
        `${size}${ext}${e1}${slip < 0 ? data.slice(1) : slip > 0 ? data + 'q' : data}${e2}`,
    ),
);
const trailerLine = fc.oneof(
  { arbitrary: fc.constantFrom('X-T: 1', 'Expires: never', 'x:', 'Y:\t a b \t'), weight: 4 },
  { arbitrary: fc.constantFrom('no-colon', 'X : y', 'X: a\x00b', '', ' folded'), weight: 1 },
);
const chunkedBody = fc
  .record({
    chunks: fc.array(chunk, { maxLength: 4 }),
    zero: fc.constantFrom('0', '000', '0;x=y', '0 '),
    e: chunkEol,
    trailers: fc.array(fc.tuple(trailerLine, chunkEol), { maxLength: 2 }),
    last: chunkEol,
  })
  .map(
    ({ chunks, zero, e, trailers, last }) =>
      chunks.join('') + zero + e + trailers.map(([l, x]) => l + x).join('') + last,
  );

const CHUNKED_HEAD = 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value / quoted-string content: no control character but HTAB. */
const FIELD_VALUE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

/** A chunk-ext list as RFC 9112 §7.1.1 writes it without BWS: `;name` or `;name=token` or `;name="..."`. */
function strictExtensions(ext: string): boolean {
  const re = /;([^;="]+)(?:=([^;"]+|"(?:[^"\\]|\\.)*"))?/y;
  let at = 0;
  while (at < ext.length) {
    re.lastIndex = at;
    const m = re.exec(ext);
    if (m === null || !TCHAR.test(m[1]!)) return false;
    const v = m[2];
    if (v !== undefined && !(v.startsWith('"') ? FIELD_VALUE.test(v) : TCHAR.test(v))) return false;
    at = re.lastIndex;
  }
  return true;
}

/**
 * The chunked body at the start of `s` when it follows RFC 9112 §7.1 strictly (no BWS, trailer fields
 * well formed): its length and decoded data; else undefined. Bodies outside this grammar are where
 * the framer once was more lenient than llhttp (the "no input left out" property below checks it is not).
 */
function strictChunked(s: string): { length: number; data: string } | undefined {
  let at = 0;
  let data = '';
  for (;;) {
    const eol = s.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const m = /^([0-9a-fA-F]+)(.*)$/s.exec(s.slice(at, eol));
    if (m === null || !strictExtensions(m[2]!)) return undefined;
    const size = parseInt(m[1]!, 16);
    at = eol + 2;
    if (size === 0) break;
    if (s.length < at + size + 2 || s.slice(at + size, at + size + 2) !== '\r\n') return undefined;
    data += s.slice(at, at + size);
    at += size + 2;
  }
  for (;;) {
    const eol = s.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const line = s.slice(at, eol);
    at = eol + 2;
    if (line === '') return { length: at, data };
    const colon = line.indexOf(':');
    if (colon <= 0 || !TCHAR.test(line.slice(0, colon)) || !FIELD_VALUE.test(line.slice(colon + 1)))
      return undefined;
  }
}

async function checkFramer(text: string, skipKnown: boolean, stats: Map<string, number>): Promise<void> {
  const count = (k: string) => stats.set(k, (stats.get(k) ?? 0) + 1);
  const bytes = latin1(text + SENTINEL);
  const f = new ChunkedFramer();
  const n = f.push(bytes, 0, bytes.length);
  const where = JSON.stringify(text);
  const strict = strictChunked(text + SENTINEL);
  if (n < 0) {
    assert.equal(strict, undefined, `the framer refuses a well-formed body: ${where}`);
    count('malformed');
    return;
  }
  if (!f.done) {
    assert.equal(strict, undefined, `the framer misses the end of ${where}`);
    count('needs more');
    // Node has not finished the message on these bytes either.
    const node = await nodeServerParse(latin1(CHUNKED_HEAD + text + SENTINEL));
    const first = node.requests[0];
    if (first !== undefined && node.error === undefined)
      assert.equal(first.complete, false, `Node ended a body the framer still reads: ${where}`);
    return;
  }
  if (strict !== undefined)
    assert.equal(n, strict.length, `the framer ends a well-formed body at ${n}: ${where}`);
  else if (skipKnown) {
    count('skipped: outside the strict grammar');
    return;
  }
  count(n === text.length ? 'done' : n < text.length ? 'done early' : 'done late');
  // What the framer took as the body (the sentinel's own lines can be trailer lines to both), then a
  // fresh sentinel.
  const body = (text + SENTINEL).slice(0, n);
  const node = await nodeServerParse(latin1(CHUNKED_HEAD + body + SENTINEL));
  assert.equal(
    node.error,
    undefined,
    `Node refused a body the framer took (${n} bytes) ${where}: ${String(node.error)}`,
  );
  const first = node.requests[0];
  assert.ok(first !== undefined, where);
  assert.equal(first.complete, true, where);
  assert.deepEqual(
    node.requests.map((r) => r.url),
    ['/c', '/__sentinel'],
    `Node and the framer end the body at different bytes: ${where}`,
  );
  if (strict !== undefined)
    assert.equal(
      (first.read() as Buffer | null)?.toString('latin1') ?? '',
      strict.data,
      `decoded data of ${where}`,
    );
}

test('ChunkedFramer done ⇒ Node accepts the body and ends it at the same byte', BOUND, async (t) => {
  const stats = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(chunkedBody, (text) => checkFramer(text, true, stats)),
    FC_OPTIONS,
  );
  report(t, stats);
  assert.ok((stats.get('done') ?? 0) > RUNS / 5, JSON.stringify([...stats]));
});

test('ChunkedFramer done ⇒ Node agrees, with no input left out', BOUND, async () => {
  await fc.assert(
    fc.asyncProperty(chunkedBody, (text) => checkFramer(text, false, new Map())),
    FC_OPTIONS,
  );
});
