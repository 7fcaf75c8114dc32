/**
 * The control-plane API end to end with the real pieces: SQLite store on a temp dir, the real
 * resource validator (src/api), the HTTP server and the typed client in-process; then the CLI verbs
 * as child processes (`weft get ... --server URL` with WEFT_TOKEN, and `--state-dir`) against a
 * stand-in control plane (test/fixtures/store/serve.ts).
 */
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ControlClient } from '../../src/api/client/index.ts';
import { parseManifests, resourceKey } from '../../src/api/index.ts';
import type { RunningControlServer } from '../../src/control/server/index.ts';
import {
  apiResourceValidator,
  loadOrCreateToken,
  startControlServer,
} from '../../src/control/server/index.ts';
import type { Store } from '../../src/control/store/index.ts';
import { openSqliteStore, storeFile } from '../../src/control/store/index.ts';
import { isWeftError } from '../../src/lib/index.ts';
import { readManifestSources } from '../../src/cli/manifest-files.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const GOOD = join(ROOT, 'test', 'fixtures', 'manifests', 'good');
const WEFT = join(ROOT, 'src', 'bin', 'weft.ts');
const SERVE = join(ROOT, 'test', 'fixtures', 'store', 'serve.ts');

async function goodResources() {
  const parsed = parseManifests(await readManifestSources([GOOD], ROOT));
  assert.deepEqual(
    parsed.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  return parsed.resources;
}

void describe('control API in-process (SQLite store, real validator)', () => {
  let dir: string;
  let store: Store;
  let server: RunningControlServer;
  let token: string;
  let client: ControlClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-api-'));
    store = openSqliteStore({ file: storeFile(dir) });
    token = loadOrCreateToken(dir);
    server = await startControlServer({ store, token, validator: apiResourceValidator });
    client = new ControlClient({ baseUrl: server.url, token, actor: 'ci-bot' });
  });
  after(async () => {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('applies every kind, reads it back, and a re-apply of the parsed form is a no-op', async () => {
    const resources = await goodResources();
    const out = await client.apply(resources, { message: 'initial' });
    assert.equal(out.revision, 1);
    assert.equal(out.actor, 'ci-bot');
    assert.deepEqual(out.diff.added, resources.map((r) => resourceKey(r)).sort());
    const list = await client.list();
    assert.equal(list.items.length, resources.length);
    const first = resources[0]!;
    const got = await client.get(first.kind, first.metadata.namespace, first.metadata.name);
    assert.deepEqual(got?.spec, first.spec);
    assert.ok(got?.metadata.creationTimestamp);
    // What the store returns (with its bookkeeping fields stripped) validates and changes nothing.
    const again = await client.apply(list.items.map(({ revision: _r, createRevision: _c, ...r }) => r));
    assert.equal(again.unchanged, true);
    const [h] = await client.history();
    assert.deepEqual([h?.revision, h?.actor, h?.message], [1, 'ci-bot', 'initial']);
  });

  void it('rejects a multi-document apply with one bad document whole: nothing is stored', async () => {
    const rev = await store.revision();
    const good = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'extra', namespace: 'shop' },
      spec: { selector: { app: 'x' }, ports: [{ port: 80 }] },
    };
    const bad = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'broken', namespace: 'shop' },
      spec: { ports: [{ port: 99999 }], colour: 'red' },
    };
    await assert.rejects(client.apply([good, bad]), (err: unknown) => {
      assert.ok(isWeftError(err, 'WEFT_VALIDATION_FAILED'), String(err));
      const ds = err.detail?.diagnostics as { document?: number; path: string; severity: string }[];
      assert.ok(ds.length >= 2, JSON.stringify(ds));
      assert.ok(ds.every((d) => d.document === 1));
      assert.ok(ds.some((d) => d.path.includes('colour')));
      assert.ok(ds.some((d) => d.path.includes('port')));
      return true;
    });
    // A document that is valid alone but breaks the resulting state (a route to a missing Service).
    const orphan = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'orphan', namespace: 'shop' },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'nowhere' }],
        rules: [{ backendRefs: [{ name: 'nowhere', port: 80 }] }],
      },
    };
    await assert.rejects(client.apply([good, orphan]), (err: unknown) => {
      assert.ok(isWeftError(err, 'WEFT_VALIDATION_FAILED'), String(err));
      assert.match(err.message, /nowhere/);
      return true;
    });
    assert.equal(await store.revision(), rev);
    assert.equal(await client.get('Service', 'shop', 'extra'), undefined);
  });

  void it('answers 401 without or with a wrong token and records nothing', async () => {
    const rev = await store.revision();
    const history = await client.history();
    const body = JSON.stringify({
      resources: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'evil' }, spec: {} }],
    });
    for (const headers of [{}, { authorization: `Bearer ${token.slice(0, -2)}xx` }]) {
      const res = await fetch(`${server.url}/v1/apply`, { method: 'POST', headers, body });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'WEFT_API_UNAUTHORIZED');
    }
    const wrong = new ControlClient({ baseUrl: server.url, token: 'x'.repeat(43) });
    await assert.rejects(wrong.rollback(0), (err: unknown) => isWeftError(err, 'WEFT_API_UNAUTHORIZED'));
    await assert.rejects(wrong.list(), (err: unknown) => isWeftError(err, 'WEFT_API_UNAUTHORIZED'));
    assert.equal(await store.revision(), rev);
    assert.deepEqual(await client.history(), history);
  });

  void it('deletes (checking what remains), rolls back, and keeps the audit trail', async () => {
    const start = await store.revision();
    const svc = (await client.list({ kind: 'Service' })).items[0]!;
    const svcKey = resourceKey(svc);
    const referenced = (await client.list({ kind: 'HTTPRoute' })).items.length > 0;
    const routeKeys = (await client.list({ kind: 'HTTPRoute' })).items.map((r) => resourceKey(r));
    if (referenced) {
      // Deleting a Service a route still points at would leave an invalid state: refused whole.
      const target = (await client.list()).items.find(
        (r) => r.kind === 'Service' && r.metadata.name === 'reviews',
      )!;
      await assert.rejects(client.delete([resourceKey(target)]), (err: unknown) =>
        isWeftError(err, 'WEFT_VALIDATION_FAILED'),
      );
      assert.equal(await store.revision(), start);
    }
    await assert.rejects(client.delete(['Service/shop/does-not-exist']), (err: unknown) =>
      isWeftError(err, 'WEFT_RESOURCE_NOT_FOUND'),
    );
    const del = await client.delete(routeKeys, { message: 'drop routes' });
    assert.equal(del.revision, start + 1);
    assert.deepEqual(del.diff.deleted, [...routeKeys].sort());
    const rb = await client.rollback(start, { message: 'undo' });
    assert.equal(rb.revision, start + 2);
    assert.deepEqual(rb.diff.added, [...routeKeys].sort());
    assert.deepEqual((await client.revision(start + 2)).resources, (await client.revision(start)).resources);
    assert.ok(await client.get(svc.kind, svc.metadata.namespace, svc.metadata.name), svcKey);
    const trail = (await client.history({ limit: 3 })).map((h) => [h.revision, h.actor, h.message]);
    assert.deepEqual(trail, [
      [start + 2, 'ci-bot', 'undo'],
      [start + 1, 'ci-bot', 'drop routes'],
      [start, 'ci-bot', 'initial'],
    ]);
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function weft(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !['WEFT_STATE_DIR', 'WEFT_SERVER', 'WEFT_TOKEN', 'WEFT_ACTOR'].includes(k),
      ),
    );
    execFile(
      process.execPath,
      [WEFT, ...args],
      { cwd: ROOT, env: { ...clean, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

void describe('CLI verbs against a running API (child processes)', () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams;
  let url: string;
  let token: string;
  let remote: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
    child = spawn(process.execPath, [SERVE, dir], { stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
    const first = await new Promise<string>((resolve, reject) => {
      let buf = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl));
      });
      child.once('exit', (code) => reject(new Error(`serve.ts exited (${code}): ${err}`)));
    });
    ({ url, token } = JSON.parse(first) as { url: string; token: string });
    remote = { WEFT_TOKEN: token, WEFT_ACTOR: 'cli-test' };
  });
  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  void it('explains how to find a control plane when none is named', async () => {
    const r = await weft(['get', 'svc'], {});
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--state-dir DIR/);
    assert.match(r.stderr, /--server URL/);
    const notRunning = mkdtempSync(join(tmpdir(), 'weft-empty-'));
    try {
      const r2 = await weft(['history', '--state-dir', notRunning], {});
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /no control plane is running/);
    } finally {
      rmSync(notRunning, { recursive: true, force: true });
    }
    const usage = await weft(['get', '--server', url, '--bogus'], remote);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: weft get/);
  });

  void it('apply reports the revision; a bad manifest fails locally with file:line:col', async () => {
    const r = await weft(
      ['apply', '-f', 'test/fixtures/manifests/good', '--server', url, '-m', 'from cli'],
      remote,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^revision 1: \d+ added, 0 changed, 0 deleted\n/);
    const again = await weft(['apply', '-f', 'test/fixtures/manifests/good', '--server', url], remote);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^no changes \(revision 1\)/);

    const badFile = join(dir, 'bad.yaml');
    writeFileSync(
      badFile,
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 80\n      colour: red\n',
    );
    const bad = await weft(['apply', '-f', badFile, '--server', url], remote);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad\.yaml:8:7: .*colour/);
    const dry = await weft(
      ['apply', '-f', 'test/fixtures/manifests/good/services.yaml', '--dry-run', '--server', url],
      remote,
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /no changes/);
  });

  void it('get prints tables, yaml and json, with kind aliases', async () => {
    const table = await weft(['get', 'svc', '-n', 'shop', '--server', url], remote);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+PORTS\s+AGE\n/);
    assert.match(table.stdout, /\nreviews\s+9080\/\S+,9090\/\S+\s+\d+s\n/);
    const all = await weft(['get', 'Services', '-A', '-o', 'wide', '--server', url], remote);
    assert.match(all.stdout, /^NAMESPACE\s+NAME\s+PORTS\s+AGE\s+REVISION\s+LABELS\n/);
    const yaml = await weft(
      ['get', 'service', 'reviews', '-n', 'shop', '-o', 'yaml', '--server', url],
      remote,
    );
    assert.equal(yaml.code, 0, yaml.stderr);
    const doc = parseYaml(yaml.stdout) as {
      kind: string;
      metadata: { name: string; resourceVersion: string };
    };
    assert.equal(doc.kind, 'Service');
    assert.equal(doc.metadata.resourceVersion, '1');
    // The yaml output applies back as "no changes".
    const back = join(dir, 'back.yaml');
    writeFileSync(back, yaml.stdout);
    const reapply = await weft(['apply', '-f', back, '--server', url], remote);
    assert.equal(reapply.code, 0, reapply.stderr);
    assert.match(reapply.stdout, /no changes/);
    const json = await weft(['get', 'httproute', '-n', 'shop', '-o', 'json', '--server', url], remote);
    const list = JSON.parse(json.stdout) as { kind: string; items: { kind: string }[] };
    assert.equal(list.kind, 'List');
    assert.ok(list.items.length > 0 && list.items.every((i) => i.kind === 'HTTPRoute'));
    const missing = await weft(['get', 'svc', 'nope', '-n', 'shop', '--server', url], remote);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Service "nope" not found in namespace "shop"/);
    const unknown = await weft(['get', 'gizmos', '--server', url], remote);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown kind "gizmos"/);
  });

  void it('delete, history and rollback through --state-dir, with the actor recorded', async () => {
    const viaDir = { WEFT_ACTOR: 'cli-test' };
    const refused = await weft(['delete', 'svc', 'reviews', '-n', 'shop', '--state-dir', dir], viaDir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /does not exist|reviews/);
    const del = await weft(
      ['delete', 'httproute', 'reviews', '-n', 'shop', '--state-dir', dir, '-m', 'no route'],
      viaDir,
    );
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /^revision 2: 0 added, 0 changed, 1 deleted\n {2}- HTTPRoute\/shop\/reviews\n/);
    const rb = await weft(['rollback', '1', '--state-dir', dir], viaDir);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /^rolled back to revision 1: revision 3: 1 added, 0 changed, 0 deleted/);
    const hist = await weft(['history', '--state-dir', dir], {});
    assert.equal(hist.code, 0, hist.stderr);
    const lines = hist.stdout.trim().split('\n');
    assert.match(lines[0]!, /^REVISION\s+TIME\s+ACTOR\s+CHANGES\s+MESSAGE$/);
    assert.match(lines[1]!, /^3\s+\S+Z\s+cli-test\s+\+1 ~0 -0\s+rollback to revision 1$/);
    assert.match(lines[2]!, /^2\s+\S+Z\s+cli-test\s+\+0 ~0 -1\s+no route$/);
    assert.match(lines[3]!, /^1\s+\S+Z\s+cli-test\s+\+\d+ ~0 -0\s+from cli$/);
    const json = await weft(['history', '--limit', '1', '-o', 'json', '--state-dir', dir], {});
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 1);
    const badRev = await weft(['rollback', '99', '--state-dir', dir], {});
    assert.equal(badRev.code, 1);
    assert.match(badRev.stderr, /revision 99 does not exist/);
  });

  void it('status exits 0 only when every proxy is connected and acked the latest config', async () => {
    const statusFile = join(dir, 'fake-status.json');
    const p = (node: string, acked: string, connected = true) => ({
      node,
      connected,
      ackedVersion: acked,
      latestVersion: 'v2',
      lastNack: null,
      since: new Date().toISOString(),
    });
    writeFileSync(statusFile, JSON.stringify([p('node-a', 'v2'), p('node-b', 'v2')]));
    const ok = await weft(['status', '--server', url], remote);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^revision 3\nNODE\s+CONNECTED\s+IN-SYNC/);
    assert.match(ok.stdout, /\nnode-a\s+yes\s+yes\s+v2\s+v2/);
    writeFileSync(statusFile, JSON.stringify([p('node-a', 'v2'), p('node-b', 'v1')]));
    const behind = await weft(['status', '--server', url], remote);
    assert.equal(behind.code, 1);
    assert.match(behind.stderr, /1 of 2 proxies not in sync/);
    writeFileSync(statusFile, JSON.stringify([p('node-a', 'v2', false)]));
    const json = await weft(['status', '-o', 'json', '--state-dir', dir], {});
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { ready: boolean }).ready, false);
    assert.ok(readFileSync(join(dir, 'control.json'), 'utf8').includes(url));
  });
});
