/**
 * splice over real loopback sockets: bytes both ways, half-close, errors, and the turn budget on
 * the chunks written into one side.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TurnBudget } from '../../lib/index.ts';
import { splice } from './splice.ts';
import type { SpliceBudgets, SpliceStats } from './splice.ts';

const T = { timeout: 20_000 };

/** A connected socket pair on 127.0.0.1. */
async function pair(t: TestContext): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  const s = await accepted;
  await new Promise<void>((r) => (client.connecting ? client.once('connect', r) : r()));
  server.close();
  t.after(() => {
    client.destroy();
    s.destroy();
  });
  for (const x of [client, s]) x.on('error', () => {});
  return [client, s];
}

/** Two pairs spliced in the middle: client ⇄ [a | splice | b] ⇄ server. */
async function chain(t: TestContext, budgets?: SpliceBudgets) {
  const [client, a] = await pair(t);
  const [b, server] = await pair(t);
  let done!: (r: { stats: SpliceStats; err?: Error }) => void;
  const finished = new Promise<{ stats: SpliceStats; err?: Error }>((r) => (done = r));
  splice(a, b, (stats, err) => done({ stats, err }), budgets);
  return { client, server, a, b, finished };
}

function readAll(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.once('end', () => resolve(text));
  });
}

for (const [name, budgets] of [
  ['without budgets', undefined],
  ['with a budget of 1 each way', { toA: new TurnBudget(1), toB: new TurnBudget(1) }],
] as const) {
  test(
    `${name}: bytes both ways, half-close in each direction, then onDone with the byte counts`,
    T,
    async (t) => {
      const c = await chain(t, budgets);
      const atServer = readAll(c.server);
      const atClient = readAll(c.client);
      const big = 'x'.repeat(1 << 20);
      c.client.write('hello ');
      c.client.end(big);
      assert.equal(await atServer, 'hello ' + big, 'all of it, in order, then end');
      c.server.end('bye');
      assert.equal(await atClient, 'bye');
      const { stats, err } = await c.finished;
      assert.equal(err, undefined);
      assert.deepEqual(stats, { bytesAtoB: 6 + big.length, bytesBtoA: 3 });
    },
  );

  test(`${name}: a reset on one side destroys the other and reports the error`, T, async (t) => {
    const c = await chain(t, budgets);
    const serverEnded = new Promise((r) => c.server.once('end', r));
    c.server.resume();
    c.client.resetAndDestroy();
    const { err } = await c.finished;
    assert.ok(err, 'onDone gets the error');
    await serverEnded;
    assert.ok(c.b.destroyed, 'the other side is destroyed');
  });
}

test('with a turn budget, chunks read in one turn beyond it are written in later turns', T, async (t) => {
  const budget = new TurnBudget(2);
  const chains = await Promise.all([0, 1, 2, 3].map(() => chain(t, { toB: budget })));
  const written: number[] = [];
  chains.forEach((c, i) => {
    const write = c.b.write.bind(c.b) as (chunk: Buffer) => boolean;
    c.b.write = ((chunk: Buffer) => {
      written.push(i);
      return write(chunk);
    }) as typeof c.b.write;
  });
  const received = chains.map((c) => new Promise((r) => c.server.once('data', r)));
  // Hold the four reading sides until each has its chunk, so that one turn reads all four.
  for (const c of chains) c.a.pause();
  chains.forEach((c, i) => c.client.write(`chunk ${i}`));
  for (let i = 0; i < 10_000 && !chains.every((c) => c.a.readableLength > 0); i++)
    await new Promise((r) => setImmediate(r));
  for (const c of chains) c.a.resume();
  // Scheduled before the budget's own end-of-turn callback: sees what the first turn wrote.
  const firstTurn = new Promise<number[]>((r) => setImmediate(() => r([...written])));
  assert.deepEqual(await firstTurn, [0, 1]);
  await Promise.all(received);
  assert.deepEqual(written, [0, 1, 2, 3], 'the rest follow, in order');
});
