import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROXY_NODE_FLAGS, ensureProxyNodeFlags, missingNodeFlags, restartArgs } from './proxy-flags.ts';

const SEMI = { flag: '--max-semi-space-size=1', decidedBy: ['--max-semi-space-size', '--max-heap-size'] };

test('missingNodeFlags: a flag is missing until execArgv or NODE_OPTIONS decides it', () => {
  assert.deepEqual(missingNodeFlags([SEMI], [], undefined), ['--max-semi-space-size=1']);
  assert.deepEqual(missingNodeFlags([SEMI], ['--max-semi-space-size=1'], undefined), []);
  // The operator's own value wins, whatever it is and however it is spelt.
  assert.deepEqual(missingNodeFlags([SEMI], ['--max-semi-space-size=16'], undefined), []);
  assert.deepEqual(missingNodeFlags([SEMI], ['--max_semi_space_size=16'], undefined), []);
  assert.deepEqual(missingNodeFlags([SEMI], [], '--inspect  --max-semi-space-size=8'), []);
  assert.deepEqual(missingNodeFlags([SEMI], ['--max-heap-size=64'], undefined), []);
  // Other flags and look-alikes do not count.
  assert.deepEqual(
    missingNodeFlags([SEMI], ['--max-old-space-size=64', '--import', 'x.mjs'], '--no-warnings'),
    ['--max-semi-space-size=1'],
  );
  assert.deepEqual(missingNodeFlags([SEMI], ['--max-semi-space-size-x=1'], undefined), [
    '--max-semi-space-size=1',
  ]);
});

test('restartArgs: node, the new flags before the old ones, then the same script and arguments', () => {
  assert.deepEqual(
    restartArgs(
      '/n/node',
      ['--max-semi-space-size=1'],
      ['--import', 'x.mjs'],
      ['/n/node', '/w/bin/weft.mjs', 'proxy', '--node', 'a'],
    ),
    ['/n/node', '--max-semi-space-size=1', '--import', 'x.mjs', '/w/bin/weft.mjs', 'proxy', '--node', 'a'],
  );
});

function fakeProcess(
  execArgv: string[],
  env: Record<string, string>,
  execve?: (f: string, a: readonly string[]) => never,
) {
  const calls: { file: string; args: readonly string[] }[] = [];
  let stderr = '';
  const proc = {
    execPath: '/n/node',
    execArgv,
    argv: ['/n/node', '/w/bin/weft.mjs', 'proxy', '--node', 'a'],
    env,
    execve:
      execve ??
      ((file: string, args?: readonly string[]): never => {
        calls.push({ file, args: args ?? [] });
        throw new Error('unreachable in a real execve');
      }),
    stderr: { write: (s: string) => (stderr += s) },
  };
  return { proc, calls, stderr: () => stderr };
}

test('ensureProxyNodeFlags restarts the process with every missing proxy flag', () => {
  const { proc, calls } = fakeProcess([], {});
  ensureProxyNodeFlags(proc);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.file, '/n/node');
  assert.deepEqual(calls[0]!.args, [
    '/n/node',
    ...PROXY_NODE_FLAGS.map((f) => f.flag),
    '/w/bin/weft.mjs',
    'proxy',
    '--node',
    'a',
  ]);
});

test('ensureProxyNodeFlags does nothing when the flags are there (no restart loop) or set by the operator', () => {
  const done = fakeProcess(
    PROXY_NODE_FLAGS.map((f) => f.flag),
    {},
  );
  ensureProxyNodeFlags(done.proc);
  assert.equal(done.calls.length, 0);
  const operator = fakeProcess([], { NODE_OPTIONS: '--max-semi-space-size=16' });
  ensureProxyNodeFlags(operator.proc);
  assert.equal(operator.calls.length, 0);
});

test('ensureProxyNodeFlags carries on with the defaults when execve is missing or fails', () => {
  const { proc } = fakeProcess([], {});
  ensureProxyNodeFlags({ ...proc, execve: undefined });
  const failing = fakeProcess([], {}, () => {
    throw new Error('EACCES');
  });
  ensureProxyNodeFlags(failing.proc);
  assert.equal(
    failing.stderr(),
    `weft proxy: could not restart with ${PROXY_NODE_FLAGS.map((f) => f.flag).join(' ')} (EACCES); running with V8's default heap sizing\n`,
  );
});
