/**
 * `weft rollback REV [--message M]`: restore the mesh to the state of revision REV. The rollback is
 * itself a new revision (recorded with its actor and message), so it can be rolled back in turn.
 */
import {
  CLIENT_FLAGS_USAGE,
  UsageError,
  clientFor,
  describeDiff,
  describeOutcome,
  parseVerbArgs,
  printDiagnostics,
  runClientVerb,
} from './client-config.ts';
import type { CliIo, Verb } from './io.ts';

const USAGE =
  'usage: weft rollback REV [--message M] [--state-dir DIR | --server URL]\n' +
  '  REV               the revision whose state to restore (see `weft history`)\n' +
  '  -m, --message     recorded with the new revision (default "rollback to revision REV")\n' +
  CLIENT_FLAGS_USAGE;

export const rollback: Verb = (io: CliIo) =>
  runClientVerb('rollback', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, { message: { type: 'string', short: 'm' } });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('exactly one REV is required');
    const revArg = positionals[0]!;
    if (!/^\d+$/.test(revArg) || !Number.isSafeInteger(Number(revArg))) {
      throw new UsageError(`REV must be a revision number, not ${JSON.stringify(revArg)}`);
    }
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });
    const out = await client.rollback(
      Number(revArg),
      typeof values.message === 'string' ? { message: values.message } : {},
    );
    printDiagnostics(io, out.warnings);
    const what = out.unchanged
      ? `already at the state of revision ${revArg}: `
      : `rolled back to revision ${revArg}: `;
    io.stdout.write(what + describeOutcome(out) + '\n' + describeDiff(out));
    return 0;
  });
