/**
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
 * Balancer", NSDI'16, section 3.4).
 *
 * Each backend i gets a permutation of the table positions from two hashes of its name:
 *   offset = h1(name) mod M, skip = h2(name) mod (M − 1) + 1, permutation[i][j] = (offset + j·skip) mod M
 * (a permutation because M is prime). Backends then take turns, each claiming the next position of
 * its permutation that is still empty, until the table is full (the paper's Pseudocode 1). With equal
 * weights every backend therefore owns ⌊M/N⌋ or ⌈M/N⌉ entries. A lookup is table[hash(key) mod M].
 *
 * Weighted variant (as Envoy's): a backend of weight w takes its turn in round r only when
 * r·w ≥ its next target, the target advancing by the largest weight after each turn, so backends
 * own entries in proportion to weight and the heaviest takes a turn every round.
 *
 * h1, h2 and the key hash are MurmurHash3_x86_32 with different seeds (./hash.ts).
 */
import { murmur3 } from './hash.ts';

/** Istio's default `maglev.tableSize` (a prime). */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
/** Istio's limit for `maglev.tableSize`. */
export const MAX_MAGLEV_TABLE_SIZE = 5000011;

const SEED_OFFSET = 0x6d61676c; // "magl"
const SEED_SKIP = 0x65763031; // "ev01"

/**
 * Build the lookup table: entry j holds the index (into `keys`) of the backend owning position j.
 * `tableSize` must be a prime greater than the number of backends. Weights ≤ 0 are not allowed here
 * (the balancer leaves such endpoints out).
 */
export function buildMaglevTable(
  keys: readonly string[],
  weights: readonly number[] | undefined,
  tableSize: number,
): Uint32Array {
  const n = keys.length;
  const m = tableSize;
  const table = new Uint32Array(m);
  if (n === 0) return table;
  const filled = new Uint8Array(m);
  const offset = new Uint32Array(n);
  const skip = new Uint32Array(n);
  const pos = new Uint32Array(n); // current permutation value of backend i (offset + next·skip) mod M
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    offset[i] = murmur3(k, SEED_OFFSET) % m;
    skip[i] = (murmur3(k, SEED_SKIP) % (m - 1)) + 1;
    pos[i] = offset[i]!;
  }
  let maxWeight = 0;
  let equal = true;
  if (weights) {
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      if (w > maxWeight) maxWeight = w;
      if (w !== weights[0]) equal = false;
    }
  }
  const target = equal ? undefined : new Float64Array(n);
  let count = 0;
  // Every round at least the heaviest backend claims one entry, so at most M rounds run.
  for (let round = 1; count < m; round++) {
    for (let i = 0; i < n && count < m; i++) {
      if (target) {
        if (round * weights![i]! < target[i]!) continue;
        target[i]! += maxWeight;
      }
      let c = pos[i]!;
      while (filled[c] === 1) {
        c += skip[i]!;
        if (c >= m) c -= m;
      }
      filled[c] = 1;
      table[c] = i;
      c += skip[i]!;
      if (c >= m) c -= m;
      pos[i] = c;
      count++;
    }
  }
  return table;
}

/** The backend index for a request key. */
export function maglevLookup(table: Uint32Array, key: string): number {
  return table[murmur3(key) % table.length]!;
}

/** Whether `n` is prime (trial division; n ≤ 5,000,011 in practice). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
