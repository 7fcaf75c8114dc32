/**
 * `weft apply -f <file|dir>... [--message M] [--dry-run]`: parse the manifests locally first (so a
 * mistake is reported with file:line:col before anything is sent), then send them to the control
 * plane, which validates them again with the whole resulting state and applies them atomically as
 * one revision — or rejects them whole.
 */
import { checkResources, formatDiagnostic, parseManifests } from '../api/index.ts';
import type { Diagnostic } from '../api/index.ts';
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
import { readManifestSources } from './manifest-files.ts';

const USAGE =
  'usage: weft apply -f <file|dir> [-f ...] [--message M] [--dry-run] [--state-dir DIR | --server URL]\n' +
  '  -f, --filename    manifest file or directory (YAML or JSON), repeatable\n' +
  '  -m, --message     recorded with the revision (see `weft history`)\n' +
  '  --dry-run         validate and show what would change, store nothing\n' +
  CLIENT_FLAGS_USAGE;

export const apply: Verb = (io: CliIo) =>
  runClientVerb('apply', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, {
      filename: { type: 'string', short: 'f', multiple: true },
      message: { type: 'string', short: 'm' },
      'dry-run': { type: 'boolean' },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const files = (values.filename as string[] | undefined) ?? [];
    if (files.length === 0) throw new UsageError('at least one -f <file|dir> is required');
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);

    const sources = await readManifestSources(files, io.cwd);
    const parsed = parseManifests(sources);
    const local: Diagnostic[] = [...parsed.diagnostics, ...checkResources(parsed.resources, parsed.sources)];
    for (const d of local) io.stderr.write(formatDiagnostic(d) + '\n');
    const errors = local.filter((d) => d.severity === 'error').length;
    if (errors > 0) {
      io.stderr.write(
        `weft apply: ${errors} error${errors === 1 ? '' : 's'} in the manifests; nothing was applied\n`,
      );
      return 1;
    }
    if (parsed.resources.length === 0) {
      io.stderr.write(`weft apply: no resources found in ${files.join(', ')}\n`);
      return 1;
    }
    // The local check already covered the manifests alone; the server checks them together with
    // everything already stored, so only its warnings are new.
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });
    const out = await client.apply(parsed.resources, {
      ...(typeof values.message === 'string' ? { message: values.message } : {}),
      ...(values['dry-run'] ? { dryRun: true } : {}),
    });
    const localKeys = new Set(local.map((d) => `${d.code} ${d.path} ${d.message}`));
    printDiagnostics(
      io,
      out.warnings.filter((w) => !localKeys.has(`${w.code} ${w.path} ${w.message}`)),
    );
    io.stdout.write(describeOutcome(out) + '\n' + describeDiff(out));
    return 0;
  });
