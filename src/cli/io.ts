/**
 * What a CLI verb gets from the entry point: arguments, environment and streams are injected so
 * verbs are testable in-process and only src/bin touches `process`.
 */
export interface CliIo {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  /** Resolves when the user asks the process to stop (SIGINT/SIGTERM). */
  interrupted: Promise<string>;
}

/** A verb: returns the exit status. */
export type Verb = (io: CliIo) => Promise<number>;
