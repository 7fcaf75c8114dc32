/**
 * `weft policy lint`: findings about the policy set (shadowed or never-deciding ALLOW rules, HTTP
 * fields on TCP ports, selectors selecting nothing, principals outside the trust domain, PERMISSIVE
 * ports, over-broad allows into sensitive namespaces), each with file:line and a fix.
 * Exit 0 when there are no findings, 1 otherwise.
 */
import { parseManifests, resourceKey } from '../api/index.ts';
import type { Resource, SourceRef } from '../api/index.ts';
import { analysisModel, createAnalyser, formatLint, lintPolicies } from '../policy/index.ts';
import type { LintFinding } from '../policy/index.ts';
import type { CliIo } from './io.ts';
import { CLIENT_FLAGS_USAGE, parseVerbArgs, runClientVerb } from './client-config.ts';
import { loadManifests, loadPolicyInput } from './policy-input.ts';
import { readManifestSources } from './manifest-files.ts';

export const LINT_USAGE =
  'usage: weft policy lint [--sensitive NS]... [-o text|json] [-f FILE|DIR]... | [--rev N] [--state-dir DIR | --server URL]\n' +
  '  --sensitive NS    treat NS as sensitive (besides the root namespace and weft.dev/sensitive=true)\n' +
  '  exit status: 0 no findings, 1 findings\n' +
  CLIENT_FLAGS_USAGE;

export function lintResources(
  resources: readonly Resource[],
  sources?: ReadonlyMap<string, SourceRef>,
  sensitive: readonly string[] = [],
): LintFinding[] {
  const a = createAnalyser(analysisModel(resources.filter((r) => r.kind !== 'Invariant')));
  return lintPolicies(a, {
    sensitiveNamespaces: sensitive,
    locate: (kind, namespace, name) => {
      const s = sources?.get(resourceKey({ kind, metadata: { namespace, name } }));
      return s ? `${s.file}:${s.line}` : undefined;
    },
  });
}

export async function runLint(io: CliIo, argv: string[]): Promise<number> {
  return runClientVerb('policy lint', LINT_USAGE, io, async () => {
    const { values } = parseVerbArgs(argv, {
      file: { type: 'string', short: 'f', multiple: true },
      sensitive: { type: 'string', multiple: true },
      rev: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
    });
    if (values['help']) {
      io.stdout.write(LINT_USAGE);
      return 0;
    }
    const files = values['file'] as string[] | undefined;
    let resources: Resource[];
    let sources: Map<string, SourceRef> | undefined;
    if (files && files.length > 0) {
      resources = await loadManifests(io, files);
      sources = parseManifests(await readManifestSources(files, io.cwd)).sources;
    } else {
      resources = await loadPolicyInput(io, {
        'state-dir': values['state-dir'] as string | undefined,
        server: values['server'] as string | undefined,
        rev: values['rev'] as string | undefined,
      });
    }
    const findings = lintResources(resources, sources, (values['sensitive'] as string[] | undefined) ?? []);
    if (values['output'] === 'json') io.stdout.write(JSON.stringify(findings, null, 2) + '\n');
    else io.stdout.write(formatLint(findings));
    return findings.length === 0 ? 0 : 1;
  });
}
