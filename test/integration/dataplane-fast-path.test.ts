/**
 * The HTTP/1.1 fast path through a real mesh (docs/architecture.md, "The HTTP/1.1 fast path"): plain
 * requests are carried by the proxies' own codec on keep-alive connections, pipelined requests are
 * answered in order, every response framing crosses both proxies byte-exact (Content-Length, chunked
 * with trailers, until-close, HEAD, 204), and a request outside the fast path's subset hands the
 * connection to the full HTTP server mid-stream — the requests after it on the same connection are
 * still answered — counted in `weft_proxy_http1_full_path_total`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startMesh } from '../harness/mesh.ts';
import type { Mesh } from '../harness/mesh.ts';
import { allowFrom, service, workload } from '../harness/resources.ts';
import { startEcho } from '../harness/workloads.ts';

const TD = 'dp-fast-path.test';
let mesh: Mesh;
const closers: (() => Promise<void>)[] = [];

/**
 * An upstream with exact control of the bytes: each request (keep-alive) is answered by path —
 * `/chunked` in three chunks with a trailer, `/close` delimited by closing the connection, `/empty`
 * 204, anything else a Content-Length body (also for HEAD, with no body bytes).
 */
function rawUpstream(host: string, port: number): Promise<{ close(): Promise<void> }> {
  // The destination proxy keeps idle connections open: close() ends them too.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 4);
        const [method, path] = head.split(' ');
        if (path === '/chunked') {
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n');
          socket.write('trailer: x-sum\r\n\r\n5\r\nhello\r\n');
          setTimeout(() => socket.write('1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nx-sum: 12\r\n\r\n'), 20);
        } else if (path === '/close') {
          socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil close');
          return;
        } else if (path === '/empty') {
          socket.write('HTTP/1.1 204 No Content\r\nx-empty: 1\r\n\r\n');
        } else {
          const body = `raw ${method} ${path}`;
          socket.write(
            `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n` +
              (method === 'HEAD' ? '' : body),
          );
        }
      }
    });
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return new Promise((resolve) => server.listen(port, host, () => resolve({ close })));
}

before(async () => {
  mesh = await startMesh({
    trustDomain: TD,
    subnet: 38,
    resources: [
      workload('client', 'node-0'),
      workload('echo', 'node-1'),
      workload('raw', 'node-1'),
      service('echo', [{ port: 8080 }]),
      service('raw', [{ port: 8080 }]),
      allowFrom(TD, ['client']),
    ],
  });
  const echo = await startEcho(mesh.instance('echo'), 8080);
  closers.push(() => echo.close());
  const raw = await rawUpstream(mesh.instance('raw').address, 8080);
  closers.push(() => raw.close());
});

after(async () => {
  for (const c of closers) await c();
  await mesh?.stop();
});

/** Requests one after another on one keep-alive connection. */
function oneConnection(): {
  request(
    path: string,
    init?: { method?: string; body?: string; chunked?: boolean },
  ): Promise<{
    status: number;
    headers: http.IncomingHttpHeaders;
    trailers: NodeJS.Dict<string>;
    body: string;
    socket: net.Socket;
  }>;
  close(): void;
} {
  const target = mesh.capture('client-0', 'echo', 8080);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    request: (path, init = {}) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          { host: target.host, port: target.port, path, method: init.method ?? 'GET', agent },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                trailers: res.trailers,
                body,
                socket: res.socket as net.Socket,
              }),
            );
          },
        );
        req.on('error', reject);
        if (init.chunked) {
          req.write(init.body ?? '');
          req.end();
        } else req.end(init.body);
      }),
    close: () => agent.destroy(),
  };
}

