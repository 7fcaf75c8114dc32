/**
 * Unit tests of the HTTP/1.1 fast-path codec (codec.ts): every rule of parseRequestHead's subset
 * (ok / incomplete / other), parseResponseHead's framing and connection semantics, ChunkedFramer at
 * every split point, and the serialisation helpers. Tests named after a divergence from llhttp are the
 * regression tests of the defects this suite found (methods, high bytes, prototype names, bare LF,
 * head-size split, bodiless framing fields, trailer and chunk-extension grammar).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  ChunkedFramer,
  connectionHas,
  headerLines,
  HOP_BY_HOP,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  statusLine,
} from './codec.ts';
import type { RequestHead, RequestParse, ResponseHead, ResponseParse } from './codec.ts';
import * as index from './index.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The parse with its headers copied into a plain object (the codec may build them without a prototype). */
function plain<P extends RequestParse | ResponseParse>(p: P): P {
  if (p.kind !== 'ok') return p;
  return { ...p, head: { ...p.head, headers: { ...p.head.headers } } };
}

const req = (s: string, start = 0): RequestParse => plain(parseRequestHead(b(s), start));
const res = (s: string, head = false, start = 0): ResponseParse =>
  plain(parseResponseHead(b(s), start, head));

function okReq(s: string, start = 0): RequestHead {
  const p = req(s, start);
  assert.equal(p.kind, 'ok', `expected ok, got ${JSON.stringify(p)} for ${JSON.stringify(s)}`);
  return (p as { head: RequestHead }).head;
}

function otherReq(s: string, reason: string): void {
  assert.deepEqual(req(s), { kind: 'other', reason }, JSON.stringify(s));
}

function okRes(s: string, head = false): ResponseHead {
  const p = res(s, head);
  assert.equal(p.kind, 'ok', `expected ok, got ${JSON.stringify(p)} for ${JSON.stringify(s)}`);
  return (p as { head: ResponseHead }).head;
}

function errRes(s: string, reason: string, head = false): void {
  assert.deepEqual(res(s, head), { kind: 'error', reason }, JSON.stringify(s));
}

/** A request head with the given header lines (CRLF-terminated, blank line included). */
const withHeaders = (...lines: string[]): string =>
  `GET / HTTP/1.1\r\n${lines.map((l) => l + '\r\n').join('')}\r\n`;

