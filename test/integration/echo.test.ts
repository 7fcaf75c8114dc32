/**
 * `weft echo` over real loopback sockets: HTTP/1.1, h2c, gRPC (with the grpc-js client), WebSocket
 * (with Node's global WebSocket client), the knobs, and the pure helpers (XFCC, RFC 6455 framing).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  startEchoServer,
  parseXfcc,
  webSocketAccept,
  WsFrameReader,
  encodeWsFrame,
  seededRandom,
  echoOptionsFrom,
  ECHO_PROTO_URL,
} from '../../src/cli/echo.ts';
import { GrpcFrameReader, grpcFrame } from '../../src/lib/index.ts';
import type { EchoAnswer, EchoServer } from '../../src/cli/echo.ts';

const identity = {
  workload: 'ratings',
  namespace: 'shop',
  serviceAccount: 'ratings-sa',
  node: 'node-1',
  instance: 'ratings-0',
};
const logs: string[] = [];
const server: EchoServer = await startEchoServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  identity,
  log: (l) => logs.push(l),
});
const { port } = server.addresses[0]!;
after(() => server.close());

function h1(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; json: EchoAnswer }>(
    (resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false },
        (res) => {
          let s = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (s += d));
          res.on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(s) as EchoAnswer }),
          );
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    },
  );
}

void test('HTTP/1.1: describes the request and the verified caller', async () => {
  const r = await h1('/hello/world?a=1&a=2&b=x', {
    method: 'POST',
    headers: {
      'x-forwarded-client-cert':
        'By=spiffe://cluster.local/ns/shop/sa/ratings-sa;Hash=abc;URI=spiffe://cluster.local/ns/shop/sa/reviews',
      'x-custom': 'yes',
    },
    body: 'payload',
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-echo-instance'], 'ratings-0');
  assert.equal(r.json.protocol, 'HTTP/1.1');
  assert.equal(r.json.workload, 'ratings');
  assert.equal(r.json.namespace, 'shop');
  assert.equal(r.json.serviceAccount, 'ratings-sa');
  assert.equal(r.json.node, 'node-1');
  assert.equal(r.json.instance, 'ratings-0');
  assert.equal(r.json.method, 'POST');
  assert.equal(r.json.path, '/hello/world');
  assert.deepEqual(r.json.query, { a: ['1', '2'], b: 'x' });
  assert.equal(r.json.host, `127.0.0.1:${port}`);
  assert.equal(r.json.headers['x-custom'], 'yes');
  assert.equal(r.json.caller, 'spiffe://cluster.local/ns/shop/sa/reviews');
  assert.equal(r.json.callerBy, 'spiffe://cluster.local/ns/shop/sa/ratings-sa');
  assert.equal(r.json.body, 'payload');
  const line = logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.path === '/hello/world');
  assert.ok(line, 'one JSON log line per request');
  assert.equal(line.status, 200);
  assert.equal(line.caller, 'spiffe://cluster.local/ns/shop/sa/reviews');
});

void test('HTTP/1.1: no caller without x-forwarded-client-cert', async () => {
  const r = await h1('/');
  assert.equal(r.json.caller, null);
});

void test('knobs: status, header and delay by query and header', async () => {
  const a = await h1('/x?status=503&header=x-a:1&header=x-b:%20two');
  assert.equal(a.status, 503);
  assert.equal(a.headers['x-a'], '1');
  assert.equal(a.headers['x-b'], 'two');
  const b = await h1('/x', { headers: { 'x-echo-status': '418', 'x-echo-header': 'x-c: 3' } });
  assert.equal(b.status, 418);
  assert.equal(b.headers['x-c'], '3');
  const t0 = performance.now();
  await h1('/x?delay=120');
  assert.ok(performance.now() - t0 >= 115, 'delay is applied');
  const bad = await h1('/x?status=99999');
  assert.equal(bad.status, 200, 'out-of-range knob is ignored');
});

void test('keep-alive: many requests on one HTTP/1.1 connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/k${i}`, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          })
          .on('error', reject);
      });
      assert.equal(status, 200);
    }
  } finally {
    agent.destroy();
  }
});

void test('HTTP/2 prior knowledge (h2c) on the same port', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < 3; i++) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = client.request({ ':path': `/h2/${i}?status=201`, ':method': 'PUT' });
        let status = 0;
        let body = '';
        s.on('response', (h) => (status = Number(h[':status'])));
        s.setEncoding('utf8');
        s.on('data', (d: string) => (body += d));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
        s.end('h2 body');
      });
      assert.equal(status, 201);
      const j = JSON.parse(body) as EchoAnswer;
      assert.equal(j.protocol, 'HTTP/2');
      assert.equal(j.method, 'PUT');
      assert.equal(j.path, `/h2/${i}`);
      assert.equal(j.host, `127.0.0.1:${port}`);
      assert.equal(j.body, 'h2 body');
    }
  } finally {
    client.close();
  }
});

void test('/healthz answers 200 even when the instance is set to fail', async () => {
  const failing = await startEchoServer({ listen: [{ host: '127.0.0.1', port: 0 }], identity, status: 503 });
  try {
    const p = failing.addresses[0]!.port;
    const health = await fetch(`http://127.0.0.1:${p}/healthz`);
    assert.equal(health.status, 200);
    const other = await fetch(`http://127.0.0.1:${p}/x`);
    assert.equal(other.status, 503);
    await other.arrayBuffer();
  } finally {
    await failing.close();
  }
});

void test('failure ratio with a seeded random', async () => {
  const s = await startEchoServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    identity,
    failRatio: 0.3,
    random: seededRandom(7),
  });
  try {
    const p = s.addresses[0]!.port;
    let failures = 0;
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`http://127.0.0.1:${p}/r`);
      await r.arrayBuffer();
      if (r.status === 503) failures++;
    }
    assert.ok(failures > 35 && failures < 85, `~30% failures, got ${failures}/200`);
  } finally {
    await s.close();
  }
});

// --- gRPC ------------------------------------------------------------------------------------

const def = protoLoader.loadSync(fileURLToPath(ECHO_PROTO_URL), { keepCase: false, defaults: true });
const pkg = grpc.loadPackageDefinition(def) as any;
const grpcClient = new pkg.weft.echo.v1.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
after(() => grpcClient.close());

void test('gRPC unary Echo', async () => {
  const md = new grpc.Metadata();
  md.set(
    'x-forwarded-client-cert',
    'By=spiffe://cluster.local/ns/shop/sa/ratings-sa;URI=spiffe://cluster.local/ns/shop/sa/x',
  );
  const res = await new Promise<any>((resolve, reject) =>
    grpcClient.Echo({ message: 'hi' }, md, (err: Error | null, r: any) => (err ? reject(err) : resolve(r))),
  );
  assert.equal(res.message, 'hi');
  assert.equal(res.protocol, 'gRPC');
  assert.equal(res.instance, 'ratings-0');
  assert.equal(res.serviceAccount, 'ratings-sa');
  assert.equal(res.caller, 'spiffe://cluster.local/ns/shop/sa/x');
  assert.equal(res.path, '/weft.echo.v1.Echo/Echo');
});

void test('gRPC server streaming EchoStream sends N messages', async () => {
  const got: any[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = grpcClient.EchoStream({ message: 'm', count: 5 });
    call.on('data', (d: any) => got.push(d));
    call.on('end', resolve);
    call.on('error', reject);
  });
  assert.deepEqual(
    got.map((g) => g.index),
    [0, 1, 2, 3, 4],
  );
});

void test('gRPC bidi Chat answers each message in order', async () => {
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = grpcClient.Chat();
    call.on('data', (d: any) => {
      got.push(d.message);
      if (got.length === 3) call.end();
    });
    call.on('end', resolve);
    call.on('error', reject);
    for (const m of ['a', 'b', 'c']) call.write({ message: m });
  });
  assert.deepEqual(got, ['a', 'b', 'c']);
});

void test('gRPC status knob and unknown method', async () => {
  const md = new grpc.Metadata();
  md.set('x-echo-grpc-status', '7');
  const err = await new Promise<any>((resolve) =>
    grpcClient.Echo({ message: 'x' }, md, (e: any) => resolve(e)),
  );
  assert.equal(err?.code, grpc.status.PERMISSION_DENIED);
  const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const e2 = await new Promise<any>((resolve) =>
      raw.makeUnaryRequest(
        '/weft.echo.v1.Echo/Nope',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (e) => resolve(e),
      ),
    );
    assert.equal(e2?.code, grpc.status.UNIMPLEMENTED);
  } finally {
    raw.close();
  }
});

// --- WebSocket -------------------------------------------------------------------------------

void test('WebSocket: echoes text and binary frames; hello=1 sends the description first', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?hello=1`);
  ws.binaryType = 'arraybuffer';
  const got: (string | ArrayBuffer)[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.onerror = () => reject(new Error('websocket error'));
    ws.onopen = () => {
      ws.send('ping-text');
      ws.send(new Uint8Array([1, 2, 3, 250]));
      ws.send('x'.repeat(70_000));
    };
    ws.onmessage = (ev) => {
      got.push(ev.data as string | ArrayBuffer);
      if (got.length === 4) ws.close(1000, 'done');
    };
    ws.onclose = () => resolve();
  });
  const hello = JSON.parse(got[0] as string) as EchoAnswer;
  assert.equal(hello.protocol, 'WebSocket');
  assert.equal(hello.path, '/ws');
  assert.equal(got[1], 'ping-text');
  assert.deepEqual([...new Uint8Array(got[2] as ArrayBuffer)], [1, 2, 3, 250]);
  assert.equal(got[3], 'x'.repeat(70_000));
});

// --- pure helpers ----------------------------------------------------------------------------

void test('parseXfcc: last element, quoted values', () => {
  assert.deepEqual(parseXfcc(undefined), { uri: null, by: null });
  assert.deepEqual(parseXfcc('By=spiffe://a;URI=spiffe://b'), { uri: 'spiffe://b', by: 'spiffe://a' });
  assert.deepEqual(parseXfcc('By=x;URI=spiffe://old,By=spiffe://a;Subject="CN=x,O=y";URI=spiffe://c'), {
    uri: 'spiffe://c',
    by: 'spiffe://a',
  });
});

void test('RFC 6455 §1.3 accept key example', () => {
  assert.equal(webSocketAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

void test('WsFrameReader: masked frames split across chunks (RFC 6455 §5.7 examples)', () => {
  const r = new WsFrameReader();
  // §5.7: a single-frame masked text message containing "Hello"
  const masked = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  assert.deepEqual(r.push(masked.subarray(0, 3)), []);
  const [f] = r.push(masked.subarray(3));
  assert.equal(f!.payload.toString(), 'Hello');
  assert.equal(f!.masked, true);
  // §5.7: unmasked "Hello" is what the server sends
  assert.deepEqual(
    encodeWsFrame(1, Buffer.from('Hello')),
    Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
  );
  const big = encodeWsFrame(2, Buffer.alloc(256));
  assert.deepEqual([...big.subarray(0, 4)], [0x82, 0x7e, 0x01, 0x00]);
  assert.throws(() => new WsFrameReader().push(Buffer.from([0xc1, 0x80, 0, 0, 0, 0])), /reserved bits/);
});

void test('GrpcFrameReader: messages across chunks', () => {
  const r = new GrpcFrameReader();
  const both = Buffer.concat([grpcFrame(Buffer.from('abc')), grpcFrame(Buffer.from('de'))]);
  assert.deepEqual(r.push(both.subarray(0, 6)), []);
  assert.deepEqual(
    r.push(both.subarray(6)).map((b) => b.toString()),
    ['abc', 'de'],
  );
  assert.throws(() => new GrpcFrameReader().push(Buffer.from([1, 0, 0, 0, 0])), /compressed/);
});

void test('echoOptionsFrom: defaults from the weft up environment, flags win', () => {
  const o = echoOptionsFrom([], {
    WEFT_LISTEN_ADDR: '127.1.2.3',
    WEFT_PORTS: '9080,9090',
    WEFT_WORKLOAD: 'details',
    WEFT_NAMESPACE: 'shop',
    WEFT_SERVICE_ACCOUNT: 'details',
    WEFT_NODE: 'node-2',
    WEFT_INSTANCE: 'details-1',
  });
  assert.deepEqual(o.listen, [
    { host: '127.1.2.3', port: 9080 },
    { host: '127.1.2.3', port: 9090 },
  ]);
  assert.deepEqual(o.identity, {
    workload: 'details',
    namespace: 'shop',
    serviceAccount: 'details',
    node: 'node-2',
    instance: 'details-1',
  });
  const f = echoOptionsFrom(
    ['--listen', '127.0.0.5:81', '--status', '503', '--fail-ratio', '0.5', '--delay', '10'],
    {},
  );
  assert.deepEqual(f.listen, [{ host: '127.0.0.5', port: 81 }]);
  assert.equal(f.status, 503);
  assert.equal(f.failRatio, 0.5);
  assert.equal(f.delayMs, 10);
  assert.throws(
    () => echoOptionsFrom(['--fail-ratio', '2'], {}),
    /--fail-ratio must be a number in \[0, 1\]/,
  );
  assert.throws(
    () => echoOptionsFrom(['--bogus'], {}),
    (e: any) => e.code === 'WEFT_ECHO_FLAGS',
  );
});
