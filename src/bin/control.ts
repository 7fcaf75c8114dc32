/**
 * `weft control`: run the control plane until SIGINT/SIGTERM.
 *   weft control [--state-dir DIR] [--host 127.0.0.1] [--api-port N] [--push-port N] [--trust-domain TD] [-v]
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { CliIo } from '../cli/io.ts';
import { startControlPlane } from '../control/control-plane.ts';
import { createLogger, errorMessage } from '../lib/index.ts';

export async function control(io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: io.argv,
      options: {
        'state-dir': { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        'api-port': { type: 'string', default: '0' },
        'push-port': { type: 'string', default: '0' },
        'trust-domain': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
      },
    }).values;
  } catch (err) {
    io.stderr.write(`weft control: ${errorMessage(err)}\n`);
    return 2;
  }
  const stateDir = resolve(io.cwd, args['state-dir'] ?? io.env['WEFT_STATE_DIR'] ?? '.weft');
  const logger = createLogger({
    sink: io.stderr,
    level: args.verbose ? 'debug' : 'info',
    fields: { process: 'control' },
  });
  const cp = await startControlPlane({
    stateDir,
    host: args.host,
    apiPort: Number(args['api-port']),
    pushPort: Number(args['push-port']),
    ...(args['trust-domain'] ? { trustDomain: args['trust-domain'] } : {}),
    logger,
  });
  io.stdout.write(`weft control ready: api ${cp.apiUrl}, push ${cp.pushAddress}, state ${stateDir}\n`);
  const signal = await io.interrupted;
  logger.info('stopping', { signal });
  await cp.close();
  return 0;
}