describe('parseRequestHead: accepted form', () => {
  test('a plain GET: every field of the head', () => {
    const s = 'GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty:\r\n\r\n';
    assert.deepEqual(req(s), {
      kind: 'ok',
      head: {
        method: 'GET',
        url: '/a/b?c=d&e',
        headers: { host: 'example.com', accept: '*/*', 'x-empty': '' },
        contentLength: 0,
        close: false,
        headBytes: s.length,
      },
    });
  });

  test('a request line with no header field, or none named Host, is refused for the missing Host', () => {
    otherReq('GET / HTTP/1.1\r\n\r\n', 'no host');
    otherReq('GET / HTTP/1.1\r\nX: y\r\n\r\n', 'no host');
  });

  test('the common methods; the target keeps every printable byte as sent', () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'])
      assert.equal(okReq(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`).method, m);
    const target = `/%7e/a;b=c?x=y&z=%20#frag!$&'()*+,:@[]"<>\\^\`{|}~`;
    assert.equal(okReq(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`).url, target);
  });

  test('header names are lowercased, values lose surrounding spaces and tabs only', () => {
    const h = okReq(
      withHeaders('HoSt:a', 'X-Ows: \t a \t b\t \t', 'X-Inner:a\tb', 'X-Obs: caf\xe9 \xff'),
    ).headers;
    assert.deepEqual(h, { host: 'a', 'x-ows': 'a \t b', 'x-inner': 'a\tb', 'x-obs': 'caf\xe9 \xff' });
  });

  test('headBytes covers the head only; the body and the next request are left alone', () => {
    const first = 'POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n';
    const second = 'GET /2 HTTP/1.1\r\nHost: b\r\n\r\n';
    const all = first + 'abc' + second;
    const h1 = okReq(all);
    assert.equal(h1.headBytes, first.length);
    assert.equal(h1.contentLength, 3);
    const h2 = okReq(all, first.length + 3);
    assert.deepEqual(h2, {
      method: 'GET',
      url: '/2',
      headers: { host: 'b' },
      contentLength: 0,
      close: false,
      headBytes: second.length,
    });
  });

  test('close follows the Connection header', () => {
    assert.equal(okReq(withHeaders('Host: a', 'Connection: close')).close, true);
    assert.equal(okReq(withHeaders('Host: a', 'Connection: keep-alive, CLOSE')).close, true);
    assert.equal(okReq(withHeaders('Host: a', 'Connection: x', 'Connection: close')).close, true);
    assert.equal(okReq(withHeaders('Host: a', 'Connection: keep-alive')).close, false);
    assert.equal(okReq(withHeaders('Host: a', 'Connection: closed')).close, false);
    assert.equal(okReq(withHeaders('Host: a', 'X-Connection: close')).close, false);
  });
});

describe('parseRequestHead: incomplete', () => {
  test('every proper prefix of a head is incomplete; the whole head is ok', () => {
    const s = 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n';
    for (let i = 0; i < s.length; i++)
      assert.deepEqual(req(s.slice(0, i)), { kind: 'incomplete' }, `prefix ${i}`);
    assert.equal(okReq(s).headBytes, s.length);
  });

  test('an empty buffer, and a start at its end, are incomplete', () => {
    assert.deepEqual(req(''), { kind: 'incomplete' });
    assert.deepEqual(req('GET / HTTP/1.1\r\nHost: a\r\n\r\n', 27), { kind: 'incomplete' });
  });

  test('the body is not needed: a head whose body has not arrived is ok', () => {
    assert.equal(okReq(withHeaders('Host: a', 'Content-Length: 100')).contentLength, 100);
  });
});

describe('parseRequestHead: request line', () => {
  test('only "method SP origin-form SP HTTP/1.1"', () => {
    otherReq('GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 'request line');
    otherReq('GET  HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET /  HTTP/1.1\r\nHost: a\r\n\r\n', 'request line');
    otherReq('GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 'request line');
    otherReq(' GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'request line');
    otherReq('GET /\r\nHost: a\r\n\r\n', 'request line');
    otherReq('GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n', 'request line');
    otherReq('GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 'request line');
    otherReq('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 'request line');
  });

  test('HTTP/1.0 and every other version go to the full server', () => {
    otherReq('GET / HTTP/1.0\r\nHost: a\r\n\r\n', 'not HTTP/1.1');
    otherReq('GET / HTTP/1.0\r\n\r\n', 'not HTTP/1.1');
    otherReq('GET / HTTP/2.0\r\nHost: a\r\n\r\n', 'not HTTP/1.1');
    otherReq('GET / http/1.1\r\nHost: a\r\n\r\n', 'not HTTP/1.1');
    otherReq('GET / HTTP/1.10\r\nHost: a\r\n\r\n', 'not HTTP/1.1');
    otherReq('GET / HTTP/1.1\t\r\nHost: a\r\n\r\n', 'not HTTP/1.1');
  });

  test('CONNECT, and methods that are not tokens', () => {
    otherReq('CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n', 'method');
    otherReq('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 'method');
    otherReq('GE(T / HTTP/1.1\r\nHost: a\r\n\r\n', 'method');
    otherReq('G\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n', 'method');
    otherReq('G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n', 'method');
  });

  test('absolute-form, authority-form and asterisk-form targets, and targets with controls', () => {
    otherReq('GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET ?a HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
    otherReq('GET /a\x1fb HTTP/1.1\r\nHost: a\r\n\r\n', 'request target');
  });

  test('methods llhttp does not know are not accepted', () => {
    for (const m of ['FOO', 'get', 'PRI', 'X'])
      assert.equal(req(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`).kind, 'other', m);
  });

  test('targets with bytes 0x80-0xFF are not accepted', () => {
    assert.equal(req('GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n').kind, 'other');
    assert.equal(req('GET /?q=\x80 HTTP/1.1\r\nHost: a\r\n\r\n').kind, 'other');
  });
});

describe('parseRequestHead: line endings and field syntax', () => {
  test('a bare LF or a bare CR anywhere in the head', () => {
    otherReq('GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n', 'bare LF');
    otherReq('GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n', 'bare LF');
    otherReq('GET / HTTP/1.1\r\nHost: a\r\nX: b\r\r\n\r\n', 'bare LF');
    otherReq('GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 'bare LF');
    otherReq('GET / HTTP/1.1\r\nHost: a\r\n\nX: b\r\n\r\n', 'bare LF');
  });

  test('a head with only bare-LF line endings is handed off, not held as incomplete', () => {
    assert.equal(req('GET / HTTP/1.1\nHost: a\n\n').kind, 'other');
  });

  test('obsolete line folding', () => {
    otherReq(withHeaders('Host: a', 'X: b', ' c'), 'obsolete line folding');
    otherReq(withHeaders('Host: a', 'X: b', '\tc'), 'obsolete line folding');
    otherReq('GET / HTTP/1.1\r\n Host: a\r\n\r\n', 'obsolete line folding');
  });

  test('field names: space before the colon, empty, non-token, no colon at all', () => {
    otherReq(withHeaders('Host : a'), 'header name is not a token');
    otherReq(withHeaders('Host: a', 'X\t: b'), 'header name is not a token');
    otherReq(withHeaders('Host: a', ': b'), 'header name is not a token');
    otherReq(withHeaders('Host: a', 'X(: b'), 'header name is not a token');
    otherReq(withHeaders('Host: a', 'X\xe9: b'), 'header name is not a token');
    otherReq(withHeaders('Host: a', 'X-No-Colon'), 'header line without a colon');
  });

  test('control characters in values (tab and obs-text are fine)', () => {
    for (const c of ['\x00', '\x01', '\x08', '\x0b', '\x0c', '\x1f', '\x7f'])
      otherReq(withHeaders('Host: a', `X: a${c}b`), 'control character in a header value');
    assert.equal(okReq(withHeaders('Host: a', 'X: a\tb\x80\xff')).headers['x'], 'a\tb\x80\xff');
  });

  test('Transfer-Encoding, Upgrade and Expect, whatever their value or case', () => {
    otherReq(withHeaders('Host: a', 'Transfer-Encoding: chunked'), 'transfer-encoding');
    otherReq(withHeaders('Host: a', 'transfer-encoding: identity'), 'transfer-encoding');
    otherReq(withHeaders('Host: a', 'TRANSFER-ENCODING:'), 'transfer-encoding');
    otherReq(withHeaders('Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 3'), 'transfer-encoding');
    otherReq(withHeaders('Host: a', 'Connection: upgrade', 'Upgrade: websocket'), 'upgrade');
    otherReq(withHeaders('Host: a', 'upgrade: h2c'), 'upgrade');
    otherReq(withHeaders('Host: a', 'Expect: 100-continue'), 'expect');
    otherReq(withHeaders('Host: a', 'expect:'), 'expect');
    // Only the header: the words elsewhere do not matter.
    assert.equal(okReq(withHeaders('Host: a', 'Connection: upgrade', 'X-Expect: 1')).close, false);
  });

  test('no Host header', () => {
    otherReq(withHeaders('X-Host: a'), 'no host');
    assert.equal(okReq(withHeaders('Host:')).headers['host'], '');
  });
});

describe('parseRequestHead: Content-Length', () => {
  test('plain decimals, leading zeros, surrounding whitespace', () => {
    assert.equal(okReq(withHeaders('Host: a', 'Content-Length: 0')).contentLength, 0);
    assert.equal(okReq(withHeaders('Host: a', 'Content-Length: 5')).contentLength, 5);
    assert.equal(okReq(withHeaders('Host: a', 'content-length:007')).contentLength, 7);
    assert.equal(okReq(withHeaders('Host: a', 'Content-Length: \t42 \t')).contentLength, 42);
    assert.equal(
      okReq(withHeaders('Host: a', 'Content-Length: 999999999999999')).contentLength,
      999999999999999,
    );
    assert.equal(okReq(withHeaders('Host: a', 'Content-Length: 7')).headers['content-length'], '7');
  });

  test('duplicates (in one field or two), lists, signs, hex, empty, 16 digits', () => {
    for (const lines of [
      ['Content-Length: 5, 5'],
      ['Content-Length: 5', 'Content-Length: 5'],
      ['Content-Length: 5', 'Content-Length: 6'],
      ['Content-Length: 5,'],
      ['Content-Length: +5'],
      ['Content-Length: -1'],
      ['Content-Length: 0x5'],
      ['Content-Length: 5a'],
      ['Content-Length: 5 5'],
      ['Content-Length: 1e3'],
      ['Content-Length:'],
      ['Content-Length: 1000000000000000'],
    ])
      otherReq(withHeaders('Host: a', ...lines), 'content-length');
  });
});

describe('parseRequestHead: head size', () => {
  /** A request whose head, without the final CRLFCRLF, is exactly `n` bytes. */
  function headOf(n: number): string {
    const base = 'GET / HTTP/1.1\r\nHost: a\r\nX: ';
    return base + 'x'.repeat(n - base.length);
  }

  test('a head of MAX_HEAD_BYTES (before the blank line) is accepted, one more byte is not', () => {
    const atLimit = headOf(MAX_HEAD_BYTES) + '\r\n\r\n';
    assert.equal(okReq(atLimit).headBytes, MAX_HEAD_BYTES + 4);
    otherReq(headOf(MAX_HEAD_BYTES + 1) + '\r\n\r\n', 'head too large');
  });

  test('an unfinished head is incomplete up to MAX_HEAD_BYTES, too large once it cannot fit', () => {
    assert.deepEqual(req(headOf(MAX_HEAD_BYTES)), { kind: 'incomplete' });
    // MAX_HEAD_BYTES + 4 bytes and no CRLFCRLF: no head of MAX_HEAD_BYTES can end there.
    otherReq(headOf(MAX_HEAD_BYTES + 4), 'head too large');
    // Counted from `start`, not from the beginning of the buffer.
    const before = 'x'.repeat(100);
    assert.deepEqual(parseRequestHead(b(before + headOf(MAX_HEAD_BYTES)), 100), { kind: 'incomplete' });
  });

  test('a prefix of an acceptable head is incomplete, however the bytes are split', () => {
    const full = headOf(MAX_HEAD_BYTES) + '\r\n\r\n';
    assert.equal(req(full).kind, 'ok');
    for (let cut = 1; cut < 4; cut++) assert.equal(req(full.slice(0, -cut)).kind, 'incomplete', `cut ${cut}`);
  });
});

describe('parseRequestHead: repeated fields (node:http IncomingMessage semantics)', () => {
  test('set-cookie is a list, cookie joined with "; ", other fields with ", "', () => {
    const h = okReq(
      withHeaders(
        'Host: a',
        'Set-Cookie: a=1',
        'set-cookie: b=2; Path=/',
        'Cookie: c=3',
        'cookie: d=4',
        'COOKIE: e=5',
        'X-List: 1',
        'x-list: 2,3',
        'Accept: a',
        'Accept: b',
      ),
    ).headers;
    assert.deepEqual(h, {
      host: 'a',
      'set-cookie': ['a=1', 'b=2; Path=/'],
      cookie: 'c=3; d=4; e=5',
      'x-list': '1, 2,3',
      accept: 'a, b',
    });
  });

  test('a single set-cookie is still a list', () => {
    assert.deepEqual(okReq(withHeaders('Host: a', 'Set-Cookie: a=1')).headers['set-cookie'], ['a=1']);
  });

  test('single-value fields keep the first', () => {
    const single = [
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
    ];
    for (const name of single) {
      const lines =
        name === 'host' ? ['Host: first', 'HOST: second'] : ['Host: h', `${name}: first`, `${name}: second`];
      assert.equal(okReq(withHeaders(...lines)).headers[name], 'first', name);
    }
  });

  test('fields named like Object.prototype members are plain values', () => {
    const h = okReq(withHeaders('Host: a', 'Constructor: x', 'toString: y', 'valueOf: z')).headers;
    assert.equal(h['constructor'], 'x');
    assert.equal(h['tostring'], 'y');
    assert.equal(h['valueof'], 'z');
  });
});

test('connectionHas: case-insensitive token lists, arrays, undefined', () => {
  assert.equal(connectionHas(undefined, 'close'), false);
  assert.equal(connectionHas('close', 'close'), true);
  assert.equal(connectionHas('Close', 'close'), true);
  assert.equal(connectionHas('keep-alive ,  close ', 'close'), true);
  assert.equal(connectionHas('closed, xclose', 'close'), false);
  assert.equal(connectionHas(['a', 'b, CLOSE'], 'close'), true);
  assert.equal(connectionHas('', 'close'), false);
});

// ---- responses ---------------------------------------------------------------------------------

describe('parseResponseHead: status line', () => {
  test('a plain response: every field', () => {
    const s = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello';
    assert.deepEqual(res(s), {
      kind: 'ok',
      head: {
        status: 200,
        headers: { 'content-length': '5', 'content-type': 'text/plain' },
        framing: BODY_LENGTH,
        length: 5,
        close: false,
        headBytes: s.length - 5,
        clean: true,
      },
    });
  });

  test('reason phrases: absent, empty, with spaces; any three-digit status from 100', () => {
    assert.equal(okRes('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').status, 200);
    assert.equal(okRes('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').status, 200);
    assert.equal(okRes('HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n').status, 404);
    assert.equal(okRes('HTTP/1.1 100 Continue\r\n\r\n').status, 100);
    assert.equal(okRes('HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n').status, 999);
    assert.equal(okRes('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').status, 200);
    // A head with no header field at all.
    assert.equal(okRes('HTTP/1.1 200 OK\r\n\r\n').framing, BODY_UNTIL_CLOSE);
  });

  test('malformed status lines', () => {
    for (const line of [
      'HTTP/1.2 200 OK',
      'HTTP/2 200 OK',
      'HTTP/2.0 200 OK',
      'http/1.1 200 OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1 099 X',
      'HTTP/1.1 abc OK',
      'HTTP/1.1 +20 OK',
      'HTTP/1.1',
      'HTTP/1.1 ',
      'HTTP/1.1\t200 OK',
      'ICY 200 OK',
    ])
      errRes(`${line}\r\nContent-Length: 0\r\n\r\n`, 'bad status line');
  });

  test('every proper prefix is incomplete; the offset is honoured', () => {
    const s = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n';
    for (let i = 0; i < s.length; i++)
      assert.deepEqual(res(s.slice(0, i)), { kind: 'incomplete' }, `prefix ${i}`);
    const h = parseResponseHead(b('junk' + s + 'ok'), 4, false);
    assert.equal(h.kind, 'ok');
    assert.equal((h as { head: ResponseHead }).head.headBytes, s.length);
  });

  test('bare LF / CR, folding, bad names, control characters, size', () => {
    errRes('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', 'bare LF in response head');
    errRes('HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', 'bare LF in response head');
    errRes('HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n', 'obsolete line folding');
    errRes('HTTP/1.1 200 OK\r\nX : a\r\n\r\n', 'header name is not a token');
    errRes('HTTP/1.1 200 OK\r\nX\r\n\r\n', 'header line without a colon');
    errRes('HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n', 'control character in a header value');
    const big = 'HTTP/1.1 200 OK\r\nX: ' + 'x'.repeat(MAX_HEAD_BYTES);
    errRes(big + '\r\n\r\n', 'response head too large');
    errRes(big, 'response head too large');
  });
});

describe('parseResponseHead: framing (RFC 9112 §6.3)', () => {
  const framingOf = (s: string, head = false) => {
    const h = okRes(s, head);
    return { framing: h.framing, length: h.length, close: h.close };
  };

  test('Content-Length', () => {
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'), {
      framing: BODY_LENGTH,
      length: 10,
      close: false,
    });
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), {
      framing: BODY_NONE,
      length: 0,
      close: false,
    });
    assert.deepEqual(framingOf('HTTP/1.1 500 X\r\ncontent-length: 007\r\n\r\n'), {
      framing: BODY_LENGTH,
      length: 7,
      close: false,
    });
    errRes('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n', 'bad content-length');
    errRes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', 'bad content-length');
    errRes('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'bad content-length');
    errRes('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n', 'bad content-length');
  });

  test('chunked when it is the last transfer coding, else until close', () => {
    assert.equal(framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').framing, BODY_CHUNKED);
    assert.equal(framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n').framing, BODY_CHUNKED);
    assert.equal(
      framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').framing,
      BODY_CHUNKED,
    );
    assert.equal(
      framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n').framing,
      BODY_CHUNKED,
    );
    assert.equal(framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').close, false);
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'), {
      framing: BODY_UNTIL_CLOSE,
      length: 0,
      close: true,
    });
    assert.equal(framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n').framing, BODY_UNTIL_CLOSE);
  });

  test('Transfer-Encoding with Content-Length is an error', () => {
    errRes(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
      'both transfer-encoding and content-length',
    );
    errRes(
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n',
      'both transfer-encoding and content-length',
    );
  });

  test('neither: read until close, and the connection closes', () => {
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\nX: y\r\n\r\n'), {
      framing: BODY_UNTIL_CLOSE,
      length: 0,
      close: true,
    });
    assert.equal(framingOf('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n').close, true);
  });

  test('HEAD, 1xx, 204 and 304 have no body whatever the headers say', () => {
    const none = { framing: BODY_NONE, length: 0, close: false };
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', true), none);
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', true), none);
    assert.deepEqual(framingOf('HTTP/1.1 200 OK\r\n\r\n', true), none);
    assert.deepEqual(framingOf('HTTP/1.1 100 Continue\r\n\r\n'), none);
    assert.deepEqual(framingOf('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'), none);
    assert.deepEqual(framingOf('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'), none);
    assert.deepEqual(framingOf('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'), none);
    assert.deepEqual(framingOf('HTTP/1.1 304 Not Modified\r\n\r\n'), none);
    assert.deepEqual(framingOf('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'), {
      ...none,
      close: true,
    });
    // 205 is not bodiless by status.
    assert.equal(framingOf('HTTP/1.1 205 Reset Content\r\n\r\n').framing, BODY_UNTIL_CLOSE);
  });

  test('bodiless responses with malformed framing fields are errors too', () => {
    assert.equal(res('HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n').kind, 'error');
    assert.equal(
      res('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n').kind,
      'error',
    );
    assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n', true).kind, 'error');
  });

  test('HTTP/1.0: close unless keep-alive; HTTP/1.1: keep-alive unless close', () => {
    assert.equal(framingOf('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n').close, true);
    assert.equal(
      framingOf('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n').close,
      false,
    );
    assert.equal(
      framingOf('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n').close,
      false,
    );
    assert.equal(framingOf('HTTP/1.0 204 No Content\r\n\r\n').close, true);
    assert.equal(framingOf('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n').close, true);
    assert.equal(framingOf('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n').close, true);
    assert.equal(
      framingOf('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: x, Close\r\n\r\n').close,
      true,
    );
    assert.equal(
      framingOf('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n').close,
      false,
    );
  });

  test('clean: no hop-by-hop field name', () => {
    assert.equal(okRes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Conn: close\r\n\r\n').clean, true);
    assert.equal(okRes('HTTP/1.1 200 OK\r\n\r\n').clean, true);
    for (const name of HOP_BY_HOP) {
      const value = name === 'transfer-encoding' ? 'chunked' : 'x';
      assert.equal(okRes(`HTTP/1.1 200 OK\r\n${name.toUpperCase()}: ${value}\r\n\r\n`).clean, false, name);
    }
    assert.deepEqual([...HOP_BY_HOP].sort(), [
      'connection',
      'http2-settings',
      'keep-alive',
      'proxy-connection',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
    ]);
  });

  test('headers merge like node:http (set-cookie list, single-value fields keep the first)', () => {
    const h = okRes(
      'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nLocation: /x\r\nLocation: /y\r\n' +
        'Vary: a\r\nVary: b\r\nContent-Length: 0\r\n\r\n',
    ).headers;
    assert.deepEqual(h, {
      'set-cookie': ['a=1', 'b=2'],
      location: '/x',
      vary: 'a, b',
      'content-length': '0',
    });
  });
});

