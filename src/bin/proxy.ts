/**
 * `weft proxy`: run a node proxy until SIGINT/SIGTERM.
 *   weft proxy --node NAME [--state-dir DIR | --control URL --join-token-file F] [--admin HOST:PORT]
 *              [--turn-budget N] [-v]
 * --turn-budget (or WEFT_PROXY_TURN_BUDGET): HTTP/1.1 messages written into tunnels per event-loop
 * turn before the tunnel flushes; 0 turns the bound off (NodeProxyOptions.turnBudget).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CliIo } from '../cli/io.ts';
import { createLogger, errorMessage } from '../lib/index.ts';
import { NodeProxy } from '../proxy/node-proxy.ts';

// Not `import … from 'node:util'`: as an ES module it loads ~0.7 MB more (docs/architecture.md, "Proxy memory").
const { parseArgs } = process.getBuiltinModule('node:util');

export async function proxy(io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: io.argv,
      options: {
        node: { type: 'string' },
        'state-dir': { type: 'string' },
        control: { type: 'string' },
        'join-token-file': { type: 'string' },
        admin: { type: 'string', default: '127.0.0.1:0' },
        'turn-budget': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
      },
    }).values;
  } catch (err) {
    io.stderr.write(`weft proxy: ${errorMessage(err)}\n`);
    return 2;
  }
  if (!args.node) {
    io.stderr.write('weft proxy: --node NAME is required (the v1 Node resource this proxy serves)\n');
    return 2;
  }
  let apiUrl = args.control;
  let tokenFile = args['join-token-file'];
  const stateDirArg = args['state-dir'] ?? io.env['WEFT_STATE_DIR'];
  if (stateDirArg) {
    const stateDir = resolve(io.cwd, stateDirArg);
    if (!apiUrl) {
      try {
        apiUrl = (JSON.parse(await readFile(join(stateDir, 'control.json'), 'utf8')) as { apiUrl: string })
          .apiUrl;
      } catch {
        io.stderr.write(
          `weft proxy: no control plane found in ${stateDir} (control.json missing); start \`weft control --state-dir ${stateDirArg}\` first\n`,
        );
        return 1;
      }
    }
    tokenFile ??= join(stateDir, 'join-token');
  }
  if (!apiUrl || !tokenFile) {
    io.stderr.write(
      'weft proxy: say where the control plane is: --state-dir DIR, or --control URL with --join-token-file FILE\n',
    );
    return 2;
  }
  const budgetText = args['turn-budget'] ?? io.env['WEFT_PROXY_TURN_BUDGET'];
  const turnBudget = budgetText === undefined ? undefined : Number(budgetText);
  if (budgetText !== undefined && !/^\d{1,6}$/.test(budgetText)) {
    const from =
      args['turn-budget'] !== undefined ? '--turn-budget' : 'environment variable WEFT_PROXY_TURN_BUDGET';
    io.stderr.write(
      `weft proxy: ${from} must be a whole number ≥ 0 (messages per event-loop turn; 0 turns the bound off), got "${budgetText}"\n`,
    );
    return 2;
  }
  const joinToken = io.env['WEFT_JOIN_TOKEN'] ?? (await readFile(tokenFile, 'utf8')).trim();
  const [adminHost, adminPort] = splitHostPort(args.admin);
  const logger = createLogger({
    sink: io.stderr,
    level: args.verbose ? 'debug' : 'info',
    fields: { process: 'proxy', node: args.node },
  });
  const p = new NodeProxy({
    nodeName: args.node,
    apiUrl,
    joinToken,
    adminHost,
    adminPort,
    logger,
    turnBudget,
  });
  await p.start();
  io.stdout.write(`weft proxy ${args.node}: admin http://${adminHost}:${p.adminPort}\n`);
  const signal = await io.interrupted;
  logger.info('stopping', { signal });
  await p.stop();
  return 0;
}

function splitHostPort(v: string): [string, number] {
  const i = v.lastIndexOf(':');
  return i < 0 ? ['127.0.0.1', Number(v)] : [v.slice(0, i), Number(v.slice(i + 1))];
}
