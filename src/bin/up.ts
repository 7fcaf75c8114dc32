/**
 * `weft up -f <file|dir> [--nodes N] [--state-dir DIR] [--watch] [-v]`: a whole mesh on this
 * machine. Validates the manifests first (the same diagnostics as `weft validate`; nothing starts on
 * an error), then hands them to the local runtime (src/runtime) and runs until SIGINT/SIGTERM.
 * Assembly only: manifest reading and client configuration come from src/cli, the rest from
 * src/runtime.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ControlClient } from '../api/client/index.ts';
import { checkResources, formatDiagnostic, parseManifests } from '../api/index.ts';
import type { Diagnostic, Resource, SourceRef } from '../api/index.ts';
import { resolveClientConfig } from '../cli/client-config.ts';
import type { CliIo } from '../cli/io.ts';
import { readManifestSources } from '../cli/manifest-files.ts';
import { errorMessage, systemClock } from '../lib/index.ts';
import { LocalMesh } from '../runtime/index.ts';
import type { DesiredState } from '../runtime/index.ts';

const USAGE = `usage: weft up -f <file|dir> [-f ...] [--nodes N] [--state-dir DIR] [--watch] [-v]

Runs the control plane, one node proxy per node and every workload of the manifests on this
machine, prints where everything is, and stops it all on Ctrl-C.
  -f, --filename PATH  manifest file or directory (repeatable)
  --nodes N            nodes to create when the manifests define no v1 Node (default 2)
  --state-dir DIR      state directory (default .weft)
  --watch              re-apply the manifests when files change
  -v, --verbose        more events
`;

/** Entry file of weft (what child processes run). */
// The same entry this process runs (src/bin/weft.ts, or dist/src/bin/weft.js when built).
const ENTRY = fileURLToPath(new URL('./weft.ts', import.meta.url));
const WATCH_DEBOUNCE_MS = 300;

async function loadDesired(
  io: CliIo,
  files: string[],
  nodes: number,
): Promise<{ desired?: DesiredState; diagnostics: Diagnostic[] }> {
  const sources = await readManifestSources(files, io.cwd);
  const parsed = parseManifests(sources);
  const diagnostics = [...parsed.diagnostics, ...checkResources(parsed.resources, parsed.sources)];
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return {
    desired: {
      resources: parsed.resources as Resource[],
      sources: parsed.sources as ReadonlyMap<string, SourceRef>,
      nodes,
      message: `weft up -f ${files.join(' -f ')}`,
    },
    diagnostics,
  };
}

export async function up(io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: io.argv,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        nodes: { type: 'string', default: '2' },
        'state-dir': { type: 'string' },
        watch: { type: 'boolean', default: false },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`weft up: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const files = values.filename ?? [];
  if (files.length === 0) {
    io.stderr.write(`weft up: -f <file|dir> is required\n${USAGE}`);
    return 2;
  }
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 200) {
    io.stderr.write(`weft up: --nodes must be a whole number from 1 to 200, got "${values.nodes}"\n`);
    return 2;
  }
  const stateDirLabel = values['state-dir'] ?? io.env.WEFT_STATE_DIR ?? '.weft';
  const stateDir = resolve(io.cwd, stateDirLabel);

  let first;
  try {
    first = await loadDesired(io, files, nodes);
  } catch (err) {
    io.stderr.write(`weft up: ${errorMessage(err)}\n`);
    return 1;
  }
  for (const d of first.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!first.desired) {
    const n = first.diagnostics.filter((d) => d.severity === 'error').length;
    io.stderr.write(`weft up: ${n} error${n === 1 ? '' : 's'} in the manifests; nothing was started\n`);
    return 1;
  }

  const color = Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
  const mesh = new LocalMesh({
    stateDir,
    stateDirLabel,
    entry: ENTRY,
    execPath: process.execPath,
    env: io.env,
    cwd: io.cwd,
    clock: systemClock,
    out: io.stdout,
    color,
    verbose: values.verbose,
    pid: process.pid,
    connect: () => new ControlClient({ ...resolveClientConfig({ stateDir, env: {} }), actor: 'weft-up' }),
  });

  let interrupted = false;
  void io.interrupted.then(() => (interrupted = true));
  try {
    await Promise.race([
      mesh.start(first.desired),
      io.interrupted.then(async () => {
        await mesh.stop();
      }),
    ]);
  } catch (err) {
    io.stderr.write(`weft up: ${errorMessage(err)}\n`);
    await mesh.stop();
    return interrupted ? 0 : 1;
  }
  if (interrupted) {
    await mesh.stop();
    return 0;
  }

  const watchers: FSWatcher[] = [];
  if (values.watch) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running: Promise<void> = Promise.resolve();
    const reload = () => {
      running = running.then(async () => {
        try {
          const next = await loadDesired(io, files, nodes);
          for (const d of next.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
          if (!next.desired) {
            io.stderr.write('weft up: manifests have errors; keeping the running mesh as it is\n');
            return;
          }
          await mesh.reapply(next.desired);
        } catch (err) {
          io.stderr.write(`weft up: reload failed: ${errorMessage(err)}\n`);
        }
      });
    };
    for (const f of files) {
      try {
        watchers.push(
          watch(resolve(io.cwd, f), { recursive: true }, () => {
            if (timer) clearTimeout(timer);
            timer = setTimeout(reload, WATCH_DEBOUNCE_MS);
          }),
        );
      } catch (err) {
        io.stderr.write(`weft up: cannot watch ${f}: ${errorMessage(err)}\n`);
      }
    }
    io.stdout.write(`weft up: watching ${files.join(', ')} for changes\n`);
  }

  await io.interrupted;
  for (const w of watchers) w.close();
  io.stdout.write('weft up: stopping…\n');
  await mesh.stop();
  io.stdout.write('weft up: stopped\n');
  return 0;
}
