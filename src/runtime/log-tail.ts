/**
 * Following the node proxies' logs for `weft up`'s event stream: each tick reads what was appended
 * to a file since the last one (bounded per tick, so a flood cannot stall the runtime) and turns the
 * proxies' denial lines into one compact event each.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const MAX_BYTES_PER_READ = 256 * 1024;

/** The complete lines appended to a file since the previous call. */
export class LogTail {
  readonly #path: string;
  #offset = 0;
  #partial = '';

  constructor(path: string) {
    this.#path = path;
  }

  read(): string[] {
    let fd: number;
    try {
      fd = openSync(this.#path, 'r');
    } catch {
      return []; // not written yet
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.#offset) this.#offset = 0; // truncated or replaced: start over
      const n = Math.min(size - this.#offset, MAX_BYTES_PER_READ);
      if (n <= 0) return [];
      const buf = Buffer.allocUnsafe(n);
      const got = readSync(fd, buf, 0, n, this.#offset);
      this.#offset += got;
      const text = this.#partial + buf.subarray(0, got).toString('utf8');
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  }
}

/** `spiffe://td/ns/x/sa/y` → `x/y`, for short lines. */
function shortId(id: unknown): string {
  if (typeof id !== 'string') return 'unauthenticated';
  const m = /\/ns\/([^/]+)\/(?:sa|agent)\/([^/]+)$/.exec(id);
  return m ? `${m[1]}/${m[2]}` : id;
}

/** One proxy log line → a compact denial event, or undefined for anything else. */
export function denialEvent(line: string): string | undefined {
  if (!line.includes('"authz decision"') || !line.includes('"deny"')) return undefined;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (rec['msg'] !== 'authz decision' || rec['decision'] !== 'deny') return undefined;
  const what =
    typeof rec['request'] === 'string' ? ` ${rec['request']}` : ` port ${String(rec['port'] ?? '?')}`;
  const by = typeof rec['policy'] === 'string' ? ` by ${rec['policy']}` : '';
  return `${shortId(rec['source'])} → ${String(rec['destination'] ?? '?')}${what}${by}: ${String(rec['reason'] ?? '')}`;
}
