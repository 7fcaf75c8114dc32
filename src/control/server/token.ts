/**
 * Bearer tokens for the HTTP API (admin token) and node bootstrap (join token): 32 random bytes,
 * base64url, in a 0600 file of the state directory, generated on first start and reused after.
 * Compared in constant time so response timing says nothing about a guess.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError, errorMessage } from '../../lib/index.ts';

const TOKEN_RE = /^[A-Za-z0-9_-]{16,512}$/;

/**
 * Read `<stateDir>/<file>`, or create it (0600) with a fresh token when it does not exist. Safe
 * against two processes starting at once: the file appears complete or not at all (written under a
 * temporary name, then hard-linked into place; the loser reads the winner's token).
 */
export function loadOrCreateToken(
  stateDir: string,
  file = 'token',
  random: (n: number) => Buffer = randomBytes,
): string {
  const path = join(stateDir, file);
  const existing = readToken(path);
  if (existing !== undefined) return existing;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const token = random(32).toString('base64url');
  const tmp = `${path}.${process.pid}.${random(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, token + '\n', { mode: 0o600, flag: 'wx' });
    linkSync(tmp, path);
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const other = readToken(path);
      if (other !== undefined) return other;
    }
    throw new WeftError('WEFT_TOKEN_INVALID', `cannot create the token file ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    rmSync(tmp, { force: true });
  }
}

function readToken(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WeftError('WEFT_TOKEN_INVALID', `cannot read the token file ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const token = text.trim();
  if (!TOKEN_RE.test(token)) {
    throw new WeftError(
      'WEFT_TOKEN_INVALID',
      `the token file ${path} does not hold a token (16-512 characters of A-Z a-z 0-9 _ -); delete it to have a new one generated`,
    );
  }
  return token;
}

/** Constant-time comparison (hashes first, so lengths do not leak either). */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? '');
  return m?.[1];
}
