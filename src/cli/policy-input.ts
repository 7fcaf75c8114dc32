/**
 * Where `weft policy …` gets the resources it reasons about: manifests on disk (`-f`, offline) or
 * the running control plane (`--state-dir` / `--server`, the current state or `--rev N`).
 * Offline input goes through the same validation as `weft validate`; invalid input is an error.
 */
import type { Resource } from '../api/index.ts';
import { checkResources, formatDiagnostic, parseManifests } from '../api/index.ts';
import { WeftError } from '../lib/index.ts';
import { clientFor } from './client-config.ts';
import type { CliIo } from './io.ts';
import { readManifestSources } from './manifest-files.ts';

export async function loadPolicyInput(
  io: CliIo,
  flags: {
    file?: string[] | undefined;
    'state-dir'?: string | undefined;
    server?: string | undefined;
    rev?: string | undefined;
  },
): Promise<Resource[]> {
  if (flags.file && flags.file.length > 0) return loadManifests(io, flags.file);
  const client = clientFor(io, flags);
  if (flags.rev !== undefined) {
    const rev = Number(flags.rev);
    return (await client.revision(rev)).resources as Resource[];
  }
  return (await client.list()).items as unknown as Resource[];
}

export async function loadManifests(io: CliIo, paths: string[]): Promise<Resource[]> {
  const sources = await readManifestSources(paths, io.cwd);
  const parsed = parseManifests(sources);
  const diagnostics = [...parsed.diagnostics, ...checkResources(parsed.resources, parsed.sources)];
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new WeftError(
      'WEFT_VALIDATION_FAILED',
      `the manifests are not valid (run \`weft validate\`):\n${errors.map(formatDiagnostic).join('\n')}`,
    );
  }
  return parsed.resources;
}
