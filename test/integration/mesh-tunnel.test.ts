/**
 * The walking skeleton end to end with real processes: `weft control` and two `weft proxy` children
 * on loopback, workloads as servers in this process bound to their instance addresses. A request
 * from `web` (node-a) crosses both proxies over the mTLS tunnel to `api` (node-b); the backend sees
 * the verified caller in x-forwarded-client-cert; AuthorizationPolicy decides per request (HTTP) and
 * per connection (TCP).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { ControlClient } from '../../src/api/client/index.ts';
import type { Snapshot } from '../../src/api/index.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const WEFT = join(ROOT, 'src/bin/weft.ts');
const TD = 'tunnel-it.test';

const children: ChildProcess[] = [];
const logs: (() => string)[] = [];
const servers: (http.Server | net.Server)[] = [];
let stateDir = '';

function start(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [WEFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  logs.push(() => err);
  return { child, stdout: () => out, stderr: () => err };
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function request(
  host: string,
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const resources = [
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'MeshConfig',
    metadata: { name: 'default' },
    spec: { trustDomain: TD },
  },
  ...['a', 'b'].map((n, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}`, annotations: { 'weft.dev/tunnel-port': '15118' } },
    status: { addresses: [{ type: 'InternalIP', address: `127.0.21.${i + 1}` }] },
  })),
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'web' },
    spec: { labels: { app: 'web' }, serviceAccount: 'web', node: 'node-a', builtin: 'echo' },
  },
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'api' },
    spec: { labels: { app: 'api' }, serviceAccount: 'api', node: 'node-b', builtin: 'echo' },
  },
  {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'db' },
    spec: { labels: { app: 'db' }, serviceAccount: 'db', node: 'node-b', builtin: 'echo' },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api' },
    spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 8080, appProtocol: 'http' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'db' },
    spec: { selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432, appProtocol: 'tcp' }] },
  },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'api-allow-web' },
    spec: {
      selector: { matchLabels: { app: 'api' } },
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: [`${TD}/ns/default/sa/web`] } }],
          to: [{ operation: { methods: ['GET'], paths: ['/allowed*'] } }],
        },
      ],
    },
  },
];

let snapshotA: Snapshot;
let snapshotB: Snapshot;

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'weft-tunnel-'));
  start(['control', '--state-dir', stateDir, '--trust-domain', TD]);
  const controlFile = await waitFor('control.json', async () =>
    JSON.parse(await readFile(join(stateDir, 'control.json'), 'utf8')),
  );
  const token = (await readFile(join(stateDir, 'token'), 'utf8')).trim();
  const client = new ControlClient({ baseUrl: controlFile.apiUrl, token, actor: 'test' });
  await client.apply(resources, { message: 'tunnel test' });
  const admins: string[] = [];
  for (const node of ['node-a', 'node-b']) {
    const p = start([
      'proxy',
      '--node',
      node,
      '--state-dir',
      stateDir,
      ...(process.env.DEBUG_MESH ? ['-v'] : []),
    ]);
    admins.push(await waitFor(`${node} admin`, () => /admin (http:\/\/\S+)/.exec(p.stdout())?.[1]));
  }
  for (const admin of admins) {
    await waitFor(`ready ${admin}`, async () => ((await fetch(`${admin}/ready`)).ok ? true : undefined));
  }
  snapshotA = ((await (await fetch(`${admins[0]}/config_dump`)).json()) as { snapshot: Snapshot }).snapshot;
  snapshotB = ((await (await fetch(`${admins[1]}/config_dump`)).json()) as { snapshot: Snapshot }).snapshot;

  const api = snapshotB.instances.find((i) => i.workload === 'api')!;
  const apiServer = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, xfcc: req.headers['x-forwarded-client-cert'] ?? null }));
  });
  await new Promise<void>((r) => apiServer.listen(8080, api.address, r));
  servers.push(apiServer);
  const db = snapshotB.instances.find((i) => i.workload === 'db')!;
  const dbServer = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => dbServer.listen(5432, db.address, r));
  servers.push(dbServer);
});

after(async () => {
  if (process.env.DEBUG_MESH) for (const c of logs) process.stderr.write(c());
  for (const s of servers) s.close();
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
  await rm(stateDir, { recursive: true, force: true });
});

function capture(service: string): { host: string; port: number } {
  const l = snapshotA.listeners.find((x) => x.source === 'default/web-0' && x.service.name === service)!;
  assert.ok(l, `web-0 has a capture listener for ${service}`);
  return { host: l.address, port: l.port };
}

test('HTTP crosses both proxies; the backend sees the verified caller, not the spoofed one', async () => {
  const { host, port } = capture('api');
  const res = await request(host, port, '/allowed/x', {
    'x-forwarded-client-cert': `By=x;URI=spiffe://${TD}/ns/default/sa/admin`,
  });
  assert.equal(res.status, 200, res.body);
  const body = JSON.parse(res.body) as { path: string; xfcc: string };
  assert.equal(body.path, '/allowed/x');
  assert.equal(body.xfcc, `By=spiffe://${TD}/ns/default/sa/api;URI=spiffe://${TD}/ns/default/sa/web`);
});

test('a request the policy does not allow gets an explained 403 from the destination proxy', async () => {
  const { host, port } = capture('api');
  const res = await request(host, port, '/admin');
  assert.equal(res.status, 403);
  const body = JSON.parse(res.body) as { error: string; reason: string };
  assert.equal(body.error, 'access denied');
  assert.match(body.reason, /deny/i);
  assert.ok(res.headers['x-weft-denied-by']);
});

test('TCP to a service with no ALLOW policy is closed before any byte reaches it (default deny)', async () => {
  const { host, port } = capture('db');
  const got = await new Promise<string>((resolve) => {
    const s = net.connect({ host, port }, () => s.write('ping'));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(data));
  });
  assert.equal(got, '');
});

test('snapshots agree between nodes and name the trust domain', () => {
  assert.equal(snapshotA.mesh.trustDomain, TD);
  assert.deepEqual(
    snapshotA.instances.map((i) => i.address),
    snapshotB.instances.map((i) => i.address),
  );
});
