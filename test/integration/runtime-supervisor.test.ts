/**
 * The local runtime's process handling with real child processes: restart with backoff, stop leaves
 * no process (checked in /proc), the state-dir lock (refusal, stale takeover), logs written, and the
 * mesh plan's environment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/lib/index.ts';
import {
  Supervisor,
  acquireStateLock,
  backoffDelay,
  planMesh,
  writePidsFile,
} from '../../src/runtime/index.ts';
import type { SupervisorEvent } from '../../src/runtime/index.ts';
import { defaultNodes } from '../../src/runtime/plan.ts';
import { parseManifests } from '../../src/api/index.ts';
import type { Resource } from '../../src/api/index.ts';

const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; !cond(); i++) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'weft-rt-'));
}

void test('backoff grows exponentially up to the cap', () => {
  const b = { initialMs: 100, factor: 2, maxMs: 1000, resetAfterMs: 5000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, b)),
    [100, 200, 400, 800, 1000, 1000],
  );
});

void test('a crashing child is restarted with backoff, its output goes to its log, stop leaves nothing', async () => {
  const dir = tmp();
  const events: SupervisorEvent[] = [];
  const sup = new Supervisor({
    clock: systemClock,
    backoff: { initialMs: 30, factor: 2, maxMs: 200 },
    onEvent: (e) => events.push(e),
  });
  try {
    const log = join(dir, 'logs', 'crasher.log');
    sup.start({
      name: 'crasher',
      command: process.execPath,
      args: ['-e', 'console.log("hello from " + process.pid); setTimeout(() => process.exit(3), 30)'],
      env: { PATH: process.env.PATH },
      logFile: log,
    });
    await until(() => events.filter((e) => e.type === 'restart').length >= 3, 'three restarts');
    const restarts = events.filter((e) => e.type === 'restart');
    assert.deepEqual(
      restarts.slice(0, 3).map((e) => (e as { delayMs: number }).delayMs),
      [30, 60, 120],
    );
    const exits = events.filter((e) => e.type === 'exit');
    assert.ok(exits.every((e) => e.type === 'exit' && e.code === 3 && !e.expected));
    await until(() => (readFileSync(log, 'utf8').match(/hello from/g) ?? []).length >= 3, 'log lines');

    const pid = sup.start({
      name: 'sleeper',
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      env: {},
      logFile: join(dir, 'logs', 'sleeper.log'),
    });
    // A child that ignores SIGTERM is killed after the grace period.
    const stubborn = sup.start({
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'],
      env: {},
      logFile: join(dir, 'logs', 'stubborn.log'),
    });
    await until(
      () => readFileSync(join(dir, 'logs', 'stubborn.log'), 'utf8').includes('ready'),
      'stubborn ready',
    );
    assert.ok(alive(pid) && alive(stubborn));
    const seen = events.filter((e) => e.type === 'start').map((e) => (e as { pid: number }).pid);
    await sup.stopAll(300);
    for (const p of [pid, stubborn, ...seen]) assert.equal(alive(p), false, `pid ${p} is gone`);
    assert.equal(sup.names().length, 0);
    const restartsAfter = events.filter((e) => e.type === 'restart').length;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(events.filter((e) => e.type === 'restart').length, restartsAfter, 'no restart after stop');
  } finally {
    await sup.stopAll(100);
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('a missing command is reported, not thrown into the void', async () => {
  const dir = tmp();
  const events: SupervisorEvent[] = [];
  const sup = new Supervisor({
    clock: systemClock,
    onEvent: (e) => events.push(e),
    backoff: { initialMs: 10_000 },
  });
  try {
    try {
      sup.start({
        name: 'ghost',
        command: join(dir, 'no-such-binary'),
        args: [],
        env: {},
        logFile: join(dir, 'g.log'),
      });
    } catch {
      // some platforms throw synchronously; either way it must be visible
    }
    await until(() => events.some((e) => e.type === 'spawn-error'), 'spawn-error event');
  } finally {
    await sup.stopAll(100);
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('state-dir lock: refused while the owner lives, taken over when it is dead', () => {
  const dir = tmp();
  try {
    const lock = acquireStateLock(dir, process.pid);
    assert.equal(readFileSync(join(dir, 'up.lock'), 'utf8').trim(), String(process.pid));
    assert.throws(
      () => acquireStateLock(dir, 999_999_999, () => true),
      (e: any) => e.code === 'WEFT_UP_STATE_DIR_IN_USE' && e.message.includes(`in use by pid ${process.pid}`),
    );
    lock.release();
    assert.equal(existsSync(join(dir, 'up.lock')), false);
    writeFileSync(join(dir, 'up.lock'), '424242\n');
    const taken = acquireStateLock(dir, process.pid, (p) => p !== 424242);
    assert.equal(readFileSync(join(dir, 'up.lock'), 'utf8').trim(), String(process.pid));
    taken.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('pids.json is replaced atomically', () => {
  const dir = tmp();
  try {
    writePidsFile(dir, { control: 1, proxies: { 'node-1': 2 }, instances: { 'default/a-0': 3 } });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')), {
      control: 1,
      proxies: { 'node-1': 2 },
      instances: { 'default/a-0': 3 },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('plan: placement, addresses and the environment each instance gets', () => {
  const text = `
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080, targetPort: web }]
---
apiVersion: v1
kind: Service
metadata: { name: audit, namespace: ops }
spec:
  selector: { app: audit }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: reviews, labels: { app: reviews } }
spec:
  replicas: 2
  serviceAccount: reviews
  ports: [{ name: web, containerPort: 9081 }]
  run: { command: node, args: [app.mjs], env: { EXTRA: "1" } }
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: audit, namespace: ops, labels: { app: audit } }
spec:
  builtin: echo
  args: [--delay, "5"]
`;
  const parsed = parseManifests([{ file: '/m/mesh.yaml', text }]);
  assert.deepEqual(parsed.diagnostics, []);
  const resources = [...parsed.resources, ...(defaultNodes(2, 'cluster.local') as unknown as Resource[])];
  const plan = planMesh(resources, {
    entry: '/weft/src/bin/weft.ts',
    execPath: '/node',
    sources: parsed.sources,
    cwd: '/cwd',
  });
  assert.deepEqual(
    plan.nodes.map((n) => [n.name, n.address, n.admin]),
    [
      ['node-1', '127.0.10.1', '127.0.10.1:15000'],
      ['node-2', '127.0.10.2', '127.0.10.2:15000'],
    ],
  );
  const r0 = plan.instances.find((i) => i.key === 'default/reviews-0')!;
  assert.match(r0.address, /^127\.1\.\d+\.\d+$/);
  assert.deepEqual(r0.ports, [9081]);
  assert.equal(r0.env.WEFT_LISTEN_ADDR, r0.address);
  assert.equal(r0.env.PORT, '9081');
  assert.equal(r0.env.WEFT_SERVICE_ACCOUNT, 'reviews');
  assert.equal(r0.env.WEFT_INSTANCE, 'reviews-0');
  assert.equal(r0.env.EXTRA, '1');
  assert.match(r0.env.REVIEWS_URL!, /^http:\/\/127\.(2|3)\.\d+\.\d+:9080$/);
  assert.match(r0.env.AUDIT_URL!, /:80$/, 'other-namespace service without a local one of that name');
  assert.equal(r0.env.AUDIT_URL, r0.env.AUDIT_OPS_URL);
  assert.equal(r0.command, '/node', '`node` runs on the Node.js weft runs on');
  assert.equal(r0.cwd, '/m', 'relative to the manifest directory');
  const r1 = plan.instances.find((i) => i.key === 'default/reviews-1')!;
  assert.notEqual(r0.env.REVIEWS_URL, r1.env.REVIEWS_URL, 'each instance has its own capture address');
  assert.notEqual(r0.node, r1.node, 'replicas spread over the nodes');
  const audit = plan.instances.find((i) => i.key === 'ops/audit-0')!;
  assert.deepEqual(audit.args, ['/weft/src/bin/weft.ts', 'echo', '--delay', '5']);
  assert.deepEqual(audit.readiness, { type: 'http', host: audit.address, port: 8080, path: '/healthz' });
  assert.match(audit.env.REVIEWS_DEFAULT_URL!, /:9080$/);
  const svc = plan.services.find((s) => s.name === 'reviews')!;
  assert.equal(svc.endpoints.length, 2);
});
