/**
 * `weft status [-o json]`: which node proxies are connected and whether each runs the latest config.
 * Exit status 0 only when every proxy is connected and has acked the latest version (scripts and
 * `weft up` wait on it), 1 otherwise.
 */
import type { ProxyStatus } from '../api/client/index.ts';
import {
  CLIENT_FLAGS_USAGE,
  UsageError,
  clientFor,
  formatAge,
  formatTable,
  parseVerbArgs,
  runClientVerb,
} from './client-config.ts';
import type { CliIo, Verb } from './io.ts';

const USAGE =
  'usage: weft status [-o json] [--state-dir DIR | --server URL]\n' +
  '  exit status 0 only when every proxy is connected and has acked the latest config\n' +
  '  -o, --output      json for machines\n' +
  CLIENT_FLAGS_USAGE;

/** Connected and running the latest config. */
export function inSync(p: ProxyStatus): boolean {
  return p.connected && p.ackedVersion !== '' && p.ackedVersion === p.latestVersion;
}

export const status: Verb = (io: CliIo) =>
  runClientVerb('status', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, { output: { type: 'string', short: 'o' } });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const output = values.output as string | undefined;
    if (output !== undefined && output !== 'json') throw new UsageError('-o must be json');
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });
    const st = await client.status();
    const ok = st.proxies.every(inSync);
    if (output === 'json') {
      io.stdout.write(JSON.stringify({ ...st, ready: ok }, null, 2) + '\n');
      return ok ? 0 : 1;
    }
    io.stdout.write(`revision ${st.revision}\n`);
    if (st.proxies.length === 0) {
      io.stdout.write('no proxies\n');
      return 0;
    }
    // The CLI is the edge: wall-clock time only for the SINCE column.
    const now = Date.now();
    io.stdout.write(
      formatTable(
        ['NODE', 'CONNECTED', 'IN-SYNC', 'ACKED', 'LATEST', 'SINCE', 'LAST-NACK'],
        st.proxies.map((p) => [
          p.node,
          p.connected ? 'yes' : 'no',
          inSync(p) ? 'yes' : 'no',
          p.ackedVersion || '-',
          p.latestVersion || '-',
          formatAge(p.since, now),
          p.lastNack ? `${p.lastNack.version}: ${p.lastNack.message.replace(/\s+/g, ' ')}` : '-',
        ]),
      ),
    );
    const behind = st.proxies.filter((p) => !inSync(p)).length;
    if (behind > 0) io.stderr.write(`${behind} of ${st.proxies.length} proxies not in sync\n`);
    return ok ? 0 : 1;
  });
