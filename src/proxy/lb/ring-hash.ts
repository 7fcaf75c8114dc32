/**
 * Ketama-style ring hash, sized like Envoy's ring hash load balancer (Istio `consistentHash.ringHash`).
 *
 * Each endpoint is hashed onto a 32-bit ring many times (points `"<key>_<i>"`); a request key's hash
 * is looked up by binary search for the first point at or after it, wrapping around. The ring has at
 * least `minimumRingSize` points (Istio default 1024), scaled so that the lightest endpoint gets
 * ⌈minRingSize · itsShare⌉ points and every endpoint gets points in proportion to its weight, capped at
 * 8,388,608 points (Envoy's maximum_ring_size default). More points: better balance, slower build.
 */
import { murmur3 } from './hash.ts';

export const DEFAULT_MINIMUM_RING_SIZE = 1024;
export const MAXIMUM_RING_SIZE = 8388608;

export interface Ring {
  /** Sorted point hashes. */
  readonly hashes: Uint32Array;
  /** owner[i] is the endpoint index of point i. */
  readonly owner: Uint32Array;
}

/** Build the ring for endpoints `keys` with positive `weights`. */
export function buildRing(
  keys: readonly string[],
  weights: readonly number[],
  minimumRingSize: number,
): Ring {
  const n = keys.length;
  if (n === 0) return { hashes: new Uint32Array(0), owner: new Uint32Array(0) };
  let total = 0;
  for (const w of weights) total += w;
  let minNorm = 1;
  for (const w of weights) minNorm = Math.min(minNorm, w / total);
  const scale = Math.min(Math.ceil(minNorm * minimumRingSize) / minNorm, MAXIMUM_RING_SIZE);
  const size = Math.ceil(scale);
  // Pack (hash, owner) into one float64 (hash · 2^21 + owner < 2^53) so one typed-array sort orders both.
  const packed = new Float64Array(size + n);
  let count = 0;
  let target = 0;
  for (let i = 0; i < n; i++) {
    target += (scale * weights[i]!) / total;
    for (let j = 0; count < target && count < packed.length; j++) {
      packed[count++] = murmur3(`${keys[i]!}_${j}`) * 2097152 + i;
    }
  }
  const used = packed.subarray(0, count).sort();
  const hashes = new Uint32Array(count);
  const owner = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const v = used[i]!;
    const h = Math.floor(v / 2097152);
    hashes[i] = h;
    owner[i] = v - h * 2097152;
  }
  return { hashes, owner };
}

/** The endpoint index owning `key`, or -1 for an empty ring. */
export function ringLookup(ring: Ring, key: string): number {
  const hs = ring.hashes;
  const n = hs.length;
  if (n === 0) return -1;
  const h = murmur3(key);
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hs[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return ring.owner[lo === n ? 0 : lo]!;
}
