/**
 * The Node.js/V8 flags a node proxy runs with, and the restart that applies them.
 *
 * V8 sizes its heap when the isolate is created, so `v8.setFlagsFromString()` at run time does not
 * change it (measured: the young generation still grows to 2 × 16 MB), and `execArgv` exists only
 * where someone spawns the proxy. `weft proxy` therefore replaces its own process image, before it
 * loads anything else, with `node <missing flags> <its execArgv> <same script and arguments>`
 * (`process.execve`: same pid, same stdio, so `weft up`, pids.json, a unit file or a shell see one
 * process). Every way of starting a proxy gets the flags; an operator who sets one of them (or a
 * flag that decides the same thing) in NODE_OPTIONS or on the command line keeps their value.
 *
 * Why these flags and what they cost: docs/architecture.md, "Proxy memory".
 */

export interface NodeFlag {
  /** The flag as passed to node, e.g. `--max-semi-space-size=1`. */
  flag: string;
  /** Options that, when already given, mean the heap was sized by whoever started the proxy. */
  decidedBy: readonly string[];
}

/**
 * Semi-spaces of 2 MB: the young generation stays at 2 × 2 MB instead of growing to 2 × 16 MB under
 * load (V8's 64-bit default), so short-lived per-request garbage is collected sooner rather than
 * accumulated. Measured cost: ~1 µs of scavenging per request at 2,000 req/s, ~5 % more proxy CPU at
 * saturation; 1 MB costs more and promotes request objects early. `--max-heap-size` sizes the
 * young generation too, so it counts as decided.
 */
export const PROXY_NODE_FLAGS: readonly NodeFlag[] = [
  { flag: '--max-semi-space-size=2', decidedBy: ['--max-semi-space-size', '--max-heap-size'] },
];

/** `--max_semi_space_size=2` → `--max-semi-space-size` (V8 accepts `_` and `-`). */
function optionName(arg: string): string {
  const eq = arg.indexOf('=');
  return (eq < 0 ? arg : arg.slice(0, eq)).replaceAll('_', '-');
}

/**
 * The flags of `wanted` that neither `execArgv` nor `nodeOptions` (the NODE_OPTIONS value, split on
 * white space) decides already.
 */
export function missingNodeFlags(
  wanted: readonly NodeFlag[],
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  const given = new Set(
    [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(optionName),
  );
  return wanted.filter((f) => !f.decidedBy.some((o) => given.has(o))).map((f) => f.flag);
}

/** The argument vector of the restarted process: node, the flags, the node options it had, the script and its arguments. */
export function restartArgs(
  execPath: string,
  flags: readonly string[],
  execArgv: readonly string[],
  argv: readonly string[],
): string[] {
  return [execPath, ...flags, ...execArgv, ...argv.slice(1)];
}

/**
 * Restart this process with the proxy's flags unless it already has them. Returns only when nothing
 * was missing, or when the restart is impossible (no `process.execve` on this platform, or execve
 * failed): the proxy then runs with V8's defaults, which is correct, only larger.
 */
export function ensureProxyNodeFlags(
  proc: Pick<NodeJS.Process, 'execPath' | 'execArgv' | 'argv' | 'env' | 'execve'> & {
    stderr: { write(s: string): unknown };
  } = process,
): void {
  const missing = missingNodeFlags(PROXY_NODE_FLAGS, proc.execArgv, proc.env['NODE_OPTIONS']);
  if (missing.length === 0 || typeof proc.execve !== 'function') return;
  try {
    proc.execve(proc.execPath, restartArgs(proc.execPath, missing, proc.execArgv, proc.argv), proc.env);
  } catch (err) {
    proc.stderr.write(
      `weft proxy: could not restart with ${missing.join(' ')} (${err instanceof Error ? err.message : String(err)}); running with V8's default heap sizing\n`,
    );
  }
}
