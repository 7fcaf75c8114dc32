/**
 * The HTTP API server over a real SQLite store, with a small validator so these tests pin the
 * server's own behaviour (auth, atomicity, errors, limits, extra routes). The integration test in
 * test/integration/control-api.test.ts runs the same API with the real resource validator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Diagnostic, Resource } from '../../api/index.ts';
import { ControlClient } from '../../api/client/index.ts';
import { FakeClock, WeftError, isWeftError } from '../../lib/index.ts';
import { openSqliteStore, storeFile } from '../store/index.ts';
import type { Store } from '../store/index.ts';
import type { ResourceValidator, RunningControlServer } from './control-server.ts';
import { startControlServer } from './control-server.ts';

const TOKEN = 'test-token-0123456789abcdef';

/** Accepts objects with kind and metadata.name; `spec.bad` is a per-object error, `spec.conflict` a state error. */
const validator: ResourceValidator = {
  parseObject(raw: unknown) {
    const o = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
    const diagnostics: Diagnostic[] = [];
    if (typeof o?.kind !== 'string') diagnostics.push(diag('kind', 'kind is required'));
    if (typeof o?.metadata?.name !== 'string') diagnostics.push(diag('metadata.name', 'name is required'));
    if ((o?.spec as { bad?: boolean } | undefined)?.bad)
      diagnostics.push(diag('spec.bad', 'bad must not be set'));
    if (diagnostics.length) return { diagnostics };
    const cluster = o.kind === 'Node';
    const resource: Resource = {
      apiVersion: 'v1',
      kind: o.kind as string,
      metadata: {
        name: o.metadata!.name as string,
        namespace: cluster ? '' : ((o.metadata!.namespace as string | undefined) ?? 'default'),
        labels: {},
        annotations: {},
      },
      spec: (o.spec as Record<string, unknown>) ?? {},
    };
    return { resource, diagnostics: [] };
  },
  checkAll(resources) {
    return resources
      .filter((r) => r.spec.conflict)
      .map((r) => diag('spec.conflict', `${r.metadata.name} conflicts with the rest`));
  },
};

function diag(path: string, message: string): Diagnostic {
  return { severity: 'error', code: 'WEFT_TEST_INVALID', path, message };
}

const svc = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec,
});

