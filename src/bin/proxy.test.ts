import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CliIo } from '../cli/io.ts';
import { proxy } from './proxy.ts';

function io(argv: string[], env: Record<string, string> = {}): { io: CliIo; err: () => string } {
  let err = '';
  return {
    io: {
      argv,
      env,
      cwd: '/',
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      interrupted: new Promise(() => {}),
    },
    err: () => err,
  };
}

const base = ['--node', 'n1', '--control', 'http://127.0.0.1:9', '--join-token-file', '/nonexistent'];

void test('--turn-budget must be a whole number ≥ 0, before anything starts', async () => {
  for (const bad of ['-1', '1.5', 'many', '']) {
    const r = io([...base, `--turn-budget=${bad}`]);
    assert.equal(await proxy(r.io), 2, bad);
    assert.match(r.err(), /--turn-budget must be a whole number ≥ 0 .*0 turns the bound off\), got "/);
  }
});

void test('WEFT_PROXY_TURN_BUDGET is checked the same way, and named in the error', async () => {
  const r = io(base, { WEFT_PROXY_TURN_BUDGET: 'x' });
  assert.equal(await proxy(r.io), 2);
  assert.match(r.err(), /WEFT_PROXY_TURN_BUDGET must be a whole number/);
});
