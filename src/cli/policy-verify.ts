/**
 * `weft policy verify`: checks every Invariant (weft.dev/v1alpha1) against the policy set and prints,
 * for each violation, a concrete request that breaks it and the policies that let it through.
 * Exit 0 when all hold, 1 on any violation (CI gates on it), 2 on usage errors.
 * Invariants come from the same input as the mesh (-f manifests or the control plane), plus any
 * given with -i.
 */
import type { Resource } from '../api/index.ts';
import { analysisModel, createAnalyser, formatVerify, verifyInvariants } from '../policy/index.ts';
import type { InvariantInput, InvariantResult, InvariantSpec } from '../policy/index.ts';
import type { CliIo } from './io.ts';
import { CLIENT_FLAGS_USAGE, parseVerbArgs, runClientVerb, UsageError } from './client-config.ts';
import { loadManifests, loadPolicyInput } from './policy-input.ts';

export const VERIFY_USAGE =
  'usage: weft policy verify [-i INVARIANTS]... [-o text|json] [-f FILE|DIR]... | [--rev N] [--state-dir DIR | --server URL]\n' +
  '  -i PATH           Invariant manifests to check in addition to those in the input\n' +
  '  exit status: 0 all invariants hold, 1 some invariant is violated\n' +
  CLIENT_FLAGS_USAGE;

export function invariantsOf(
  resources: readonly Resource[],
  where?: (r: Resource) => string | undefined,
): InvariantInput[] {
  return resources
    .filter((r) => r.kind === 'Invariant')
    .map((r) => {
      const location = where?.(r);
      return {
        name: r.metadata.name,
        namespace: r.metadata.namespace,
        spec: r.spec as unknown as InvariantSpec,
        ...(location ? { location } : {}),
      };
    });
}

export function verifyResources(
  resources: readonly Resource[],
  extra: readonly Resource[] = [],
): InvariantResult[] {
  const a = createAnalyser(analysisModel(resources.filter((r) => r.kind !== 'Invariant')));
  return verifyInvariants(a, invariantsOf([...resources, ...extra]));
}

export async function runVerify(io: CliIo, argv: string[]): Promise<number> {
  return runClientVerb('policy verify', VERIFY_USAGE, io, async () => {
    const { values } = parseVerbArgs(argv, {
      file: { type: 'string', short: 'f', multiple: true },
      invariants: { type: 'string', short: 'i', multiple: true },
      rev: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
    });
    if (values['help']) {
      io.stdout.write(VERIFY_USAGE);
      return 0;
    }
    const resources = await loadPolicyInput(io, {
      file: values['file'] as string[] | undefined,
      'state-dir': values['state-dir'] as string | undefined,
      server: values['server'] as string | undefined,
      rev: values['rev'] as string | undefined,
    });
    const paths = (values['invariants'] as string[] | undefined) ?? [];
    const extra = paths.length > 0 ? await loadManifests(io, paths) : [];
    const results = verifyResources(resources, extra);
    if (results.length === 0)
      throw new UsageError('no Invariant resources in the input; add some or pass -i FILE');
    if (values['output'] === 'json') io.stdout.write(JSON.stringify(results, null, 2) + '\n');
    else io.stdout.write(formatVerify(results));
    return results.every((r) => r.holds) ? 0 : 1;
  });
}