void describe('control HTTP API', () => {
  let dir: string;
  let store: Store;
  let storeCalls = 0;
  let server: RunningControlServer;
  let client: ControlClient;
  const proxies = [
    {
      node: 'n1',
      connected: true,
      ackedVersion: 'v1',
      latestVersion: 'v1',
      lastNack: null,
      since: '2026-01-01T00:00:00.000Z',
    },
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-server-'));
    const real = openSqliteStore({ file: storeFile(dir), clock: new FakeClock() });
    // Count every store call, to prove rejected requests never reach it.
    store = new Proxy(real, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          storeCalls++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    server = await startControlServer({
      store,
      token: TOKEN,
      validator,
      statusProvider: () => proxies,
      maxBodyBytes: 64 * 1024,
      extraRoutes: [
        {
          method: 'POST',
          path: '/v1/nodes/{name}/attest',
          auth: 'none',
          handle: (req) => {
            if ((req.body as { joinToken?: string } | undefined)?.joinToken !== 'join') {
              throw new WeftError('WEFT_TEST_JOIN_DENIED', 'bad join token', { detail: { httpStatus: 403 } });
            }
            return { status: 201, body: { node: req.params.name } };
          },
        },
        { method: 'GET', path: '/v1/echo-actor', handle: (req) => ({ body: { actor: req.actor } }) },
      ],
    });
    client = new ControlClient({ baseUrl: server.url, token: TOKEN, actor: 'alice' });
  });

  after(async () => {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const raw = (path: string, init: RequestInit = {}) => fetch(server.url + path, init);
  const auth = { authorization: `Bearer ${TOKEN}` };

  void it('listens on loopback and answers healthz without a token', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await raw('/v1/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });

  void it('answers 401 without or with a wrong token, and the store is never touched', async () => {
    const calls = storeCalls;
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      { authorization: 'Basic eDp5' },
    ]) {
      for (const [path, method] of [
        ['/v1/resources', 'GET'],
        ['/v1/apply', 'POST'],
        ['/v1/history', 'GET'],
        ['/v1/status', 'GET'],
      ] as const) {
        const res = await raw(path, {
          method,
          headers: { ...headers, 'content-type': 'application/json' },
          ...(method === 'POST' ? { body: JSON.stringify({ resources: [svc('x')] }) } : {}),
        });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="weft"');
        const body = (await res.json()) as { code: string; error: string };
        assert.equal(body.code, 'WEFT_API_UNAUTHORIZED');
        assert.ok(body.error.length > 0);
      }
    }
    assert.equal(storeCalls, calls);
    assert.equal(await store.revision(), 0);
  });

  void it('applies, records the actor and message, and reads back', async () => {
    const out = await client.apply([svc('a'), svc('b'), { kind: 'Node', metadata: { name: 'n1' } }], {
      message: 'first',
    });
    assert.equal(out.revision, 1);
    assert.equal(out.actor, 'alice');
    assert.deepEqual(out.diff, {
      added: ['Node//n1', 'Service/default/a', 'Service/default/b'],
      changed: [],
      deleted: [],
    });
    assert.deepEqual(out.warnings, []);
    const a = await client.get('Service', 'default', 'a');
    assert.equal(a?.revision, 1);
    assert.equal(a?.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z');
    assert.equal((await client.get('Node', '', 'n1'))?.kind, 'Node');
    assert.equal(await client.get('Service', 'default', 'missing'), undefined);
    const list = await client.list({ kind: 'Service' });
    assert.equal(list.revision, 1);
    assert.deepEqual(
      list.items.map((r) => r.metadata.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      (await client.list({ namespace: '' })).items.map((r) => r.kind),
      ['Node'],
    );
    const [h] = await client.history({ limit: 1 });
    assert.equal(h?.actor, 'alice');
    assert.equal(h?.message, 'first');
    // The body's actor wins over the header.
    const res = await raw('/v1/apply', {
      method: 'POST',
      headers: { ...auth, 'x-weft-actor': 'header-actor' },
      body: JSON.stringify({ resources: [svc('c')], actor: 'body-actor' }),
    });
    assert.equal(((await res.json()) as { actor: string }).actor, 'body-actor');
    const viaHeader = await raw('/v1/echo-actor', { headers: { ...auth, 'x-weft-actor': 'bob' } });
    assert.deepEqual(await viaHeader.json(), { actor: 'bob' });
    const dflt = await raw('/v1/echo-actor', { headers: auth });
    assert.deepEqual(await dflt.json(), { actor: 'admin' });
  });

  void it('rejects a multi-document apply with one bad object whole, with diagnostics', async () => {
    const rev = await store.revision();
    await assert.rejects(
      client.apply([svc('new1'), svc('new2', { bad: true }), { metadata: {} }]),
      (err: unknown) => {
        assert.ok(isWeftError(err, 'WEFT_VALIDATION_FAILED'));
        assert.match(err.message, /resources\[1\]: spec\.bad: bad must not be set \(and 2 more\)/);
        const ds = err.detail?.diagnostics as { document: number; path: string }[];
        assert.deepEqual(
          ds.map((d) => [d.document, d.path]),
          [
            [1, 'spec.bad'],
            [2, 'kind'],
            [2, 'metadata.name'],
          ],
        );
        assert.equal(err.detail?.status, 422);
        return true;
      },
    );
    // A state-level error and a duplicate are rejected the same way.
    await assert.rejects(client.apply([svc('new3'), svc('new4', { conflict: true })]), (err: unknown) =>
      isWeftError(err, 'WEFT_VALIDATION_FAILED'),
    );
    await assert.rejects(client.apply([svc('dup'), svc('dup')]), (err: unknown) => {
      const ds = (err as WeftError).detail?.diagnostics as { code: string; document: number }[];
      return ds[0]?.code === 'WEFT_API_DUPLICATE_RESOURCE' && ds[0].document === 1;
    });
    assert.equal(await store.revision(), rev);
    assert.equal(await client.get('Service', 'default', 'new1'), undefined);
  });

  void it('dry-runs, reports no-op applies, deletes atomically and rolls back', async () => {
    const rev = await store.revision();
    const dry = await client.apply([svc('a', { v: 2 })], { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.revision, rev + 1);
    assert.deepEqual(dry.diff.changed, ['Service/default/a']);
    assert.equal(await store.revision(), rev);

    const same = await client.apply([svc('a')]);
    assert.equal(same.unchanged, true);
    assert.equal(same.revision, rev);

    await assert.rejects(client.delete(['Service/default/a', 'Service/default/nope']), (err: unknown) => {
      assert.ok(isWeftError(err, 'WEFT_RESOURCE_NOT_FOUND'));
      assert.deepEqual(err.detail?.keys, ['Service/default/nope']);
      return true;
    });
    assert.ok(await client.get('Service', 'default', 'a'));
    const del = await client.delete(['Service/default/a'], { message: 'bye' });
    assert.equal(del.revision, rev + 1);
    assert.deepEqual(del.diff.deleted, ['Service/default/a']);

    const before = await client.revision(rev);
    const rb = await client.rollback(rev);
    assert.equal(rb.revision, rev + 2);
    assert.equal(rb.message, `rollback to revision ${rev}`);
    assert.equal(rb.actor, 'alice');
    assert.deepEqual(rb.diff.added, ['Service/default/a']);
    assert.deepEqual((await client.revision(rev + 2)).resources, before.resources);
    await assert.rejects(client.revision(999), (err: unknown) =>
      isWeftError(err, 'WEFT_STORE_REVISION_NOT_FOUND'),
    );
    await assert.rejects(client.rollback(999), (err: unknown) =>
      isWeftError(err, 'WEFT_STORE_REVISION_NOT_FOUND'),
    );
  });

  void it('reports proxy status with the current revision', async () => {
    const st = await client.status();
    assert.equal(st.revision, await store.revision());
    assert.deepEqual(st.proxies, proxies);
  });

  void it('mounts extra routes with their own auth and status codes', async () => {
    const ok = await raw('/v1/nodes/n1/attest', {
      method: 'POST',
      body: JSON.stringify({ joinToken: 'join' }),
    });
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), { node: 'n1' });
    const denied = await raw('/v1/nodes/n1/attest', {
      method: 'POST',
      body: JSON.stringify({ joinToken: 'x' }),
    });
    assert.equal(denied.status, 403);
    assert.deepEqual(await denied.json(), { error: 'bad join token', code: 'WEFT_TEST_JOIN_DENIED' });
    assert.equal((await raw('/v1/echo-actor')).status, 401);
  });

  void it('answers bad input with JSON errors and keeps serving', async () => {
    const cases: [string, RequestInit, number, string][] = [
      ['/v1/apply', { method: 'POST', headers: auth, body: '{not json' }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/apply', { method: 'POST', headers: auth, body: '[]' }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/apply', { method: 'POST', headers: auth, body: '{"resources":[]}' }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/apply', { method: 'POST', headers: auth }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/delete', { method: 'POST', headers: auth, body: '{"keys":[1]}' }, 400, 'WEFT_API_BAD_REQUEST'],
      [
        '/v1/rollback',
        { method: 'POST', headers: auth, body: '{"revision":-1}' },
        400,
        'WEFT_API_BAD_REQUEST',
      ],
      ['/v1/history?limit=abc', { headers: auth }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/revisions/x', { headers: auth }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/nothing', { headers: auth }, 404, 'WEFT_API_NOT_FOUND'],
      ['/v1/resources/%E0%A4%A', { headers: auth }, 400, 'WEFT_API_BAD_REQUEST'],
      ['/v1/apply', { headers: auth }, 405, 'WEFT_API_METHOD_NOT_ALLOWED'],
      [
        '/v1/apply',
        { method: 'POST', headers: { ...auth, 'x-weft-actor': 'x'.repeat(200) }, body: '{"resources":[{}]}' },
        400,
        'WEFT_API_BAD_REQUEST',
      ],
      [
        '/v1/apply',
        {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ resources: [svc('x', { pad: 'y'.repeat(70_000) })] }),
        },
        413,
        'WEFT_API_BODY_TOO_LARGE',
      ],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await raw(path, init);
      assert.equal(res.status, status, `${init.method ?? 'GET'} ${path}`);
      const body = (await res.json()) as { code: string };
      assert.equal(body.code, code, `${init.method ?? 'GET'} ${path}`);
    }
    assert.equal((await raw('/v1/healthz')).status, 200);
  });

  void it('answers 413 to a body without content-length that grows past the limit', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 16) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(server.url + '/v1/apply', {
      method: 'POST',
      headers: auth,
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, 'WEFT_API_BODY_TOO_LARGE');
  });
});
