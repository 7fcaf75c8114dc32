/**
 * Tests of the fast path's connection layer (conn.ts) over real loopback sockets: DownstreamConnection
 * and Exchange (keep-alive, pipelining, split requests, hand-off to node:http, local replies, closes),
 * UpstreamConnection / UpstreamPool / forwardResponse (every response framing, informational
 * responses, failures on either side, pool reuse and close). Each test closes what it opened; nothing
 * waits on a timer: every wait is for an event or a condition checked on events.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { TurnBudget } from '../../lib/index.ts';
import {
  DownstreamConnection,
  forwardResponse,
  MAX_BUFFERED_BODY,
  UpstreamError,
  UpstreamPool,
} from './conn.ts';
import type { AcceptRequest, Exchange, FastRequest, HandOff, UpstreamConnection } from './conn.ts';

/** A bound on every test here, so that a regression that hangs fails instead. */
const T = { timeout: 20_000 };

// ---- plumbing ----------------------------------------------------------------------------------

/** Servers, sockets and pools a test opened; closed after it. */
class Scope {
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #pools: UpstreamPool[] = [];
  readonly #http: http.Server[] = [];

  constructor(t: TestContext) {
    t.after(() => this.close());
  }

  track(s: net.Socket): net.Socket {
    this.#sockets.add(s);
    s.on('error', () => {});
    return s;
  }

  pool(options?: { idleMs?: number; maxIdlePerKey?: number }): UpstreamPool {
    const p = new UpstreamPool(options);
    this.#pools.push(p);
    return p;
  }

  httpServer(handler: http.RequestListener): http.Server {
    const s = http.createServer(handler);
    this.#http.push(s);
    return s;
  }

  /** A server on 127.0.0.1, port 0; every accepted socket is tracked. */
  async listen(onConnection: (s: net.Socket) => void, options: net.ServerOpts = {}): Promise<number> {
    const server = net.createServer(options, (s) => {
      this.track(s);
      onConnection(s);
    });
    this.#servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  async connect(port: number): Promise<net.Socket> {
    const s = this.track(net.connect({ port, host: '127.0.0.1', noDelay: true }));
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return s;
  }

