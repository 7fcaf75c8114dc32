/**
 * `weft delete KIND NAME... [-n NS]` or `weft delete -f <file|dir>...`: delete resources as one
 * revision. Every named resource must exist, otherwise nothing is deleted (the control plane checks
 * this and the state that would remain, atomically).
 */
import { formatDiagnostic, parseManifests, resourceKey } from '../api/index.ts';
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
import { resolveKind } from './get.ts';
import type { CliIo, Verb } from './io.ts';
import { readManifestSources } from './manifest-files.ts';

const USAGE =
  'usage: weft delete KIND NAME... [-n NS] [--message M] [--state-dir DIR | --server URL]\n' +
  '       weft delete -f <file|dir> [-f ...] [--message M]\n' +
  '  -n, --namespace   namespace (default: default)\n' +
  '  -f, --filename    delete the resources these manifests define\n' +
  '  -m, --message     recorded with the revision (see `weft history`)\n' +
  CLIENT_FLAGS_USAGE;

export const del: Verb = (io: CliIo) =>
  runClientVerb('delete', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, {
      namespace: { type: 'string', short: 'n' },
      filename: { type: 'string', short: 'f', multiple: true },
      message: { type: 'string', short: 'm' },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const files = (values.filename as string[] | undefined) ?? [];
    let keys: string[];
    if (files.length > 0) {
      if (positionals.length > 0) throw new UsageError('give either -f or KIND NAME, not both');
      const parsed = parseManifests(await readManifestSources(files, io.cwd));
      const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
      if (errors.length > 0) {
        for (const d of errors) io.stderr.write(formatDiagnostic(d) + '\n');
        io.stderr.write('weft delete: the manifests have errors; nothing was deleted\n');
        return 1;
      }
      keys = parsed.resources.map((r) => resourceKey(r));
    } else {
      const [kindArg, ...names] = positionals;
      if (!kindArg || names.length === 0) throw new UsageError('KIND and at least one NAME are required');
      const info = resolveKind(kindArg);
      const namespace = info.namespaced ? ((values.namespace as string | undefined) ?? 'default') : '';
      keys = [...new Set(names)].map((name) => `${info.kind}/${namespace}/${name}`);
    }
    if (keys.length === 0) {
      io.stderr.write('weft delete: the manifests define no resources\n');
      return 1;
    }
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });
    const out = await client.delete(
      keys,
      typeof values.message === 'string' ? { message: values.message } : {},
    );
    printDiagnostics(io, out.warnings);
    io.stdout.write(describeOutcome(out) + '\n' + describeDiff(out));
    return 0;
  });