async function counter(node: number, name: string, labels: string[]): Promise<number> {
  const text = await (await fetch(`${mesh.proxies[node]!.admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('a request outside the fast path hands the connection over mid-stream; the next requests on it are answered', async () => {
  const before0 = await counter(0, 'weft_proxy_http1_full_path_total', [
    'direction="outbound"',
    'reason="transfer_encoding"',
  ]);
  const conn = oneConnection();
  try {
    const a = await conn.request('/first');
    assert.equal(a.status, 200, a.body);
    assert.equal((JSON.parse(a.body) as { path: string }).path, '/first');
    const b = await conn.request('/upload', { method: 'POST', body: 'chunked body', chunked: true });
    assert.equal(b.status, 200, b.body);
    assert.equal(b.socket, a.socket, 'the same client connection');
    const echoed = JSON.parse(b.body) as { path: string; method: string; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.body, 'chunked body');
    const c = await conn.request('/third');
    assert.equal(c.status, 200, c.body);
    assert.equal(c.socket, a.socket);
    assert.equal((JSON.parse(c.body) as { path: string }).path, '/third');
  } finally {
    conn.close();
  }
  const after0 = await counter(0, 'weft_proxy_http1_full_path_total', [
    'direction="outbound"',
    'reason="transfer_encoding"',
  ]);
  assert.equal(after0 - before0, 1);
});

test('a Content-Length body is carried and the caller identity reaches the workload', async () => {
  const conn = oneConnection();
  try {
    for (let i = 0; i < 3; i++) {
      const r = await conn.request(`/body/${i}`, { method: 'PUT', body: `payload-${i}` });
      assert.equal(r.status, 200, r.body);
      const echoed = JSON.parse(r.body) as { body: string; caller: string; method: string };
      assert.equal(echoed.method, 'PUT');
      assert.equal(echoed.body, `payload-${i}`);
      assert.equal(echoed.caller, `spiffe://${TD}/ns/default/sa/client`);
    }
  } finally {
    conn.close();
  }
});

test('pipelined requests in one write are answered in order', async () => {
  const target = mesh.capture('client-0', 'echo', 8080);
  const socket = net.connect(target.port, target.host);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  const host = `echo:${target.port}`;
  socket.write(
    `GET /p1 HTTP/1.1\r\nhost: ${host}\r\n\r\nGET /p2 HTTP/1.1\r\nhost: ${host}\r\n\r\n` +
      `GET /p3 HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`,
  );
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const statuses = text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  assert.deepEqual(statuses, ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], text);
  const paths = [...text.matchAll(/"path":"(\/p\d)"/g)].map((m) => m[1]);
  assert.deepEqual(paths, ['/p1', '/p2', '/p3']);
});

test('chunked (with trailers), until-close, HEAD and 204 responses cross both proxies intact', async () => {
  const target = mesh.capture('client-0', 'raw', 8080);
  const get = (path: string, method = 'GET') =>
    new Promise<{
      status: number;
      headers: http.IncomingHttpHeaders;
      trailers: NodeJS.Dict<string>;
      body: string;
    }>((resolve, reject) => {
      const req = http.request(
        { host: target.host, port: target.port, path, method, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  const chunked = await get('/chunked');
  assert.equal(chunked.status, 200);
  assert.equal(chunked.headers['transfer-encoding'], 'chunked');
  assert.equal(chunked.body, 'hello world!');
  assert.equal(chunked.trailers['x-sum'], '12');
  const closed = await get('/close');
  assert.equal(closed.status, 200);
  assert.equal(closed.body, 'until close');
  const head = await get('/h', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String('raw HEAD /h'.length));
  assert.equal(head.body, '');
  const empty = await get('/empty');
  assert.equal(empty.status, 204);
  assert.equal(empty.headers['x-empty'], '1');
  const plain = await get('/plain');
  assert.equal(plain.body, 'raw GET /plain');
});

test('the destination proxy counts what it delivers on the fast path', async () => {
  const before1 = await counter(1, 'weft_proxy_inbound_requests_total', [
    'destination="default/raw"',
    'code="200"',
  ]);
  const target = mesh.capture('client-0', 'raw', 8080);
  const res = await fetch(`http://${target.host}:${target.port}/counted`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'raw GET /counted');
  const after1 = await counter(1, 'weft_proxy_inbound_requests_total', [
    'destination="default/raw"',
    'code="200"',
  ]);
  assert.equal(after1 - before1, 1);
});
