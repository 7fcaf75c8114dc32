#!/usr/bin/env node
/**
 * The `weft` entry point: the only place that reads process.argv/env and calls process.exit.
 * Long-running processes (control, proxy, up) are assembled here from the layers below.
 */
import { CLI_VERBS } from '../cli/verbs.ts';
import type { CliIo, Verb } from '../cli/io.ts';
import { ensureProxyNodeFlags } from './proxy-flags.ts';

const PROCESS_VERBS: Record<string, { summary: string; load: () => Promise<Verb> }> = {
  control: { summary: 'run the control plane', load: async () => (await import('./control.ts')).control },
  proxy: { summary: 'run a node proxy', load: async () => (await import('./proxy.ts')).proxy },
  up: { summary: 'run a whole mesh locally', load: async () => (await import('./up.ts')).up },
};

function usage(): string {
  const all = { ...PROCESS_VERBS, ...CLI_VERBS };
  const lines = Object.entries(all).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`);
  return `usage: weft <command> [flags]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const [verbName, ...argv] = process.argv.slice(2);
  if (!verbName || verbName === '-h' || verbName === '--help' || verbName === 'help') {
    process.stdout.write(usage());
    return verbName ? 0 : 2;
  }
  const entry = PROCESS_VERBS[verbName] ?? CLI_VERBS[verbName];
  if (!entry) {
    process.stderr.write(`weft: unknown command "${verbName}"\n\n${usage()}`);
    return 2;
  }
  // Before the proxy's modules load: may replace this process with one that has the proxy's V8 flags.
  if (verbName === 'proxy') ensureProxyNodeFlags();
  const interrupted = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const io: CliIo = {
    argv,
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    interrupted,
  };
  const verb = await entry.load();
  return verb(io);
}

main().then(
  (code) => {
    process.exitCode = code;
    // Long-running verbs resolve only when told to stop; give streams a moment, then leave.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`weft: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
