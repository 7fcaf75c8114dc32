/**
 * How the client verbs (apply, get, delete, history, rollback, status) find the control plane, and
 * the plumbing they share. A local control plane is found through its state directory
 * (`--state-dir DIR` or WEFT_STATE_DIR): `DIR/control.json` holds its API address and `DIR/token`
 * the admin token (docs/architecture.md, "State directory"). A remote one is named with
 * `--server URL` (or WEFT_SERVER) and its token given in WEFT_TOKEN. This file reads files; the
 * client in src/api/client stays pure fetch.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { ApplyOutcome, ApiDiagnostic } from '../api/client/index.ts';
import { ControlClient, errorDiagnostics } from '../api/client/index.ts';
import { formatDiagnostic } from '../api/index.ts';
import { WeftError, errorMessage, isWeftError } from '../lib/index.ts';
import type { CliIo } from './io.ts';

export interface ClientConfig {
  baseUrl: string;
  token: string;
}

export interface ClientConfigInput {
  /** `--state-dir` (wins over WEFT_STATE_DIR). */
  stateDir?: string | undefined;
  /** `--server` (wins over WEFT_SERVER and any state directory). */
  server?: string | undefined;
  env: Record<string, string | undefined>;
  /** Relative state directories resolve against this (default: as given). */
  cwd?: string;
}

const HOW =
  'pass --state-dir DIR (or set WEFT_STATE_DIR) for a control plane on this machine, or --server URL with WEFT_TOKEN set for a remote one';

/**
 * Where the control plane is and its token. Order: `--server`, `--state-dir`, WEFT_SERVER,
 * WEFT_STATE_DIR. With a server URL the token comes from WEFT_TOKEN (or the state directory's token
 * file when one is also given); with a state directory, from `DIR/token` (or WEFT_TOKEN when the
 * directory has none).
 */
export function resolveClientConfig(input: ClientConfigInput): ClientConfig {
  const { env } = input;
  const server = input.server ?? (input.stateDir === undefined ? env.WEFT_SERVER || undefined : undefined);
  const stateDirRaw = input.stateDir ?? (env.WEFT_STATE_DIR || undefined);
  const stateDir = stateDirRaw === undefined ? undefined : resolve(input.cwd ?? '', stateDirRaw);
  if (server !== undefined) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new WeftError(
        'WEFT_CLIENT_NO_SERVER',
        `--server ${JSON.stringify(server)} is not a URL; use e.g. http://127.0.0.1:7443`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new WeftError(
        'WEFT_CLIENT_NO_SERVER',
        `--server must be an http:// or https:// URL, not ${server}`,
      );
    }
    const token = env.WEFT_TOKEN || (stateDir ? readTokenFile(stateDir) : undefined);
    if (!token) {
      throw new WeftError(
        'WEFT_CLIENT_NO_TOKEN',
        `no token for ${server}: set WEFT_TOKEN to the control plane's admin token (its <state-dir>/token)`,
      );
    }
    return { baseUrl: url.href.replace(/\/+$/, ''), token };
  }
  if (stateDir === undefined) {
    throw new WeftError('WEFT_CLIENT_NO_SERVER', `which control plane? ${HOW}`);
  }
  const controlFile = join(stateDir, 'control.json');
  let text: string;
  try {
    text = readFileSync(controlFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new WeftError('WEFT_CLIENT_NOT_RUNNING', `cannot read ${controlFile}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    throw new WeftError(
      'WEFT_CLIENT_NOT_RUNNING',
      `no control plane is running in ${stateDir} (no control.json there): start one with \`weft control --state-dir ${stateDirRaw}\` or \`weft up\`, or ${HOW}`,
    );
  }
  let info: { apiUrl?: unknown; pid?: unknown };
  try {
    info = JSON.parse(text) as { apiUrl?: unknown; pid?: unknown };
  } catch {
    info = {};
  }
  if (typeof info.apiUrl !== 'string' || info.apiUrl === '') {
    throw new WeftError(
      'WEFT_CLIENT_NOT_RUNNING',
      `${controlFile} has no apiUrl; is the control plane still starting? Otherwise restart it`,
    );
  }
  if (typeof info.pid === 'number' && !processAlive(info.pid)) {
    throw new WeftError(
      'WEFT_CLIENT_NOT_RUNNING',
      `the control plane of ${stateDir} (pid ${info.pid}) is not running: start it with \`weft control --state-dir ${stateDirRaw}\` or \`weft up\``,
    );
  }
  const token = readTokenFile(stateDir) ?? (env.WEFT_TOKEN || undefined);
  if (!token) {
    throw new WeftError(
      'WEFT_CLIENT_NO_TOKEN',
      `no token in ${join(stateDir, 'token')} and WEFT_TOKEN is not set; the control plane writes that file when it starts`,
    );
  }
  return { baseUrl: info.apiUrl.replace(/\/+$/, ''), token };
}

