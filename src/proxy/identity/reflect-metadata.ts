/**
 * A minimal Reflect metadata polyfill (the subset of the `reflect-metadata` proposal that tsyringe,
 * used inside @peculiar/x509, calls: defineMetadata, getMetadata, getOwnMetadata, hasMetadata,
 * metadata). @peculiar/x509 refuses to load without one. Import this module before
 * `@peculiar/x509`. It installs nothing when a polyfill is already present.
 */
type Key = unknown;
type Target = object;

const store = new WeakMap<Target, Map<string | symbol | undefined, Map<Key, unknown>>>();

function own(
  target: Target,
  prop: string | symbol | undefined,
  create: boolean,
): Map<Key, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    byProp = new Map();
    store.set(target, byProp);
  }
  let entries = byProp.get(prop);
  if (!entries && create) {
    entries = new Map();
    byProp.set(prop, entries);
  }
  return entries;
}

function getMetadata(key: Key, target: Target, prop?: string | symbol): unknown {
  // Bounded: prototype chains are finite and acyclic.
  for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
    const entries = own(t, prop, false);
    if (entries?.has(key)) return entries.get(key);
  }
  return undefined;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R['getMetadata'] !== 'function') {
  Object.assign(R, {
    defineMetadata(key: Key, value: unknown, target: Target, prop?: string | symbol): void {
      own(target, prop, true)!.set(key, value);
    },
    getOwnMetadata(key: Key, target: Target, prop?: string | symbol): unknown {
      return own(target, prop, false)?.get(key);
    },
    getMetadata,
    hasMetadata(key: Key, target: Target, prop?: string | symbol): boolean {
      return getMetadata(key, target, prop) !== undefined;
    },
    hasOwnMetadata(key: Key, target: Target, prop?: string | symbol): boolean {
      return own(target, prop, false)?.has(key) ?? false;
    },
    metadata(key: Key, value: unknown) {
      return (target: Target, prop?: string | symbol) => {
        own(target, prop, true)!.set(key, value);
      };
    },
  });
}

export {};