// ---- ChunkedFramer -----------------------------------------------------------------------------

/** Push `s` to a fresh framer in the pieces given by `cuts` (increasing offsets); return what each push said. */
function pushPieces(s: string, cuts: number[]): { counts: number[]; done: boolean[] } {
  const f = new ChunkedFramer();
  const buf = b(s);
  const counts: number[] = [];
  const done: boolean[] = [];
  let at = 0;
  for (const end of [...cuts, buf.length]) {
    counts.push(f.push(buf, at, end));
    done.push(f.done);
    at = end;
  }
  return { counts, done };
}

const BODIES = [
  '0\r\n\r\n',
  '5\r\nhello\r\n0\r\n\r\n',
  'a\r\n0123456789\r\nA\r\n0123456789\r\n000\r\n\r\n',
  '3;name=value;flag\r\nabc\r\n1;x="a b"\r\nd\r\n0;last\r\n\r\n',
  '2;x\r\nab\r\n0;y=1\r\n\r\n',
  '4\r\n\r\n\r\n\r\n0\r\nX-Trailer: 1\r\nY: two words\r\n\r\n',
  '1\r\n\x00\r\nff\r\n' + 'z'.repeat(255) + '\r\n0\r\n\r\n',
];

describe('ChunkedFramer', () => {
  test('a whole body in one buffer', () => {
    for (const body of BODIES) {
      assert.deepEqual(pushPieces(body, []), { counts: [body.length], done: [true] }, JSON.stringify(body));
    }
  });

  test('bytes after the end are not counted, and later pushes take nothing', () => {
    const body = '5\r\nhello\r\n0\r\nT: 1\r\n\r\n';
    const f = new ChunkedFramer();
    const buf = b(body + 'HTTP/1.1 200 OK\r\n');
    assert.equal(f.push(buf, 0, buf.length), body.length);
    assert.equal(f.done, true);
    assert.equal(f.push(buf, body.length, buf.length), 0);
    assert.equal(f.push(b('more'), 0, 4), 0);
  });

  test('honours start and end inside a larger buffer', () => {
    const body = '3\r\nabc\r\n0\r\n\r\n';
    const buf = b('XXXX' + body + 'YYYY');
    const f = new ChunkedFramer();
    assert.equal(f.push(buf, 4, 9), 5);
    assert.equal(f.done, false);
    assert.equal(f.push(buf, 9, buf.length - 4), body.length - 5);
    assert.equal(f.done, true);
  });

  test('split in two at every byte boundary', () => {
    for (const body of BODIES)
      for (let i = 0; i <= body.length; i++) {
        const { counts, done } = pushPieces(body, [i]);
        assert.deepEqual(counts, [i, body.length - i], `${JSON.stringify(body)} split at ${i}`);
        assert.deepEqual(done, [i === body.length, true], `${JSON.stringify(body)} split at ${i}`);
      }
  });

  test('split in three at every pair of boundaries, and byte by byte', () => {
    for (const body of BODIES.slice(0, 6))
      for (let i = 0; i <= body.length; i++)
        for (let j = i; j <= body.length; j++) {
          const { counts, done } = pushPieces(body, [i, j]);
          assert.deepEqual(counts, [i, j - i, body.length - j], `${JSON.stringify(body)} at ${i},${j}`);
          assert.equal(done[2], true);
          assert.equal(done[1], j === body.length);
        }
    for (const body of BODIES) {
      const cuts = Array.from({ length: body.length - 1 }, (_, k) => k + 1);
      const { counts, done } = pushPieces(body, cuts);
      assert.ok(
        counts.every((n) => n === 1),
        JSON.stringify(body),
      );
      assert.deepEqual(
        done.map((d, k) => (d ? k : -1)).filter((k) => k >= 0),
        [body.length - 1],
      );
    }
  });

  test('the end is found with the following bytes in the same push, at every split', () => {
    const body = '4\r\nwxyz\r\n0\r\nA: b\r\n\r\n';
    const next = 'HTTP/1.1 204 No Content\r\n\r\n';
    for (let i = 0; i <= body.length; i++) {
      const { counts } = pushPieces(body + next, [i]);
      assert.deepEqual(counts, [i, body.length - i], `split at ${i}`);
    }
  });

  test('malformed framing returns -1', () => {
    const bad: [string, string][] = [
      ['\r\n', 'no size digits'],
      ['g\r\n', 'not hex'],
      [';x\r\n', 'extension without size'],
      ['-5\r\n', 'sign'],
      ['5\nhello\r\n', 'bare LF ending the size line'],
      ['5;x\nhello', 'bare LF after an extension'],
      ['5\rhello', 'CR not followed by LF'],
      ['5\r\nhelloX\r\n', 'data longer than the size'],
      ['5\r\nhello\rX', 'CR after data not followed by LF'],
      ['5\r\nhello\n', 'bare LF after data'],
      ['1234567890abc\r\n', 'more than 12 size digits'],
      ['5x\r\n', 'junk right after the digits'],
      ['0\r\nX: 1\nY', 'bare LF ending a trailer line'],
      ['0\r\nX: 1\rY', 'CR in a trailer line not followed by LF'],
      ['0\r\n\rX', 'CR of the final line not followed by LF'],
    ];
    for (const [s, why] of bad) {
      const f = new ChunkedFramer();
      assert.equal(f.push(b(s), 0, s.length), -1, why);
      assert.equal(f.done, false, why);
    }
  });

  test('malformed framing is found when the offending byte starts a new push', () => {
    // The size line's CR at the end of one push, something other than LF at the start of the next.
    const f = new ChunkedFramer();
    assert.equal(f.push(b('5\r'), 0, 2), 2);
    assert.equal(f.push(b('hello'), 0, 5), -1);
    const g = new ChunkedFramer();
    assert.equal(g.push(b('5\r\nhello'), 0, 8), 8);
    assert.equal(g.push(b('X'), 0, 1), -1);
    const h = new ChunkedFramer();
    assert.equal(h.push(b('0\r\n\r'), 0, 4), 4);
    assert.equal(h.push(b('\r'), 0, 1), -1);
  });

  test('twelve hex digits are allowed', () => {
    const f = new ChunkedFramer();
    assert.equal(f.push(b('00000000000f\r\n'), 0, 14), 14);
    assert.equal(f.done, false);
  });

  test('leading zeros do not count towards the twelve digits; sizes past that are refused', () => {
    const s = '0000000000001\r\na\r\n0\r\n\r\n';
    const f = new ChunkedFramer();
    assert.equal(f.push(b(s), 0, s.length), s.length);
    assert.equal(f.done, true);
    assert.equal(new ChunkedFramer().push(b('1000000000000\r\n'), 0, 15), -1);
  });

  test('chunk extensions follow the grammar: token names, token or quoted values', () => {
    for (const s of ['1;a\r\nx\r\n0\r\n\r\n', '1;a=b;c="d \\" e"\r\nx\r\n0;z=1\r\n\r\n']) {
      const f = new ChunkedFramer();
      assert.equal(f.push(b(s), 0, s.length), s.length, JSON.stringify(s));
      assert.equal(f.done, true);
    }
    for (const s of ['1;a =b\r\n', '0;x=yX-T: 1\r\n\r\n'.replace('yX', 'y X'), '1;a="b\r\n', '1;a=\r\n'])
      assert.equal(new ChunkedFramer().push(b(s), 0, s.length), -1, JSON.stringify(s));
  });

  test('a trailer section starting with a bare LF is malformed', () => {
    for (const s of ['0\r\n\nX\r\n\r\n', '0\r\n\nHTTP/1.1 200 OK\r\nX: y\r\n\r\n'])
      assert.equal(new ChunkedFramer().push(b(s), 0, s.length), -1, JSON.stringify(s));
  });

  test('trailer fields, and what follows a chunk size, are checked like llhttp does', () => {
    for (const s of [
      '0\r\nno-colon\r\n\r\n',
      '0\r\nX : y\r\n\r\n',
      '0\r\nX: a\x00b\r\n\r\n',
      '1 \r\na\r\n0\r\n\r\n',
      '1 x\r\na\r\n0\r\n\r\n',
      '1;\r\na\r\n0\r\n\r\n',
      '1;a\x00\r\na\r\n0\r\n\r\n',
    ])
      assert.equal(new ChunkedFramer().push(b(s), 0, s.length), -1, JSON.stringify(s));
  });
});

