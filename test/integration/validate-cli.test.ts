/**
 * `weft validate` end to end: the real entry point as a child process, its stdout, stderr and exit
 * status for good, bad and warning-only manifests, JSON output and usage errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
const WEFT = join(ROOT, 'src/bin/weft.ts');

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT, ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

void test('good manifests: exit 0, summary on stdout, nothing on stderr', async () => {
  const r = await weft(['validate', '-f', 'test/fixtures/manifests/good']);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'valid: 25 resources in 8 files, 0 errors, 0 warnings\n');
  assert.equal(r.code, 0);
});

void test('bad manifests: every diagnostic with file:line:col, exit 1', async () => {
  const r = await weft([
    'validate',
    '-f',
    'test/fixtures/manifests/bad/routes.yaml',
    '-f',
    'test/fixtures/manifests/good/mesh.yaml',
  ]);
  assert.equal(
    r.stderr,
    [
      'test/fixtures/manifests/bad/routes.yaml:14:19: spec.rules[0].matches[0].path.type: "Prefix" is not one of Exact, PathPrefix, RegularExpression',
      'test/fixtures/manifests/bad/routes.yaml:19:11: spec.rules[0].backendRefs[0].wieght: unknown field "wieght"; did you mean "weight"?',
      'test/fixtures/manifests/bad/routes.yaml:22:7: kind: unknown kind "Servce"; did you mean "Service"? (Weft knows Namespace, Node, MeshConfig, Service, Workload, HTTPRoute, GRPCRoute, DestinationRule, AuthorizationPolicy, PeerAuthentication, NetworkPolicy, FaultInjection, RateLimitPolicy, Invariant)',
      '',
    ].join('\n'),
  );
  assert.equal(r.stdout, 'invalid: 4 resources in 2 files, 3 errors, 0 warnings\n');
  assert.equal(r.code, 1);
});

void test('warnings alone: exit 0', async () => {
  const r = await weft(['validate', '-f', 'test/fixtures/manifests/warn']);
  assert.equal(
    r.stderr,
    'test/fixtures/manifests/warn/lonely.yaml:8:5: warning: spec.selector: selects no Workload in namespace default\n',
  );
  assert.equal(r.code, 0);
});

void test('-o json', async () => {
  const r = await weft(['validate', '-o', 'json', '-f', 'test/fixtures/manifests/bad']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as {
    valid: boolean;
    errors: number;
    diagnostics: { path: string; line: number }[];
  };
  assert.equal(out.valid, false);
  assert.equal(out.errors, 3);
  assert.deepEqual(
    out.diagnostics.map((d) => [d.line, d.path]),
    [
      [14, 'spec.rules[0].matches[0].path.type'],
      [19, 'spec.rules[0].backendRefs[0].wieght'],
      [22, 'kind'],
    ],
  );
});

void test('usage errors: exit 2', async () => {
  const none = await weft(['validate']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /at least one -f/);
  const missing = await weft(['validate', '-f', 'test/fixtures/manifests/nope.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml: no such file or directory/);
});
