/**
 * `weft policy diff -f proposed/`: the flows a change would open and close, before it is applied.
 * The base is the running control plane (current state or --rev N) or, offline, --base DIR.
 * Both sides are analysed over the common refinement of their request classes (policy/analysis
 * diff.ts), so every opened or closed flow is exact and comes with an example request.
 */
import type { Resource } from '../api/index.ts';
import { analysisModel, createAnalyser, diffPolicies, formatDiff } from '../policy/index.ts';
import type { PolicyDiff } from '../policy/index.ts';
import type { CliIo } from './io.ts';
import { CLIENT_FLAGS_USAGE, parseVerbArgs, runClientVerb, UsageError } from './client-config.ts';
import { loadManifests, loadPolicyInput } from './policy-input.ts';

export const DIFF_USAGE =
  'usage: weft policy diff -f PROPOSED... [--base CURRENT... | --rev N] [-o text|json] [--state-dir DIR | --server URL]\n' +
  '  -f PATH           the proposed manifests\n' +
  '  --base PATH       compare offline against these manifests instead of the control plane\n' +
  '  --rev N           compare against revision N of the control plane\n' +
  CLIENT_FLAGS_USAGE;

export function diffResources(base: readonly Resource[], proposed: readonly Resource[]): PolicyDiff {
  const strip = (rs: readonly Resource[]) => rs.filter((r) => r.kind !== 'Invariant');
  return diffPolicies(
    createAnalyser(analysisModel(strip(base))),
    createAnalyser(analysisModel(strip(proposed))),
  );
}

export async function runDiff(io: CliIo, argv: string[]): Promise<number> {
  return runClientVerb('policy diff', DIFF_USAGE, io, async () => {
    const { values } = parseVerbArgs(argv, {
      file: { type: 'string', short: 'f', multiple: true },
      base: { type: 'string', multiple: true },
      rev: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
    });
    if (values['help']) {
      io.stdout.write(DIFF_USAGE);
      return 0;
    }
    const proposedPaths = values['file'] as string[] | undefined;
    if (!proposedPaths || proposedPaths.length === 0) throw new UsageError('-f PROPOSED is required');
    const basePaths = values['base'] as string[] | undefined;
    if (basePaths && values['rev'] !== undefined) throw new UsageError('--base and --rev exclude each other');
    const base = basePaths
      ? await loadManifests(io, basePaths)
      : await loadPolicyInput(io, {
          'state-dir': values['state-dir'] as string | undefined,
          server: values['server'] as string | undefined,
          rev: values['rev'] as string | undefined,
        });
    const proposed = await loadManifests(io, proposedPaths);
    const d = diffResources(base, proposed);
    if (values['output'] === 'json') io.stdout.write(JSON.stringify(d, null, 2) + '\n');
    else io.stdout.write(formatDiff(d));
    return 0;
  });
}
