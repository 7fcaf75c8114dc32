/**
 * `weft history [--limit N] [-o json]`: the audit trail, newest first: each revision's number, time,
 * actor, what it changed and its message. `weft rollback REV` restores any of them.
 */
import {
  CLIENT_FLAGS_USAGE,
  UsageError,
  clientFor,
  formatTable,
  parseVerbArgs,
  runClientVerb,
} from './client-config.ts';
import type { CliIo, Verb } from './io.ts';

const USAGE =
  'usage: weft history [--limit N] [-o json] [--state-dir DIR | --server URL]\n' +
  '  --limit N         show the newest N revisions (default 20)\n' +
  '  -o, --output      json for machines\n' +
  CLIENT_FLAGS_USAGE;

export const history: Verb = (io: CliIo) =>
  runClientVerb('history', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, {
      limit: { type: 'string' },
      output: { type: 'string', short: 'o' },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const limitArg = (values.limit as string | undefined) ?? '20';
    if (!/^\d+$/.test(limitArg) || Number(limitArg) < 1 || Number(limitArg) > 10_000) {
      throw new UsageError(`--limit must be a number from 1 to 10000, not ${JSON.stringify(limitArg)}`);
    }
    const output = values.output as string | undefined;
    if (output !== undefined && output !== 'json') throw new UsageError('-o must be json');
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });
    const revisions = await client.history({ limit: Number(limitArg) });
    if (output === 'json') {
      io.stdout.write(JSON.stringify(revisions, null, 2) + '\n');
      return 0;
    }
    if (revisions.length === 0) {
      io.stderr.write('No revisions yet: nothing has been applied.\n');
      return 0;
    }
    io.stdout.write(
      formatTable(
        ['REVISION', 'TIME', 'ACTOR', 'CHANGES', 'MESSAGE'],
        revisions.map((r) => [
          String(r.revision),
          r.time.replace(/\.\d+Z$/, 'Z'),
          r.actor,
          `+${r.diff.added.length} ~${r.diff.changed.length} -${r.diff.deleted.length}`,
          r.message.replace(/\s+/g, ' '),
        ]),
      ),
    );
    return 0;
  });
