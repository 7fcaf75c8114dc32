/**
 * SPIFFE ID syntax (SPIFFE-ID spec, sections 2.1–2.3 and 2.4 "Maximum SPIFFE ID Length"): the CA
 * refuses to sign anything that is not a well-formed ID of its own trust domain, so an identity
 * in a certificate is always one the policy engine can compare byte for byte.
 */
import { WeftError } from '../../lib/index.ts';

/** SPIFFE-ID 2.1: trust domain characters are lowercase letters, digits, dots, dashes, underscores. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** SPIFFE-ID 2.2: path segments use letters, digits, dots, dashes and underscores only. */
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_ID_BYTES = 2048;

export interface ParsedSpiffeId {
  trustDomain: string;
  /** The path with its leading slash, e.g. `/ns/default/sa/web`. */
  path: string;
}

/** Throws WEFT_CA_INVALID_TRUST_DOMAIN unless `td` is a valid SPIFFE trust domain name. */
export function validateTrustDomain(td: string): void {
  if (td.length === 0 || td.length > 255 || !TRUST_DOMAIN.test(td)) {
    throw new WeftError(
      'WEFT_CA_INVALID_TRUST_DOMAIN',
      `trust domain ${JSON.stringify(td)} is not valid: use lowercase letters, digits, '.', '-' and '_' (e.g. cluster.local)`,
    );
  }
}

/**
 * Checks that `id` is a SPIFFE ID with a non-empty path in `trustDomain` and returns its parts.
 * Throws WEFT_CA_INVALID_SPIFFE_ID saying what is wrong.
 */
export function validateSpiffeId(id: string, trustDomain: string): ParsedSpiffeId {
  const bad = (why: string) =>
    new WeftError('WEFT_CA_INVALID_SPIFFE_ID', `SPIFFE ID ${JSON.stringify(id)} is not valid: ${why}`, {
      detail: { spiffeId: id, trustDomain },
    });
  if (typeof id !== 'string' || id.length === 0) throw bad('it is empty');
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw bad(`it is longer than ${MAX_ID_BYTES} bytes`);
  if (!id.startsWith('spiffe://')) throw bad("it must start with 'spiffe://'");
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (!TRUST_DOMAIN.test(td))
    throw bad("the trust domain may hold only lowercase letters, digits, '.', '-', '_'");
  if (td !== trustDomain) throw bad(`it belongs to trust domain ${td}, not ${trustDomain}`);
  if (path === '') throw bad('a workload ID needs a path, e.g. /ns/default/sa/web');
  const segments = path.slice(1).split('/');
  for (const s of segments) {
    if (s === '') throw bad('it has an empty path segment or a trailing slash');
    if (s === '.' || s === '..') throw bad("path segments '.' and '..' are not allowed");
    if (!SEGMENT.test(s))
      throw bad(`path segment ${JSON.stringify(s)} may hold only letters, digits, '.', '-', '_'`);
  }
  return { trustDomain: td, path };
}

/** A node name usable in `spiffe://<td>/node/<name>` (Kubernetes object names are a subset). */
export function validateNodeName(name: string): void {
  if (typeof name !== 'string' || !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) {
    throw new WeftError(
      'WEFT_CA_INVALID_NODE_NAME',
      `node name ${JSON.stringify(name)} is not valid: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
  }
}

export function nodeSpiffeId(trustDomain: string, nodeName: string): string {
  return `spiffe://${trustDomain}/node/${nodeName}`;
}

export function controlSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/control`;
}

/** The node name in `spiffe://<td>/node/<name>`, or undefined when `id` is not a node ID of `td`. */
export function nodeNameFromSpiffeId(id: string, trustDomain: string): string | undefined {
  const prefix = `spiffe://${trustDomain}/node/`;
  if (!id.startsWith(prefix)) return undefined;
  const name = id.slice(prefix.length);
  try {
    validateNodeName(name);
  } catch {
    return undefined;
  }
  return name;
}
