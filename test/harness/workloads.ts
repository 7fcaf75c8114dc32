/**
 * Workloads for mesh tests, run in the test process and bound to their instance addresses (the
 * mesh's proxies deliver to `instance.address:targetPort`): the built-in echo (HTTP/1.1, h2c,
 * WebSocket on one port, src/cli/echo.ts), a gRPC server and client made with @grpc/grpc-js on the
 * echo proto (so the mesh is checked against an independent gRPC implementation), and small
 * HTTP/1.1 and HTTP/2 request helpers that collect the whole answer.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { InstanceEntry } from '../../src/api/index.ts';
import { ECHO_PROTO_URL, startEchoServer } from '../../src/cli/echo.ts';
import type { EchoAnswer, EchoServer } from '../../src/cli/echo.ts';

export type { EchoAnswer } from '../../src/cli/echo.ts';

export interface EchoWorkload extends EchoServer {
  /** Every request served, in order (parsed log lines: path, method, status, caller, ...). */
  served: { path: string; method: string; status: number; caller: string | null; protocol: string }[];
}

/** The echo server on `instance.address:port` (HTTP/1.1, h2c prior knowledge, WebSocket). */
export async function startEcho(
  instance: InstanceEntry,
  port: number,
  extra: { delayMs?: number; status?: number } = {},
): Promise<EchoWorkload> {
  const served: EchoWorkload['served'] = [];
  const server = await startEchoServer({
    listen: [{ host: instance.address, port }],
    identity: {
      workload: instance.workload,
      namespace: instance.namespace,
      serviceAccount: instance.serviceAccount,
      node: instance.node,
      instance: instance.name,
    },
    delayMs: extra.delayMs,
    status: extra.status,
    log: (line) => served.push(JSON.parse(line) as EchoWorkload['served'][number]),
  });
  return Object.assign(server, { served });
}

// ---- gRPC (@grpc/grpc-js) -------------------------------------------------------------------

interface EchoRequest {
  message: string;
}
interface EchoStreamRequest {
  message: string;
  count: number;
  intervalMs: number;
}
export interface GrpcEchoResponse {
  message: string;
  index: number;
  workload: string;
  instance: string;
  caller: string;
  protocol: string;
  path: string;
  metadata: Record<string, string>;
}

function echoService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(fileURLToPath(ECHO_PROTO_URL), {
    keepCase: false,
    longs: Number,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    weft: { echo: { v1: { Echo: grpc.ServiceClientConstructor } } };
  };
  return pkg.weft.echo.v1.Echo;
}

function callerOf(md: grpc.Metadata): string {
  const xfcc = String(md.get('x-forwarded-client-cert')[0] ?? '');
  return /URI=([^;,]+)/.exec(xfcc)?.[1] ?? '';
}

/**
 * A grpc-js server for `weft.echo.v1.Echo` on `instance.address:port`. Unary `Echo` answers with
 * trailer `x-trailer-check: unary-<message>`; `EchoStream` sends `count` messages and ends with
 * trailer `x-trailer-check: stream-<count>`; a message `fail` ends with status NOT_FOUND and a
 * custom message, so tests can see error details survive the mesh.
 */