// ---- serialisation -----------------------------------------------------------------------------

test('headerLines: strings, numbers, arrays as repeated lines, undefined skipped, order kept', () => {
  assert.equal(headerLines({}), '');
  assert.equal(
    headerLines({ 'x-a': 'one', 'content-length': 12, 'set-cookie': ['a=1', 'b=2'], skip: undefined, z: '' }),
    'x-a: one\r\ncontent-length: 12\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nz: \r\n',
  );
  assert.equal(headerLines({ empty: [] }), '');
});

test('statusLine: known reasons, "Unknown" otherwise', () => {
  assert.equal(statusLine(200), 'HTTP/1.1 200 OK\r\n');
  assert.equal(statusLine(204), 'HTTP/1.1 204 No Content\r\n');
  assert.equal(statusLine(403), 'HTTP/1.1 403 Forbidden\r\n');
  assert.equal(statusLine(429), 'HTTP/1.1 429 Too Many Requests\r\n');
  assert.equal(statusLine(431), 'HTTP/1.1 431 Request Header Fields Too Large\r\n');
  assert.equal(statusLine(502), 'HTTP/1.1 502 Bad Gateway\r\n');
  assert.equal(statusLine(503), 'HTTP/1.1 503 Service Unavailable\r\n');
  assert.equal(statusLine(418), 'HTTP/1.1 418 Unknown\r\n');
});

test('index re-exports the codec', () => {
  assert.equal(index.parseRequestHead, parseRequestHead);
  assert.equal(index.parseResponseHead, parseResponseHead);
  assert.equal(index.ChunkedFramer, ChunkedFramer);
  assert.equal(index.MAX_HEAD_BYTES, 16 * 1024);
  assert.equal(index.BODY_CHUNKED, BODY_CHUNKED);
  assert.equal(index.BODY_UNTIL_CLOSE, BODY_UNTIL_CLOSE);
  assert.equal(index.HOP_BY_HOP, HOP_BY_HOP);
  assert.equal(index.headerLines, headerLines);
  assert.equal(index.statusLine, statusLine);
});
