/**
 * Local-mode addressing: which loopback address each node, workload instance and outbound capture
 * listener uses. Pure and deterministic, so the control plane (translator), the local runtime
 * (`weft up`) and `weft request` all compute the same answer from the same resources.
 *
 * Scheme (docs/architecture.md, "Capture"):
 *  - node tunnel listeners: 127.0.10.x (given by Node resources; `weft up` assigns them in order)
 *  - workload instances:    127.1.0.0/16, one address per instance, keyed by `ns/instance`
 *  - capture listeners:     127.2.0.0/15, one address per (source instance, destination service),
 *                           listening on every port of the service
 *  - plaintext inbound:     127.4.0.0/16, one address per instance: where clients outside the mesh
 *                           reach it through its node proxy (PeerAuthentication decides)
 * An address is chosen by hashing its key and probing linearly past collisions, in key order, so
 * adding a resource moves nothing else unless it collides.
 *
 * Those blocks belong to the default trust domain (`cluster.local`). Any other trust domain gets a
 * region of its own — one of 48 sets of blocks in 127.16.0.0–127.207.255.255, chosen by a hash of
 * the trust domain, which also salts the address hash — so meshes with different trust domains on
 * one machine (tests running in parallel, the benchmark beside the quickstart) do not share blocks.
 * Two meshes with the same trust domain on one machine would collide.
 */

export const INSTANCE_BLOCK = { base: ip4(127, 1, 0, 0), size: 1 << 16 };
export const CAPTURE_BLOCK = { base: ip4(127, 2, 0, 0), size: 1 << 17 };
export const PLAINTEXT_BLOCK = { base: ip4(127, 4, 0, 0), size: 1 << 16 };

export interface AddressBlock {
  base: number;
  size: number;
}

const REGIONS = 48;

/** The instance, capture and plaintext blocks of a trust domain's mesh (see the module comment). */
export function addressBlocks(trustDomain: string): {
  instance: AddressBlock;
  capture: AddressBlock;
  plaintext: AddressBlock;
} {
  if (trustDomain === 'cluster.local') {
    return { instance: INSTANCE_BLOCK, capture: CAPTURE_BLOCK, plaintext: PLAINTEXT_BLOCK };
  }
  // Four /16s per region: instances, capture (a /15), plaintext.
  const second = 16 + (hash32(`region|${trustDomain}`) % REGIONS) * 4;
  return {
    instance: { base: ip4(127, second, 0, 0), size: 1 << 16 },
    capture: { base: ip4(127, second + 1, 0, 0), size: 1 << 17 },
    plaintext: { base: ip4(127, second + 3, 0, 0), size: 1 << 16 },
  };
}

function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

export function formatIp4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** FNV-1a (32 bit): fast and well spread for short keys; addresses need no cryptographic hash. */
function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so similar keys land far apart.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Assign each key an address in `block`. Skips the block's .0 and .255 host parts to keep
 * addresses unsurprising. Throws if the block is full.
 */
export function allocateAddresses(
  keys: readonly string[],
  block: { base: number; size: number },
  salt = '',
): Map<string, string> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length > block.size / 2) throw new Error(`address block too small for ${sorted.length} keys`);
  const used = new Uint8Array(block.size);
  const out = new Map<string, string>();
  const prefix = salt ? `${salt}|` : '';
  for (const key of sorted) {
    let slot = hash32(prefix + key) % block.size;
    for (;;) {
      const last = slot & 255;
      if (used[slot] === 0 && last !== 0 && last !== 255) break;
      slot = (slot + 1) % block.size;
    }
    used[slot] = 1;
    out.set(key, formatIp4(block.base + slot));
  }
  return out;
}

export function instanceKey(namespace: string, instance: string): string {
  return `${namespace}/${instance}`;
}

export function captureKey(
  source: { namespace: string; instance: string },
  service: { namespace: string; name: string },
): string {
  return `${source.namespace}/${source.instance}>${service.namespace}/${service.name}`;
}

/** Environment variable prefix for a service, e.g. `reviews` → `REVIEWS`, `my-svc` → `MY_SVC`. */
export function serviceEnvName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Loopback capture gives every (instance, service) pair an address; past this many it is off. */
export const MAX_CAPTURE_PAIRS = CAPTURE_BLOCK.size / 2;

/**
 * Every local-mode address of a mesh at once: instance addresses and capture addresses. The key
 * sets are always the full mesh (all instances, all instances x all services), so every caller that
 * passes the same placements and services gets the same addresses. Loopback capture is for meshes
 * that fit on one machine: beyond MAX_CAPTURE_PAIRS pairs `capture` is empty and `captureLimit`
 * says why (transparent capture in network namespaces has no such limit).
 */
export function meshAddresses(
  instances: readonly { namespace: string; instance: string }[],
  services: readonly { namespace: string; name: string }[],
  trustDomain: string,
): {
  instance: Map<string, string>;
  plaintext: Map<string, string>;
  capture: Map<string, string>;
  captureLimit?: string;
} {
  const blocks = addressBlocks(trustDomain);
  const instanceKeys = instances.map((i) => instanceKey(i.namespace, i.instance));
  const instance = allocateAddresses(instanceKeys, blocks.instance, trustDomain);
  const plaintext = allocateAddresses(instanceKeys, blocks.plaintext, trustDomain);
  const pairs = instances.length * services.length;
  if (pairs > MAX_CAPTURE_PAIRS) {
    return {
      instance,
      plaintext,
      capture: new Map(),
      captureLimit: `loopback capture needs one address per (instance, service) pair: ${pairs} pairs exceed ${MAX_CAPTURE_PAIRS}`,
    };
  }
  const captureKeys: string[] = [];
  for (const i of instances) for (const s of services) captureKeys.push(captureKey(i, s));
  const capture = allocateAddresses(captureKeys, blocks.capture, trustDomain);
  return { instance, plaintext, capture };
}
