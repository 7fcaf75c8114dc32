/**
 * `DIR/pids.json`: the pids of everything `weft up` runs, rewritten on every change (write to a
 * temporary file, then rename, so readers — the benchmark, tests — never see half a file).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PidsFile {
  control: number | null;
  proxies: Record<string, number | null>;
  /** Keyed by `namespace/instance`. */
  instances: Record<string, number | null>;
}

export function writePidsFile(stateDir: string, pids: PidsFile): void {
  const path = join(stateDir, 'pids.json');
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(pids, null, 2) + '\n');
  renameSync(tmp, path);
}
