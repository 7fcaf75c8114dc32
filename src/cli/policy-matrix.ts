/**
 * `weft policy matrix`: who can reach whom, on which port, with which requests — every request class
 * the policies distinguish, decided by the engine the proxies run (policy/analysis). Offline (-f) or
 * against the control plane (current state or --rev N). Output: a table, JSON, or a compact graph.
 */
import type { Resource } from '../api/index.ts';
import { analysisModel, computeMatrix, createAnalyser, formatMatrix, matrixGraph } from '../policy/index.ts';
import type { CliIo } from './io.ts';
import { CLIENT_FLAGS_USAGE, parseVerbArgs, runClientVerb, UsageError } from './client-config.ts';
import { loadPolicyInput } from './policy-input.ts';

export const MATRIX_USAGE =
  'usage: weft policy matrix [-o table|json|graph] [--all] [-f FILE|DIR]... | [--rev N] [--state-dir DIR | --server URL]\n' +
  '  -o graph          nodes and edges only (for dashboards)\n' +
  '  --all             also list (source, destination, port) cells where nothing is allowed\n' +
  CLIENT_FLAGS_USAGE;

/** The matrix output for resources, in one of the three formats. */
export function renderMatrix(resources: readonly Resource[], format: string, all = false): string {
  const m = computeMatrix(createAnalyser(analysisModel(resources)), { includeDenied: all });
  if (format === 'json') return JSON.stringify(m, null, 2) + '\n';
  if (format === 'graph') return JSON.stringify(matrixGraph(m)) + '\n';
  return formatMatrix(m);
}

export async function runMatrix(io: CliIo, argv: string[]): Promise<number> {
  return runClientVerb('policy matrix', MATRIX_USAGE, io, async () => {
    const { values } = parseVerbArgs(argv, {
      file: { type: 'string', short: 'f', multiple: true },
      rev: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      all: { type: 'boolean' },
    });
    if (values['help']) {
      io.stdout.write(MATRIX_USAGE);
      return 0;
    }
    const format = String(values['output']);
    if (!['table', 'json', 'graph'].includes(format))
      throw new UsageError(`-o ${format}: expected table, json or graph`);
    const resources = await loadPolicyInput(io, {
      file: values['file'] as string[] | undefined,
      'state-dir': values['state-dir'] as string | undefined,
      server: values['server'] as string | undefined,
      rev: values['rev'] as string | undefined,
    });
    io.stdout.write(renderMatrix(resources, format, values['all'] === true));
    return 0;
  });
}