export async function startGrpcEcho(
  instance: InstanceEntry,
  port: number,
): Promise<{ close(): Promise<void> }> {
  const server = new grpc.Server();
  const base = (call: { metadata: grpc.Metadata; getPath(): string }, message: string, index: number) => ({
    message,
    index,
    workload: instance.workload,
    namespace: instance.namespace,
    serviceAccount: instance.serviceAccount,
    node: instance.node,
    instance: instance.name,
    caller: callerOf(call.metadata),
    protocol: 'gRPC',
    path: call.getPath(),
    metadata: Object.fromEntries(
      Object.entries(call.metadata.getMap()).map(([k, v]) => [
        k,
        Buffer.isBuffer(v) ? v.toString('base64') : v,
      ]),
    ),
  });
  server.addService(echoService().service, {
    Echo: (call: grpc.ServerUnaryCall<EchoRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      if (call.request.message === 'fail') {
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: fail' });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer-check', `unary-${call.request.message}`);
      cb(null, base(call, call.request.message, 0), trailer);
    },
    EchoStream: (call: grpc.ServerWritableStream<EchoStreamRequest, unknown>) => {
      const count = Math.min(call.request.count || 1, 1000);
      for (let i = 0; i < count; i++) call.write(base(call, call.request.message, i));
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer-check', `stream-${count}`);
      call.end(trailer);
    },
    Chat: (call: grpc.ServerDuplexStream<EchoRequest, unknown>) => {
      call.on('data', (m: EchoRequest) => call.write(base(call, m.message, 0)));
      call.on('end', () => call.end());
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${instance.address}:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

export interface GrpcEchoClient {
  unary(
    message: string,
    metadata?: Record<string, string>,
  ): Promise<{ response: GrpcEchoResponse; trailers: Record<string, unknown> }>;
  stream(
    message: string,
    count: number,
  ): Promise<{ responses: GrpcEchoResponse[]; trailers: Record<string, unknown> }>;
  close(): void;
}

/** A plaintext grpc-js client for the echo service at host:port (a capture listener). */
export function grpcEchoClient(host: string, port: number): GrpcEchoClient {
  const Ctor = echoService();
  const client = new Ctor(`${host}:${port}`, grpc.credentials.createInsecure()) as grpc.Client &
    Record<string, (...args: unknown[]) => unknown>;
  const deadline = () => new Date(Date.now() + 10_000);
  return {
    unary: (message, md = {}) =>
      new Promise((resolve, reject) => {
        const meta = new grpc.Metadata();
        for (const [k, v] of Object.entries(md)) meta.set(k, v);
        let trailers: Record<string, unknown> = {};
        let response: GrpcEchoResponse | undefined;
        let settled = 0;
        const done = () => {
          if (++settled === 2) resolve({ response: response!, trailers });
        };
        const call = client['Echo']!(
          { message },
          meta,
          { deadline: deadline() },
          (err: grpc.ServiceError | null, res: GrpcEchoResponse) => {
            if (err) return reject(err);
            response = res;
            done();
          },
        ) as grpc.ClientUnaryCall;
        call.on('status', (s: grpc.StatusObject) => {
          trailers = s.metadata.getMap();
          done();
        });
      }),
    stream: (message, count) =>
      new Promise((resolve, reject) => {
        const responses: GrpcEchoResponse[] = [];
        const call = client['EchoStream']!(
          { message, count, intervalMs: 0 },
          { deadline: deadline() },
        ) as grpc.ClientReadableStream<GrpcEchoResponse>;
        call.on('data', (r: GrpcEchoResponse) => responses.push(r));
        call.on('error', reject);
        call.on('status', (s: grpc.StatusObject) => {
          if (s.code === grpc.status.OK) resolve({ responses, trailers: s.metadata.getMap() });
        });
      }),
    close: () => client.close(),
  };
}

// ---- plain HTTP helpers ---------------------------------------------------------------------

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body as an echo answer (throws when it is not JSON). */
  json<T = EchoAnswer>(): T;
}

/** One HTTP/1.1 request on a fresh connection; resolves with the whole answer. */
export function httpRequest(
  target: { host: string; port: number },
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.host,
        port: target.port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        agent: opts.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** HTTP/2 with prior knowledge (h2c): one session, one request per call of `request`. */
export function h2cSession(target: { host: string; port: number }): {
  request(path: string, headers?: Record<string, string>): Promise<HttpAnswer>;
  close(): void;
} {
  const session = http2.connect(`http://${target.host}:${target.port}`);
  session.on('error', () => undefined);
  return {
    request: (path, headers = {}) =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': path, ':method': 'GET', ...headers });
        let status = 0;
        let h: http.IncomingHttpHeaders = {};
        let body = '';
        stream.setEncoding('utf8');
        stream.on('response', (rh) => {
          status = Number(rh[':status']);
          h = rh as http.IncomingHttpHeaders;
        });
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => resolve({ status, headers: h, body, json: <T>() => JSON.parse(body) as T }));
        stream.on('error', reject);
        stream.end();
      }),
    close: () => session.close(),
  };
}
