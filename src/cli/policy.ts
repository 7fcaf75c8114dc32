/**
 * `weft policy <subcommand>`: the policy tools. Each subcommand lives in its own file; this one
 * only dispatches.
 *   explain   the decision for one request and the chain that produced it
 *   matrix, verify, diff, lint   the analyser (policy-matrix.ts, policy-verify.ts, policy-diff.ts, policy-lint.ts)
 */
import type { CliIo, Verb } from './io.ts';
import { CLIENT_FLAGS_USAGE, parseVerbArgs, runClientVerb, UsageError } from './client-config.ts';
import { explain, formatExplanation } from './policy-explain.ts';
import { loadPolicyInput } from './policy-input.ts';
import { MATRIX_USAGE, runMatrix } from './policy-matrix.ts';
import { VERIFY_USAGE, runVerify } from './policy-verify.ts';
import { DIFF_USAGE, runDiff } from './policy-diff.ts';
import { LINT_USAGE, runLint } from './policy-lint.ts';

const EXPLAIN_USAGE =
  'usage: weft policy explain --from <workload|ns/workload|spiffe-id> --to <service>[:port]\n' +
  '                           [-X METHOD] [--path P] [-H "k: v"]... [-n NS] [-o text|json]\n' +
  '                           [-f FILE|DIR]... | [--rev N] [--state-dir DIR | --server URL]\n' +
  '  -f PATH           reason about manifests offline instead of the running control plane\n' +
  '  --rev N           the state as of revision N of the control plane\n' +
  CLIENT_FLAGS_USAGE;

const SUBCOMMANDS: Record<string, { usage: string; run: (io: CliIo, argv: string[]) => Promise<number> }> = {
  explain: { usage: EXPLAIN_USAGE, run: runExplain },
  matrix: { usage: MATRIX_USAGE, run: runMatrix },
  verify: { usage: VERIFY_USAGE, run: runVerify },
  diff: { usage: DIFF_USAGE, run: runDiff },
  lint: { usage: LINT_USAGE, run: runLint },
};

export const policy: Verb = async (io) => {
  const [sub, ...rest] = io.argv;
  const entry = sub ? SUBCOMMANDS[sub] : undefined;
  if (!entry) {
    io.stderr.write(
      `weft policy: ${sub ? `unknown subcommand "${sub}"` : 'a subcommand is needed'}\n\nsubcommands: ${Object.keys(SUBCOMMANDS).join(', ')}\n`,
    );
    return 2;
  }
  return entry.run(io, rest);
};

async function runExplain(io: CliIo, argv: string[]): Promise<number> {
  return runClientVerb('policy explain', EXPLAIN_USAGE, io, async () => {
    const { values } = parseVerbArgs(argv, {
      from: { type: 'string' },
      to: { type: 'string' },
      method: { type: 'string', short: 'X', default: 'GET' },
      path: { type: 'string', default: '/' },
      header: { type: 'string', short: 'H', multiple: true },
      namespace: { type: 'string', short: 'n', default: 'default' },
      file: { type: 'string', short: 'f', multiple: true },
      rev: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
    });
    if (values['help']) {
      io.stdout.write(EXPLAIN_USAGE);
      return 0;
    }
    if (typeof values['from'] !== 'string' || typeof values['to'] !== 'string') {
      throw new UsageError('--from and --to are required');
    }
    const headers: Record<string, string> = {};
    for (const h of (values['header'] as string[] | undefined) ?? []) {
      const i = h.indexOf(':');
      if (i <= 0) throw new UsageError(`-H "${h}": expected "name: value"`);
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    const resources = await loadPolicyInput(io, {
      file: values['file'] as string[] | undefined,
      'state-dir': values['state-dir'] as string | undefined,
      server: values['server'] as string | undefined,
      rev: values['rev'] as string | undefined,
    });
    const result = explain(resources, {
      from: values['from'],
      to: values['to'],
      method: String(values['method']).toUpperCase(),
      path: String(values['path']),
      headers,
      namespace: String(values['namespace']),
    });
    if (values['output'] === 'json') io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else io.stdout.write(formatExplanation(result));
    return 0;
  });
}