  async close(): Promise<void> {
    for (const p of this.#pools) p.close();
    for (const s of this.#sockets) s.destroy();
    for (const h of this.#http) h.close();
    await Promise.all(this.#servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Everything a socket receives, with waits on conditions re-checked at each event. */
class Reader {
  length = 0;
  ended = false;
  closed = false;
  #parts: Buffer[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(s: Duplex) {
    s.on('data', (c: Buffer) => {
      this.#parts.push(c);
      this.length += c.length;
      this.#wake();
    });
    s.on('end', () => {
      this.ended = true;
      this.#wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  get data(): Buffer {
    if (this.#parts.length > 1) this.#parts = [Buffer.concat(this.#parts)];
    return this.#parts[0] ?? Buffer.alloc(0);
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves when `cond` holds; rejects if the socket closes first. */
  until(cond: () => boolean, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) {
          this.#waiters.delete(check);
          resolve();
        } else if (this.closed) {
          this.#waiters.delete(check);
          reject(new Error(`socket closed before ${what}; received ${JSON.stringify(this.text)}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  untilText(expected: string): Promise<void> {
    return this.until(() => this.length >= expected.length, `${expected.length} bytes`);
  }

  untilClosed(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.closed) {
          this.#waiters.delete(check);
          resolve();
        }
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** Promises by index, created by whichever side asks first. */
class Signals {
  readonly #map = new Map<number, { promise: Promise<void>; resolve: () => void }>();

  #get(i: number) {
    let d = this.#map.get(i);
    if (d === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#map.set(i, (d = { promise, resolve }));
    }
    return d;
  }

  wait(i: number): Promise<void> {
    return this.#get(i).promise;
  }

  fire(i: number): void {
    this.#get(i).resolve();
  }
}

/** Resolves when `bytes` bytes in all have been read from `s` (checked at each 'data'). */
function untilRead(s: net.Socket, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (s.bytesRead >= bytes) {
        s.off('data', check);
        resolve();
      }
    };
    s.on('data', check);
    check();
  });
}

function once<T = void>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve as (v: unknown) => void));
}

/** Resolves when `cond` holds, checked now and at each `event` of `emitter`. */
function when(emitter: EventEmitter, event: string, cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (cond()) {
        emitter.off(event, check);
        resolve();
      }
    };
    emitter.on(event, check);
    check();
  });
}

/** The bytes of `Exchange.reply(status, {'x-url': url}, body)`. */
function localBytes(url: string, body: string, close = false, status = '200 OK'): string {
  return (
    `HTTP/1.1 ${status}\r\nx-url: ${url}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    (close ? 'connection: close\r\n' : '') +
    `\r\n${body}`
  );
}

interface ProxyRecord {
  port: number;
  /** Requests given to `accept`, in order. */
  requests: FastRequest[];
  exchanges: Exchange[];
  /** Fired with each request's index once it has been given to `accept`. */
  accepted: Signals;
  handOffs: string[];
  /** Server-side sockets, in accept order. */
  sockets: net.Socket[];
  connected: Promise<net.Socket>;
}

/**
 * A loopback server whose connections are read by DownstreamConnection. `accept` defaults to a
 * local reply echoing the target and body.
 */
async function proxy(
  scope: Scope,
  accept?: AcceptRequest,
  handOff?: HandOff,
  options: net.ServerOpts = {},
): Promise<ProxyRecord> {
  let connected!: (s: net.Socket) => void;
  const rec: ProxyRecord = {
    port: 0,
    requests: [],
    exchanges: [],
    accepted: new Signals(),
    handOffs: [],
    sockets: [],
    connected: new Promise((resolve) => (connected = resolve)),
  };
  const decide: AcceptRequest =
    accept ??
    ((req, ex) => {
      ex.reply(200, { 'x-url': req.head.url }, req.body?.toString('latin1') ?? '');
      return true;
    });
  rec.port = await scope.listen((s) => {
    rec.sockets.push(s);
    new DownstreamConnection(
      s,
      (req, ex) => {
        rec.requests.push(req);
        rec.exchanges.push(ex);
        const verdict = decide(req, ex);
        rec.accepted.fire(rec.exchanges.length - 1);
        return verdict;
      },
      (stream, reason) => {
        rec.handOffs.push(reason);
        if (handOff === undefined) throw new Error(`unexpected hand-off: ${reason}`);
        handOff(stream, reason);
      },
    );
    connected(s);
  }, options);
  return rec;
}

// ---- downstream --------------------------------------------------------------------------------

test('keep-alive: three requests one after the other on one connection', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope);
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  let expected = '';
  for (const [i, path] of ['/one', '/two?x=1', '/three'].entries()) {
    const body = i === 1 ? 'payload' : '';
    const len = body.length > 0 ? `Content-Length: ${body.length}\r\n` : '';
    c.write(`${i === 1 ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: a\r\n${len}\r\n${body}`);
    expected += localBytes(path, body);
    await r.untilText(expected);
    assert.equal(r.text, expected);
  }
  assert.equal(p.sockets.length, 1);
  assert.deepEqual(
    p.requests.map((q) => [q.head.method, q.head.url, q.body?.toString()]),
    [
      ['GET', '/one', undefined],
      ['POST', '/two?x=1', 'payload'],
      ['GET', '/three', undefined],
    ],
  );
  assert.ok(
    p.exchanges.every((ex) => ex.finished && !ex.destroyed && ex.headersSent && ex.statusCode === 200),
  );
  assert.equal(r.ended, false);
});

test('pipelined requests in one chunk are dispatched one at a time, answered in order', T, async (t) => {
  const scope = new Scope(t);
  // Answered later, by the test.
  const p = await proxy(scope, () => true);
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const chunk =
    'GET /a HTTP/1.1\r\nHost: h\r\n\r\n' +
    'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz' +
    'GET /c HTTP/1.1\r\nHost: h\r\n\r\n';
  const server = await p.connected;
  const received = untilRead(server, chunk.length);
  c.write(chunk);
  await received;
  // Everything has arrived; only the first request is dispatched until it is answered.
  assert.equal(p.requests.length, 1);
  p.exchanges[0]!.reply(200, { 'x-url': '/a' }, 'A');
  // Completing it dispatches the next, synchronously.
  assert.equal(p.requests.length, 2);
  assert.equal(p.requests[1]!.body?.toString(), 'xyz');
  p.exchanges[1]!.reply(200, { 'x-url': '/b' }, 'B');
  assert.equal(p.requests.length, 3);
  p.exchanges[2]!.reply(200, { 'x-url': '/c' }, 'C');
  const expected = localBytes('/a', 'A') + localBytes('/b', 'B') + localBytes('/c', 'C');
  await r.untilText(expected);
  assert.equal(r.text, expected);
  assert.deepEqual(
    p.requests.map((q) => q.head.url),
    ['/a', '/b', '/c'],
  );
});

test('pipelined bytes beyond 64 KiB pause reading until the request in flight is answered', T, async (t) => {
  const scope = new Scope(t);
  // The first request is answered by the test; every later one at once.
  const p = await proxy(scope, (req, ex) => {
    if (req.head.url === '/first') return true;
    ex.reply(200, { 'x-url': req.head.url }, '');
    return true;
  });
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const server = await p.connected;
  const first = 'GET /first HTTP/1.1\r\nHost: a\r\n\r\n';
  const got = untilRead(server, first.length);
  c.write(first);
  await got;
  const later = Array.from({ length: 6000 }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
  const bulk = later.join('');
  assert.ok(bulk.length > 2 * 64 * 1024);
  const over = untilRead(server, first.length + 64 * 1024 + 1);
  c.write(bulk);
  await over;
  assert.equal(server.isPaused(), true);
  assert.equal(p.requests.length, 1);
  p.exchanges[0]!.reply(200, { 'x-url': '/first' }, 'F');
  assert.equal(server.isPaused(), false);
  const expected = localBytes('/first', 'F') + later.map((_, i) => localBytes(`/${i}`, '')).join('');
  await r.untilText(expected);
  assert.equal(r.text, expected);
  assert.equal(p.requests.length, 6001);
});

test('a body of exactly MAX_BUFFERED_BODY bytes stays on the fast path', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope, (req, ex) => {
    ex.reply(200, { 'x-url': req.head.url }, String(req.body?.length));
    return true;
  });
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  c.write(
    `POST /max HTTP/1.1\r\nHost: a\r\nContent-Length: ${MAX_BUFFERED_BODY}\r\n\r\n${'m'.repeat(MAX_BUFFERED_BODY)}`,
  );
  await r.untilText(localBytes('/max', String(MAX_BUFFERED_BODY)));
  assert.equal(r.text, localBytes('/max', String(MAX_BUFFERED_BODY)));
  assert.equal(MAX_BUFFERED_BODY, 64 * 1024);
});

test('a request that arrives byte by byte is dispatched at its last byte', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope);
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const server = await p.connected;
  const request = 'PUT /split HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nX-Y: z\r\n\r\nbody';
  for (let i = 0; i < request.length; i++) {
    const got = untilRead(server, i + 1);
    c.write(request[i]!);
    await got;
    assert.equal(p.requests.length, i === request.length - 1 ? 1 : 0, `after byte ${i}`);
  }
  assert.deepEqual({ ...p.requests[0]!.head.headers }, { host: 'a', 'content-length': '4', 'x-y': 'z' });
  await r.untilText(localBytes('/split', 'body'));
  // The connection's state is clean afterwards: a whole request in one chunk.
  c.write('GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
  const expected = localBytes('/split', 'body') + localBytes('/next', '');
  await r.untilText(expected);
  assert.equal(r.text, expected);
});

test('a body that arrives after the head waits for its last byte', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope);
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const server = await p.connected;
  const head = 'POST /late HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n';
  let sent = 0;
  for (const piece of [head, 'hel', 'lo' + 'GET /after HTTP/1.1\r\nHost: a\r\n\r\n']) {
    sent += piece.length;
    const got = untilRead(server, sent);
    c.write(piece);
    await got;
    if (piece !== head && piece !== 'hel') break;
    assert.equal(p.requests.length, 0);
  }
  const expected = localBytes('/late', 'hello') + localBytes('/after', '');
  await r.untilText(expected);
  assert.equal(r.text, expected);
  assert.equal(p.requests[0]!.body?.toString(), 'hello');
  assert.equal(p.requests[0]!.body?.length, 5);
});

/** A node:http server that answers `node <method> <url> <body>` without a Date header. */
function nodeEcho(scope: Scope): http.Server {
  return scope.httpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = `node ${req.method} ${req.url} ${Buffer.concat(parts).toString()}`;
      res.sendDate = false;
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

/** What nodeEcho sends for one request (keep-alive). */
function nodeBytes(method: string, url: string, body = '', close = false): string {
  const text = `node ${method} ${url} ${body}`;
  return (
    `HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n` +
    (close ? 'Connection: close\r\n' : 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n') +
    `\r\n${text}`
  );
}

test('a declined request hands the connection, unconsumed bytes intact, to node:http', T, async (t) => {
  const scope = new Scope(t);
  const node = nodeEcho(scope);
  const p = await proxy(
    scope,
    (req, ex) => {
      if (req.head.url.startsWith('/node')) return false;
      ex.reply(200, { 'x-url': req.head.url }, 'fast');
      return true;
    },
    (stream) => node.emit('connection', stream),
  );
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  c.write('GET /fast HTTP/1.1\r\nHost: a\r\n\r\n');
  let expected = localBytes('/fast', 'fast');
  await r.untilText(expected);
  // The declined request (with a body), then requests the fast path would have taken: all node's now.
  c.write(
    'POST /node HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc' +
      'GET /fast2 HTTP/1.1\r\nHost: a\r\n\r\n' +
      'PUT /node2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nZ',
  );
  expected +=
    nodeBytes('POST', '/node', 'abc') + nodeBytes('GET', '/fast2') + nodeBytes('PUT', '/node2', 'Z');
  await r.untilText(expected);
  assert.equal(r.text, expected);
  // Later requests too.
  c.write('GET /later HTTP/1.1\r\nHost: a\r\n\r\n');
  expected += nodeBytes('GET', '/later');
  await r.untilText(expected);
  assert.equal(r.text, expected);
  assert.deepEqual(
    p.requests.map((q) => q.head.url),
    ['/fast', '/node'],
  );
  assert.deepEqual(p.handOffs, ['declined']);
});

test('a reason returned by accept becomes the hand-off label', T, async (t) => {
  const scope = new Scope(t);
  const node = nodeEcho(scope);
  const p = await proxy(
    scope,
    () => 'Health probe!',
    (stream) => node.emit('connection', stream),
  );
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  c.write('GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilText(nodeBytes('GET', '/healthz'));
  assert.equal(r.text, nodeBytes('GET', '/healthz'));
  assert.deepEqual(p.handOffs, ['health_probe_']);
});

test('requests outside the codec subset are handed off with their reason', T, async (t) => {
  const cases: [string, string, string][] = [
    [
      'POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      'transfer_encoding',
      nodeBytes('POST', '/chunked', 'abcde'),
    ],
    ['GET /old HTTP/1.0\r\nHost: a\r\n\r\n', 'not_http_1_1', nodeBytes('GET', '/old', '', true)],
    [
      `POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${MAX_BUFFERED_BODY + 1}\r\n\r\n${'x'.repeat(MAX_BUFFERED_BODY + 1)}`,
      'body_too_large',
      nodeBytes('POST', '/big', 'x'.repeat(MAX_BUFFERED_BODY + 1)),
    ],
    ['GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n', 'request_target', nodeBytes('GET', 'http://a/abs')],
  ];
  for (const [request, reason, response] of cases) {
    await t.test(reason, async (t2) => {
      const scope = new Scope(t2);
      const node = nodeEcho(scope);
      const p = await proxy(scope, undefined, (stream) => node.emit('connection', stream));
      const c = await scope.connect(p.port);
      const r = new Reader(c);
      c.write(request);
      if (reason === 'not_http_1_1') {
        // HTTP/1.0 without keep-alive: node answers and closes.
        await r.untilClosed();
        assert.equal(r.text, response);
      } else {
        await r.untilText(response);
        assert.equal(r.text, response);
      }
      assert.deepEqual(p.handOffs, [reason]);
      assert.equal(p.requests.length, 0);
    });
  }
});

test('an Upgrade request is handed off with the bytes after its head', T, async (t) => {
  const scope = new Scope(t);
  const node = nodeEcho(scope);
  const heads: Buffer[] = [];
  node.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    heads.push(head);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Url: ${req.url}\r\n\r\n`,
    );
    socket.write(head);
    socket.pipe(socket);
  });
  const p = await proxy(scope, undefined, (stream) => node.emit('connection', stream));
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  c.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly');
  let expected =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Url: /ws\r\n\r\nearly';
  await r.untilText(expected);
  c.write('later');
  expected += 'later';
  await r.untilText(expected);
  assert.equal(r.text, expected);
  assert.deepEqual(p.handOffs, ['upgrade']);
  assert.equal(Buffer.concat(heads).toString(), 'early');
});

test(
  'a pipelined request outside the subset is handed off after the fast ones are answered',
  T,
  async (t) => {
    const scope = new Scope(t);
    const node = nodeEcho(scope);
    const p = await proxy(scope, undefined, (stream) => node.emit('connection', stream));
    const c = await scope.connect(p.port);
    const r = new Reader(c);
    c.write(
      'GET /f1 HTTP/1.1\r\nHost: a\r\n\r\n' +
        'POST /n1 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi' +
        'GET /n2 HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    const expected =
      localBytes('/f1', '') +
      'HTTP/1.1 100 Continue\r\n\r\n' +
      nodeBytes('POST', '/n1', 'hi') +
      nodeBytes('GET', '/n2');
    await r.untilText(expected);
    assert.equal(r.text, expected);
    assert.deepEqual(p.handOffs, ['expect']);
  },
);

test('replyJson with connection: close answers, then closes; later bytes are not read', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope, (req, ex) => {
    ex.replyJson(403, { error: 'denied', url: req.head.url }, { 'x-weft-denied-by': 'p1' });
    return true;
  });
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  c.write('GET /bye HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.until(() => r.ended, 'end');
  const body = '{"error":"denied","url":"/bye"}\n';
  assert.equal(
    r.text,
    'HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-weft-local-reply: true\r\n' +
      `x-weft-denied-by: p1\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
  assert.deepEqual(
    p.requests.map((q) => q.head.url),
    ['/bye'],
  );
  assert.equal(p.requests[0]!.head.close, true);
  assert.equal(p.exchanges[0]!.closeAfter, true);
});

test('an asynchronous answer to a connection: close request closes the connection too', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope, () => true);
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const server = await p.connected;
  const request = 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n';
  const got = untilRead(server, request.length);
  c.write(request);
  await got;
  p.exchanges[0]!.reply(200, { 'x-url': '/x' }, 'bye');
  await r.until(() => r.ended, 'end');
  assert.equal(r.text, localBytes('/x', 'bye', true));
});

test('a client half-close: the request in flight is answered, then the connection closes', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope, () => true, undefined, { allowHalfOpen: true });
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const server = await p.connected;
  const ended = once(server, 'end');
  c.end('GET /half HTTP/1.1\r\nHost: a\r\n\r\n');
  await ended;
  assert.equal(p.requests.length, 1);
  assert.equal(p.exchanges[0]!.closeAfter, true);
  p.exchanges[0]!.reply(200, { 'x-url': '/half' }, 'late');
  await r.until(() => r.ended, 'end');
  assert.equal(r.text, localBytes('/half', 'late', true));
});

test('Exchange: close listeners, destroy, and replies after the fact', T, async (t) => {
  const scope = new Scope(t);
  const p = await proxy(scope, () => true);
  const c = await scope.connect(p.port);
  const r = new Reader(c);
  const server = await p.connected;
  const req1 = 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n';
  let got = untilRead(server, req1.length);
  c.write(req1);
  await got;
  const ex = p.exchanges[0]!;
  const fired: string[] = [];
  ex.once('close', () => fired.push('before'));
  assert.equal(ex.headersSent, false);
  ex.reply(201, { 'x-url': '/1' }, 'made');
  assert.deepEqual(fired, ['before']);
  assert.equal(ex.finished, true);
  assert.equal(ex.statusCode, 201);
  // Registered after completion: fires, asynchronously.
  const late = new Promise<void>((resolve) => ex.once('close', resolve));
  assert.equal(fired.length, 1);
  await late;
  // A second reply is ignored.
  ex.reply(500, {}, 'no');
  await r.untilText(localBytes('/1', 'made', false, '201 Created'));

  got = untilRead(server, 2 * req1.length);
  c.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await got;
  const ex2 = p.exchanges[1]!;
  let closes = 0;
  ex2.once('close', () => closes++);
  ex2.destroy();
  ex2.destroy();
  assert.equal(closes, 1);
  assert.equal(ex2.destroyed, true);
  assert.equal(ex2.finished, false);
  await r.untilClosed();
  assert.equal(r.text, localBytes('/1', 'made', false, '201 Created'));
  ex2.reply(200, {}, 'too late');
  assert.equal(ex2.headersSent, false);
});

// ---- upstream ----------------------------------------------------------------------------------

interface Upstream {
  port: number;
  /** Emits 'connection' after each accepted socket is recorded. */
  events: EventEmitter;
  /** Server-side sockets, in accept order. */
  sockets: net.Socket[];
  /** Request heads received (text up to the blank line), in order. */
  requests: string[];
}

/**
 * A loopback upstream: each complete request head (these tests send no request bodies upstream) is
 * given to `respond` with its socket and its index over all requests.
 */
async function upstream(
  scope: Scope,
  respond: (s: net.Socket, head: string, index: number) => void | Promise<void>,
): Promise<Upstream> {
  const up: Upstream = { port: 0, events: new EventEmitter(), sockets: [], requests: [] };
  up.port = await scope.listen((s) => {
    up.sockets.push(s);
    up.events.emit('connection');
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        up.requests.push(head);
        // A responder's wait fails only when a test has already failed on the client side.
        Promise.resolve(respond(s, head, up.requests.length - 1)).catch(() => {});
      }
    });
  });
  return up;
}

interface Forwarder {
  pool: UpstreamPool;
  /** UpstreamConnection used by each request, in order. */
  used: UpstreamConnection[];
  /** Upstream failures answered 502. */
  failures: UpstreamError[];
  /** The 'close' of each exchange, by request index. */
  closed: Signals;
}

/** An accept that forwards every request to `port` through a pool, as inbound/outbound do. */
function forwarding(
  scope: Scope,
  port: number,
  extra?: (req: FastRequest) => Record<string, string> | undefined,
): { accept: AcceptRequest; fwd: Forwarder } {
  const fwd: Forwarder = { pool: scope.pool(), used: [], failures: [], closed: new Signals() };
  let n = 0;
  const accept: AcceptRequest = (req, ex) => {
    const up = fwd.pool.acquire('up', () =>
      scope.track(net.connect({ port, host: '127.0.0.1', noDelay: true })),
    );
    fwd.used.push(up);
    const index = n++;
    ex.once('close', () => fwd.closed.fire(index));
    const h = req.head;
    up.send(`${h.method} ${h.url} HTTP/1.1\r\nhost: upstream\r\n\r\n`, h.method === 'HEAD').then(
      (r) => {
        ex.once('close', () => {
          if (!ex.finished) up.discard();
        });
        forwardResponse(up, r, ex, extra?.(req));
      },
      (err: UpstreamError) => {
        fwd.failures.push(err);
        ex.replyJson(502, { error: err.code });
      },
    );
    return true;
  };
  return { accept, fwd };
}

/** A proxy forwarding to an upstream answering with `respond`, and a client connected to it. */
async function chain(
  t: TestContext,
  respond: (s: net.Socket, head: string, index: number) => void | Promise<void>,
  extra?: (req: FastRequest) => Record<string, string> | undefined,
) {
  const scope = new Scope(t);
  const up = await upstream(scope, respond);
  const { accept, fwd } = forwarding(scope, up.port, extra);
  const p = await proxy(scope, accept);
  const client = await scope.connect(p.port);
  return { scope, up, fwd, p, client, reader: new Reader(client) };
}

test(
  'a rebuilt head keeps Content-Length even when Connection lists it, and the codings as sent',
  T,
  async (t) => {
    const bodies = [
      'HTTP/1.1 200 OK\r\nConnection: content-length, x-hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n',
    ];
    const { client, reader } = await chain(t, (s, _h, i) => void s.write(bodies[i]!));
    client.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    const first = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
    await reader.untilText(first);
    client.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    const second = 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n';
    await reader.untilText(first + second);
    assert.equal(reader.text, first + second);
  },
);

test('send on a connection that already closed fails at once', T, async (t) => {
  const scope = new Scope(t);
  const up = await upstream(scope, () => undefined);
  const pool = scope.pool();
  const conn = pool.acquire('k', () => scope.track(net.connect({ port: up.port, host: '127.0.0.1' })));
  conn.discard();
  await assert.rejects(conn.send('GET / HTTP/1.1\r\nhost: a\r\n\r\n', false), { code: 'ECONNRESET' });
});

test('Content-Length responses are relayed byte for byte; the pool reuses the connection', T, async (t) => {
  const response = (i: number) => `HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Up: ${i}\r\n\r\nhello${i}`;
  const { up, fwd, client, reader } = await chain(t, (s, _h, i) => void s.write(response(i)));
  client.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
  await reader.untilText(response(0));
  client.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await reader.untilText(response(0) + response(1));
  assert.equal(reader.text, response(0) + response(1));
  assert.equal(up.sockets.length, 1);
  assert.equal(fwd.used.length, 2);
  assert.equal(fwd.used[0], fwd.used[1]);
  assert.equal(fwd.pool.size, 1);
  assert.deepEqual(up.requests, [
    'GET /1 HTTP/1.1\r\nhost: upstream\r\n\r\n',
    'GET /2 HTTP/1.1\r\nhost: upstream\r\n\r\n',
  ]);
});

test(
  'a chunked response split across many writes streams through, then the connection is reused',
  T,
  async (t) => {
    const pieces = [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n',
      '5\r\nhe',
      'llo\r',
      '\n',
      '1',
      '0;ext=1\r\n0123456789abcdef\r\n',
      '0\r\nX-Trailer: t\r\n',
      '\r',
      '\n',
    ];
    const head = 'HTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n';
    const c = await chain(t, async (s, _h, i) => {
      if (i > 0) {
        s.write('HTTP/1.1 204 No Content\r\n\r\n');
        return;
      }
      // Each piece is written once the client has everything before it: the body is streamed.
      let sent = head;
      for (const [k, piece] of pieces.entries()) {
        s.write(piece);
        if (k > 0) sent += piece;
        await c.reader.untilText(sent);
      }
    });
    c.client.write('GET /chunks HTTP/1.1\r\nHost: a\r\n\r\n');
    const first = head + pieces.slice(1).join('');
    await c.reader.untilText(first);
    assert.equal(c.reader.text, first);
    await c.fwd.closed.wait(0);
    assert.equal(c.p.exchanges[0]!.finished, true);
    c.client.write('GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.reader.untilText(first + 'HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal(c.reader.text, first + 'HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal(c.up.sockets.length, 1);
  },
);

test('a response read until close is relayed with connection: close, then both sides close', T, async (t) => {
  const c = await chain(t, async (s) => {
    s.write('HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nabc');
    await c.reader.untilText('HTTP/1.1 200 OK\r\nx-a: 1\r\nconnection: close\r\n\r\nabc');
    s.end('def');
  });
  c.client.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.until(() => c.reader.ended, 'end');
  assert.equal(c.reader.text, 'HTTP/1.1 200 OK\r\nx-a: 1\r\nconnection: close\r\n\r\nabcdef');
  assert.equal(c.p.exchanges[0]!.finished, true);
  assert.equal(c.fwd.used[0]!.dead, true);
  assert.equal(c.fwd.pool.size, 0);
});

test('HEAD, 204 and 304 responses end at their head; the connection is reused', T, async (t) => {
  const responses = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "x"\r\n\r\n',
    'HTTP/1.1 204 No Content\r\nX-B: 2\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  ];
  const c = await chain(t, (s, _h, i) => void s.write(responses[i]!));
  let expected = '';
  for (const [i, m] of ['HEAD', 'GET', 'GET', 'GET'].entries()) {
    c.client.write(`${m} /${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expected += responses[i];
    await c.reader.untilText(expected);
  }
  assert.equal(c.reader.text, expected);
  assert.equal(c.up.sockets.length, 1);
  assert.equal(new Set(c.fwd.used).size, 1);
  assert.equal(c.up.requests[0], 'HEAD /0 HTTP/1.1\r\nhost: upstream\r\n\r\n');
});

test('informational responses (103, 100) before the final one are not forwarded', T, async (t) => {
  const final = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const c = await chain(t, (s, _h, i) => {
    if (i === 0) {
      s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
      s.write(final);
    } else s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </b>\r\n\r\n' + final);
  });
  c.client.write('GET /hints HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.untilText(final);
  c.client.write('GET /hints2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.untilText(final + final);
  assert.equal(c.reader.text, final + final);
  assert.equal(c.up.sockets.length, 1);
});

test(
  'an upstream that closes mid-body: the downstream connection is destroyed, not completed',
  T,
  async (t) => {
    for (const [name, head, partial] of [
      ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'hel'],
      ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello\r\n3\r\nab'],
    ] as const) {
      await t.test(name, async (t2) => {
        const relayedHead =
          name === 'chunked' ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' : head;
        const c = await chain(t2, async (s) => {
          s.write(head + partial);
          await c.reader.untilText(relayedHead + partial);
          s.destroy();
        });
        c.client.write('GET /cut HTTP/1.1\r\nHost: a\r\n\r\n');
        await c.reader.untilClosed();
        assert.equal(c.reader.text, relayedHead + partial);
        const ex = c.p.exchanges[0]!;
        await c.fwd.closed.wait(0);
        assert.equal(ex.finished, false);
        assert.equal(ex.destroyed, true);
        assert.equal(c.fwd.pool.size, 0);
      });
    }
  },
);

test(
  'a client that disappears mid-response: close listeners fire, finished stays false, upstream dropped',
  T,
  async (t) => {
    const upstreamClosed: Promise<void>[] = [];
    const c = await chain(t, async (s) => {
      upstreamClosed.push(new Promise((resolve) => s.once('close', () => resolve())));
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part');
      await c.reader.untilText('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part');
      c.client.destroy();
    });
    c.client.write('GET /gone HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.fwd.closed.wait(0);
    const ex = c.p.exchanges[0]!;
    assert.equal(ex.finished, false);
    assert.equal(ex.destroyed, true);
    assert.equal(ex.headersSent, true);
    assert.equal(ex.statusCode, 200);
    // The forwarding code discards the upstream connection on that 'close'.
    await upstreamClosed[0];
    assert.equal(c.fwd.used[0]!.dead, true);
    assert.equal(c.fwd.pool.size, 0);
  },
);

test('a connection the upstream closed while idle is not reused', T, async (t) => {
  for (const response of [
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx',
    // Bodiless: the connection is never resumed for a body, and must still see the close.
    'HTTP/1.1 204 No Content\r\n\r\n',
  ])
    await t.test(response.slice(9, 12), (t2) => idleClose(t2, response));
});

async function idleClose(t: TestContext, response: string): Promise<void> {
  const c = await chain(t, (s) => void s.write(response));
  c.client.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.untilText(response);
  await c.fwd.closed.wait(0);
  const first = c.fwd.used[0]!;
  assert.equal(c.fwd.pool.size, 1);
  const gone = once(first.stream, 'close');
  c.up.sockets[0]!.end();
  await gone;
  assert.equal(first.dead, true);
  assert.equal(c.fwd.pool.size, 0);
  c.client.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.untilText(response + response);
  assert.equal(c.reader.text, response + response);
  assert.notEqual(c.fwd.used[1], first);
  assert.equal(c.up.sockets.length, 2);
  assert.deepEqual(c.fwd.failures, []);
}

test('Connection: close from the upstream: head rebuilt without it, connection not reused', T, async (t) => {
  const c = await chain(
    t,
    (s) =>
      void s.write(
        'HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: x\r\nContent-Length: 2\r\nX-Z: z\r\n\r\nok',
      ),
  );
  const once1 = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-z: z\r\n\r\nok';
  c.client.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.untilText(once1);
  c.client.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.untilText(once1 + once1);
  assert.equal(c.reader.text, once1 + once1);
  assert.equal(c.up.sockets.length, 2);
  assert.notEqual(c.fwd.used[0], c.fwd.used[1]);
  assert.equal(c.fwd.used[0]!.dead, true);
});

test(
  'forwardResponse: HTTP/1.0 keep-alive upstream, names listed in Connection, extra headers',
  T,
  async (t) => {
    const c = await chain(
      t,
      (s) =>
        void s.write(
          'HTTP/1.0 201 Created\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nSet-Cookie: a=1\r\n' +
            'Set-Cookie: b=2\r\nContent-Length: 3\r\n\r\nnew',
        ),
      (req) => (req.head.url === '/extra' ? { 'x-ratelimit-remaining': '9' } : undefined),
    );
    const expected = (extra: string) =>
      `HTTP/1.1 201 Created\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 3\r\n${extra}\r\nnew`;
    c.client.write('GET /plain HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.reader.untilText(expected(''));
    c.client.write('GET /extra HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.reader.untilText(expected('') + expected('x-ratelimit-remaining: 9\r\n'));
    assert.equal(c.reader.text, expected('') + expected('x-ratelimit-remaining: 9\r\n'));
    assert.equal(c.up.sockets.length, 1);
  },
);

test('a clean response with extra headers is rebuilt; without, relayed as received', T, async (t) => {
  const raw = 'HTTP/1.1 200 Fine\r\nCache-Control: no-store\r\nContent-Length: 1\r\n\r\n!';
  const c = await chain(
    t,
    (s) => void s.write(raw),
    (req) => (req.head.url === '/x' ? { 'x-e': '1' } : undefined),
  );
  c.client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n');
  const expected =
    raw + 'HTTP/1.1 200 Fine\r\ncache-control: no-store\r\ncontent-length: 1\r\nx-e: 1\r\n\r\n!';
  await c.reader.untilText(expected);
  assert.equal(c.reader.text, expected);
});

test('bytes after a complete response: relayed without them, the connection is not reused', T, async (t) => {
  const c = await chain(t, (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA'));
  c.client.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.fwd.closed.wait(0);
  await c.reader.untilText('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  c.client.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  const one = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  await c.reader.untilText(one + one);
  assert.equal(c.reader.text, one + one);
  assert.equal(c.up.sockets.length, 2);
});

test('a body sent anyway after a bodiless response is dropped with the connection', T, async (t) => {
  const c = await chain(
    t,
    (s, _h, i) =>
      void s.write(
        i === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' : 'HTTP/1.1 204 No Content\r\n\r\nxyz',
      ),
  );
  c.client.write('HEAD /1 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.fwd.closed.wait(0);
  c.client.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.fwd.closed.wait(1);
  c.client.write('GET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.fwd.closed.wait(2);
  const expected =
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n' +
    'HTTP/1.1 204 No Content\r\n\r\n' +
    'HTTP/1.1 204 No Content\r\n\r\n';
  await c.reader.untilText(expected);
  assert.equal(c.reader.text, expected);
  assert.equal(c.up.sockets.length, 3);
  assert.equal(new Set(c.fwd.used).size, 3);
});

test('a large body is relayed whole through backpressure on both sides', T, async (t) => {
  const size = 32 * 1024 * 1024;
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) body.writeUInt32LE(i, i);
  const head = `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`;
  let drained = 0;
  let upstreamPaused: boolean | undefined;
  const c = await chain(t, (s) => {
    const downstream = c.p.sockets[0]!;
    downstream.on('drain', () => drained++);
    // After each relayed upstream chunk (this listener runs after the connection's own): once the
    // downstream socket is full, let the client read.
    const upSide = c.fwd.used[0]!.stream;
    const onData = () => {
      if (downstream.writableNeedDrain) {
        // The connection stopped reading the upstream until the downstream drains.
        upstreamPaused = upSide.isPaused();
        upSide.off('data', onData);
        c.client.resume();
      }
    };
    upSide.on('data', onData);
    s.write(head);
    s.write(body);
  });
  c.client.pause();
  c.client.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.reader.until(() => c.reader.length >= head.length + size, 'the whole body');
  assert.equal(c.reader.data.length, head.length + size);
  assert.equal(c.reader.data.subarray(0, head.length).toString('latin1'), head);
  assert.ok(c.reader.data.subarray(head.length).equals(body));
  await c.fwd.closed.wait(0);
  assert.equal(c.p.exchanges[0]!.finished, true);
  assert.ok(drained > 0, 'the downstream socket was never full');
  assert.equal(upstreamPaused, true);
  assert.equal(c.fwd.pool.size, 1);
});

// ---- UpstreamConnection.send failures and UpstreamPool ---------------------------------------

test(
  'send: an upstream that closes before answering, an invalid response, a 101, a refused connection',
  T,
  async (t) => {
    const scope = new Scope(t);
    const up = await upstream(scope, (s, _h, i) => {
      if (i === 0) s.end();
      else if (i === 1) s.write('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n');
      else s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n');
    });
    const pool = scope.pool();
    const open = () => scope.track(net.connect({ port: up.port, host: '127.0.0.1' }));
    const fail = async (conn: UpstreamConnection) => {
      const err = await conn.send('GET / HTTP/1.1\r\nhost: u\r\n\r\n', false).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof UpstreamError);
      return { code: err.code, message: err.message, dead: conn.dead };
    };
    assert.deepEqual(await fail(pool.acquire('k', open)), {
      code: 'ECONNRESET',
      message: 'upstream closed the connection before responding',
      dead: true,
    });
    assert.deepEqual(await fail(pool.acquire('k', open)), {
      code: 'HPE_INVALID',
      message: 'invalid response from upstream: header name is not a token',
      dead: true,
    });
    assert.deepEqual(await fail(pool.acquire('k', open)), {
      code: 'HPE_INVALID',
      message: 'unexpected 101 from upstream',
      dead: true,
    });
    assert.equal(pool.size, 0);
    // A port nobody listens on.
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const refused = await fail(
      pool.acquire('k', () => scope.track(net.connect({ port: closedPort, host: '127.0.0.1' }))),
    );
    assert.equal(refused.code, 'ECONNREFUSED');
    assert.equal(pool.size, 0);
  },
);

test('send + relay directly: the response head, the raw bytes, then release to the pool', T, async (t) => {
  const scope = new Scope(t);
  const raw = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-R: 1\r\n\r\n';
  const up = await upstream(scope, (s) => void s.write(raw + 'data'));
  const pool = scope.pool();
  const open = () => scope.track(net.connect({ port: up.port, host: '127.0.0.1' }));
  const conn = pool.acquire('k', open);
  const r = await conn.send(Buffer.from('GET / HTTP/1.1\r\nhost: u\r\n\r\n'), false);
  assert.equal(r.raw.toString('latin1'), raw);
  assert.deepEqual(
    { ...r.head, headers: { ...r.head.headers } },
    {
      status: 200,
      headers: { 'content-length': '4', 'x-r': '1' },
      framing: 1,
      length: 4,
      close: false,
      headBytes: raw.length,
      clean: true,
    },
  );
  assert.equal(pool.size, 1);
  // Held: not idle, so not handed out again.
  const other = pool.acquire('k', open);
  assert.notEqual(other, conn);
  other.discard();
  // Relayed into an exchange of a real downstream connection.
  const p = await proxy(scope, (_req, ex) => {
    forwardResponse(conn, r, ex);
    return true;
  });
  const client = await scope.connect(p.port);
  const reader = new Reader(client);
  client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  await reader.untilText(raw + 'data');
  assert.equal(reader.text, raw + 'data');
  await new Promise<void>((resolve) => p.exchanges[0]!.once('close', resolve));
  assert.equal(pool.acquire('k', open), conn);
  assert.equal(pool.size, 1);
});

/**
 * Send one request straight through a pool to an upstream answering `response`, and give the held
 * response to a downstream exchange with forwardResponse once `beforeRelay` has run.
 */
async function heldThenRelayed(
  t: TestContext,
  response: string,
  beforeRelay: (conn: UpstreamConnection) => Promise<void> | void,
) {
  const scope = new Scope(t);
  const up = await upstream(scope, (s) => void s.write(response));
  const pool = scope.pool();
  const conn = pool.acquire('k', () => scope.track(net.connect({ port: up.port, host: '127.0.0.1' })));
  const r = await conn.send('GET / HTTP/1.1\r\nhost: u\r\n\r\n', false);
  await beforeRelay(conn);
  const p = await proxy(scope, (_req, ex) => {
    forwardResponse(conn, r, ex);
    return true;
  });
  const client = await scope.connect(p.port);
  const reader = new Reader(client);
  client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  return { up, pool, conn, p, reader, r };
}

test('bytes that arrive while a response is held are relayed after it', T, async (t) => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
  const h = await heldThenRelayed(t, head + 'hel', (conn) => {
    // As a stream that does not stop at pause() would deliver it.
    conn.stream.emit('data', Buffer.from('lo'));
  });
  await h.reader.untilText(head + 'hello');
  assert.equal(h.reader.text, head + 'hello');
  await h.p.accepted.wait(0);
  await new Promise<void>((resolve) => h.p.exchanges[0]!.once('close', resolve));
  assert.equal(h.p.exchanges[0]!.finished, true);
  assert.equal(h.conn.dead, false);
  assert.equal(h.pool.size, 1);
});

test(
  'an upstream gone while its response is held: what arrived is relayed, then the end decides',
  T,
  async (t) => {
    const cases: [string, string, string, boolean][] = [
      // Read until close: the close is its end; the exchange completes and the connection closes.
      [
        'until close',
        'HTTP/1.1 200 OK\r\n\r\npartial',
        'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\npartial',
        true,
      ],
      // Content-Length short of its length: cut, the downstream is destroyed.
      [
        'short',
        'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart',
        'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart',
        false,
      ],
      // The whole body was already here: a complete exchange.
      [
        'whole',
        'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwhole',
        'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwhol',
        true,
      ],
    ];
    for (const [name, response, relayed, completes] of cases)
      await t.test(name, async (t2) => {
        const h = await heldThenRelayed(t2, response, async (conn) => {
          const closed = once(conn.stream, 'close');
          conn.stream.destroy();
          await closed;
          assert.equal(conn.dead, true);
        });
        await h.p.accepted.wait(0);
        const ex = h.p.exchanges[0]!;
        await new Promise<void>((resolve) => ex.once('close', resolve));
        assert.equal(ex.finished, completes);
        assert.equal(ex.destroyed, !completes);
        await h.reader.untilText(relayed);
        assert.equal(h.reader.text, relayed);
        assert.equal(h.pool.size, 0);
      });
  },
);

test('UpstreamPool: keys are separate, close() destroys every connection, idle or busy', T, async (t) => {
  const scope = new Scope(t);
  const closed: Promise<void>[] = [];
  const up = await upstream(scope, (s) => void s.write('HTTP/1.1 204 No Content\r\n\r\n'));
  const pool = scope.pool();
  const open = () => scope.track(net.connect({ port: up.port, host: '127.0.0.1' }));
  const a = pool.acquire('a', open);
  const b = pool.acquire('b', open);
  const busy = pool.acquire('a', open);
  assert.notEqual(a, busy);
  assert.equal(pool.size, 3);
  // Two hold a response (not relayed yet), one never sent anything.
  for (const conn of [a, b]) {
    const r = await conn.send('GET / HTTP/1.1\r\nhost: u\r\n\r\n', false);
    assert.equal(r.head.status, 204);
  }
  await when(up.events, 'connection', () => up.sockets.length === 3);
  for (const conn of [a, b, busy]) closed.push(once(conn.stream, 'close'));
  for (const s of up.sockets) closed.push(once(s, 'close'));
  pool.close();
  // Both ends of all three connections close.
  await Promise.all(closed);
  assert.equal(pool.size, 0);
  assert.ok([a, b, busy].every((c) => c.dead));
  // A new acquire after close opens a fresh connection.
  const fresh = pool.acquire('a', open);
  assert.ok(![a, b, busy].includes(fresh));
  fresh.discard();
  assert.equal(pool.size, 0);
});

test('a rebuilt response head carries fields named like Object.prototype members unchanged', T, async (t) => {
  const c = await chain(
    t,
    (s) =>
      void s.write(
        'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConstructor: x\r\nContent-Length: 0\r\n\r\n',
      ),
  );
  c.client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  const expected = 'HTTP/1.1 200 OK\r\nconstructor: x\r\ncontent-length: 0\r\n\r\n';
  await c.reader.until(() => c.reader.text.endsWith('\r\n\r\n'), 'a head');
  assert.equal(c.reader.text, expected);
});

// ---- the turn budget ----------------------------------------------------------------------------

/** An in-memory stream: what is pushed arrives as 'data' at once; what is written is kept. */
function memoryStream(): { stream: Duplex; written: () => string } {
  const out: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  return { stream, written: () => Buffer.concat(out).toString('latin1') };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test(
  'with a turn budget, requests read in one turn beyond it start in later turns, in order',
  T,
  async () => {
    const budget = new TurnBudget(2);
    const started: string[] = [];
    const conns = [0, 1, 2, 3, 4].map(() => {
      const m = memoryStream();
      new DownstreamConnection(
        m.stream,
        (req, ex) => {
          started.push(req.head.url);
          ex.reply(200, {}, req.head.url);
          return true;
        },
        (_s, reason) => assert.fail(`unexpected hand-off: ${reason}`),
        budget,
      );
      return m;
    });
    await nextTurn(); // the streams are flowing now: a push is read at once
    conns.forEach((c, i) => c.stream.push(`GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`));
    assert.deepEqual(started, ['/0', '/1'], 'two start in the turn that read them');
    assert.equal(budget.waiting, 3);
    await nextTurn();
    assert.deepEqual(started, ['/0', '/1', '/2', '/3']);
    await nextTurn();
    assert.deepEqual(started, ['/0', '/1', '/2', '/3', '/4']);
    conns.forEach((c, i) =>
      assert.match(c.written(), new RegExp(`^HTTP/1\\.1 200 OK\r\n[^]*\r\n\r\n/${i}$`)),
    );
  },
);

test(
  'a connection waiting for the next turn keeps reading; its pipelined requests follow in order',
  T,
  async () => {
    const budget = new TurnBudget(1);
    const started: string[] = [];
    const mk = () => {
      const m = memoryStream();
      new DownstreamConnection(
        m.stream,
        (req, ex) => {
          started.push(req.head.url);
          ex.reply(204, {}, '');
          return true;
        },
        (_s, reason) => assert.fail(`unexpected hand-off: ${reason}`),
        budget,
      );
      return m;
    };
    const a = mk();
    const b = mk();
    await nextTurn();
    a.stream.push('GET /a1 HTTP/1.1\r\nHost: a\r\n\r\n');
    b.stream.push('GET /b1 HTTP/1.1\r\nHost: a\r\n\r\n');
    b.stream.push('GET /b2 HTTP/1.1\r\nHost: a\r\n\r\nGET /b3 HTTP/1.1\r\n');
    b.stream.push('Host: a\r\n\r\n');
    assert.deepEqual(started, ['/a1']);
    assert.equal(budget.waiting, 1, 'one wait for b, however many chunks it read');
    await nextTurn();
    // b's turn: b1 is answered at once (a local reply), so b2 and b3 follow in the same dispatch.
    assert.deepEqual(started, ['/a1', '/b1', '/b2', '/b3']);
    assert.equal((b.written().match(/HTTP\/1\.1 204/g) ?? []).length, 3);
  },
);

test(
  'with a turn budget, response heads read in one turn beyond it are delivered in later turns',
  T,
  async (t) => {
    const budget = new TurnBudget(1);
    const pool = new UpstreamPool({ turnBudget: budget });
    t.after(() => pool.close());
    const streams: Duplex[] = [];
    const conns = [0, 1, 2].map(() =>
      pool.acquire('k', () => {
        const m = memoryStream();
        streams.push(m.stream);
        return m.stream;
      }),
    );
    const got: number[] = [];
    const done = conns.map((c, i) =>
      c.send('GET / HTTP/1.1\r\nHost: a\r\n\r\n', false).then((r) => {
        got.push(i);
        return r.head.status;
      }),
    );
    await nextTurn();
    for (const s of streams) s.push('HTTP/1.1 204 No Content\r\n\r\n');
    await Promise.resolve();
    assert.deepEqual(got, [0]);
    await nextTurn();
    assert.deepEqual(got, [0, 1]);
    await nextTurn();
    assert.deepEqual(got, [0, 1, 2]);
    assert.deepEqual(await Promise.all(done), [204, 204, 204]);
  },
);
