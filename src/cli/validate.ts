/**
 * `weft validate -f <file|dir> [-f ...] [-o json]`: check manifests offline — each document against
 * its kind's schema, then the cross-resource checks over the whole set, the same checks the control
 * plane runs before an apply. Diagnostics go to stderr (`file:line:col: path: message`), the summary
 * to stdout; exit 1 when there is an error, 0 otherwise (warnings allowed), 2 on usage errors.
 */
import { parseManifests, checkResources, formatDiagnostic } from '../api/index.ts';
import type { Diagnostic } from '../api/index.ts';
import { isWeftError } from '../lib/index.ts';
import type { Verb, CliIo } from './io.ts';
import { readManifestSources } from './manifest-files.ts';

const USAGE = 'usage: weft validate -f <file|dir> [-f <file|dir> ...] [-o json]\n';

function parseArgs(argv: readonly string[]): { files: string[]; output: 'text' | 'json' } | string {
  const files: string[] = [];
  let output: 'text' | 'json' = 'text';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '-f' || flag === '--filename') {
      const v = value();
      if (!v) return `${flag} needs a file or directory`;
      files.push(v);
    } else if (flag === '-o' || flag === '--output') {
      const v = value();
      if (v !== 'json' && v !== 'text') return `-o must be json or text, got ${JSON.stringify(v ?? '')}`;
      output = v;
    } else if (flag === '-h' || flag === '--help') return '';
    else return `unknown argument ${JSON.stringify(a)}`;
  }
  if (files.length === 0) return 'at least one -f <file|dir> is required';
  return { files, output };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const validate: Verb = async (io: CliIo) => {
  const args = parseArgs(io.argv);
  if (typeof args === 'string') {
    if (args === '') {
      io.stdout.write(USAGE);
      return 0;
    }
    io.stderr.write(`weft validate: ${args}\n${USAGE}`);
    return 2;
  }
  let sources;
  try {
    sources = await readManifestSources(args.files, io.cwd);
  } catch (err) {
    if (!isWeftError(err)) throw err;
    io.stderr.write(`weft validate: ${err.message}\n`);
    return 2;
  }
  const parsed = parseManifests(sources);
  const diagnostics: Diagnostic[] = [
    ...parsed.diagnostics,
    ...checkResources(parsed.resources, parsed.sources),
  ];
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (args.output === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          valid: errors === 0,
          files: sources.map((s) => s.file),
          resources: parsed.resources.map((r) => ({
            kind: r.kind,
            namespace: r.metadata.namespace,
            name: r.metadata.name,
          })),
          errors,
          warnings,
          diagnostics,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    for (const d of diagnostics) io.stderr.write(formatDiagnostic(d) + '\n');
    io.stdout.write(
      `${errors === 0 ? 'valid' : 'invalid'}: ${plural(parsed.resources.length, 'resource')} in ${plural(sources.length, 'file')}, ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`,
    );
  }
  return errors > 0 ? 1 : 0;
};
