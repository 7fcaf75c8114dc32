/**
 * The base of every error Weft raises on purpose. Each carries a stable `code` (catalogued in
 * docs/errors.md; a test keeps the catalogue and the code in step), a message that says what is
 * wrong and how to fix it, and an optional `cause`.
 */
export class WeftError extends Error {
  readonly code: string;
  /** Extra machine-readable detail (e.g. the field path or the identities involved). */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; detail?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WeftError';
    this.code = code;
    this.detail = options?.detail;
  }
}

/** True when `err` is a WeftError with the given code. */
export function isWeftError(err: unknown, code?: string): err is WeftError {
  return err instanceof WeftError && (code === undefined || err.code === code);
}

/** The message of anything thrown, for logs. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