function readTokenFile(stateDir: string): string | undefined {
  try {
    return readFileSync(join(stateDir, 'token'), 'utf8').trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WeftError(
      'WEFT_CLIENT_NO_TOKEN',
      `cannot read ${join(stateDir, 'token')}: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Flags every client verb takes. */
export const CLIENT_FLAGS = {
  'state-dir': { type: 'string' },
  server: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const CLIENT_FLAGS_USAGE =
  '  --state-dir DIR   the local control plane whose state is in DIR (or WEFT_STATE_DIR)\n' +
  '  --server URL      a remote control plane (token in WEFT_TOKEN)\n';

/** A client for the control plane the flags and environment name (WEFT_ACTOR sets the actor). */
export function clientFor(
  io: CliIo,
  flags: { 'state-dir'?: string | undefined; server?: string | undefined },
): ControlClient {
  const cfg = resolveClientConfig({
    stateDir: flags['state-dir'],
    server: flags.server,
    env: io.env,
    cwd: io.cwd,
  });
  const actor = io.env.WEFT_ACTOR || undefined;
  return new ControlClient({ ...cfg, ...(actor ? { actor } : {}) });
}

/** Thrown by a verb for a usage mistake: printed with the usage, exit status 2. */
export class UsageError extends Error {}

/** parseArgs with the client flags, strict; usage mistakes become UsageError. */
export function parseVerbArgs<O extends ParseArgsConfig['options']>(
  argv: string[],
  options: O,
): { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...CLIENT_FLAGS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return {
      values: values as Record<string, string | boolean | string[] | boolean[] | undefined>,
      positionals,
    };
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/**
 * Run a client verb: usage errors print the usage and exit 2; WeftErrors (local or from the server)
 * print `weft <verb>: message` plus any diagnostics and exit 1.
 */
export async function runClientVerb(
  name: string,
  usage: string,
  io: CliIo,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`weft ${name}: ${err.message}\n${usage}`);
      return 2;
    }
    if (isWeftError(err)) {
      io.stderr.write(`weft ${name}: ${err.message}\n`);
      printDiagnostics(io, errorDiagnostics(err));
      return 1;
    }
    throw err;
  }
}

export function printDiagnostics(io: CliIo, diagnostics: readonly ApiDiagnostic[]): void {
  for (const d of diagnostics) {
    const where = d.file === undefined && d.document !== undefined ? `resources[${d.document}]: ` : '';
    io.stderr.write(`  ${where}${formatDiagnostic(d)}\n`);
  }
}

/** `revision 7: 2 added, 1 changed, 0 deleted` (or the no-op / dry-run variants). */
export function describeOutcome(out: ApplyOutcome): string {
  const counts = `${out.diff.added.length} added, ${out.diff.changed.length} changed, ${out.diff.deleted.length} deleted`;
  if (out.unchanged) return `no changes (revision ${out.revision})`;
  if (out.dryRun) return `dry run: would create revision ${out.revision}: ${counts}`;
  return `revision ${out.revision}: ${counts}`;
}

/** The keys of a diff, one per line with a +/~/- marker (kubectl-style detail under the summary). */
export function describeDiff(out: ApplyOutcome): string {
  const lines = [
    ...out.diff.added.map((k) => `  + ${k}`),
    ...out.diff.changed.map((k) => `  ~ ${k}`),
    ...out.diff.deleted.map((k) => `  - ${k}`),
  ];
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Plain left-aligned columns, as kubectl prints them. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** kubectl-style age: 42s, 5m, 3h, 2d. */
export function formatAge(fromIso: string | undefined, now: number): string {
  if (!fromIso) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (!Number.isFinite(s)) return '<unknown>';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
