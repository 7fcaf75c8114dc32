/**
 * String formats shared by the kinds: Kubernetes names and labels (k8s.io/apimachinery validation),
 * Gateway API and Istio durations, IP addresses and CIDRs, regular expressions. Each is a Schema so
 * kinds can say `dnsLabel()` instead of repeating a pattern, and each message says what is valid.
 */
import { isIP } from 'node:net';
import { str, intOrString, int, type Schema } from './schema.ts';
import { gatewayDurationMs, goDurationMs } from '../wire/durations.ts';

// The parsers live with the wire types (the proxy reads pushed durations without loading schemas).
export { gatewayDurationMs, goDurationMs };

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** RFC 1123 label: what Namespace names and port names must be. */
export const dnsLabel = (): Schema<string> =>
  str({
    min: 1,
    max: 63,
    pattern: DNS1123_LABEL,
    patternHint:
      "must be a lowercase RFC 1123 label: a-z, 0-9 and '-', starting and ending with a letter or digit",
  });

/** RFC 1035 label: Service names (they become DNS names and environment variable prefixes). */
export const dns1035Label = (): Schema<string> =>
  str({
    min: 1,
    max: 63,
    pattern: DNS1035_LABEL,
    patternHint: "must be a lowercase RFC 1035 label: a-z, 0-9 and '-', starting with a letter",
  });

/** RFC 1123 subdomain: most object names. */
export const dnsSubdomain = (): Schema<string> =>
  str({
    min: 1,
    max: 253,
    pattern: DNS1123_SUBDOMAIN,
    patternHint:
      "must be a lowercase RFC 1123 subdomain: a-z, 0-9, '-' and '.', starting and ending with a letter or digit",
  });

export function labelKeyProblem(k: string): string | undefined {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return `label key prefix ${JSON.stringify(prefix)} must be a lowercase DNS subdomain (e.g. example.com/)`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    return `label key ${JSON.stringify(k)} is invalid: the name part must be 1-63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit, with an optional DNS-subdomain prefix and '/'`;
  }
  return undefined;
}

/** A Kubernetes qualified name (`[prefix/]name`): label and annotation keys. */
export const labelKey = (): Schema<string> => str({ check: labelKeyProblem });

/** A label value: empty, or up to 63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric. */
export const labelValue = (): Schema<string> =>
  str({
    max: 63,
    check: (v) =>
      v === '' || QUALIFIED_NAME_PART.test(v)
        ? undefined
        : `label value ${JSON.stringify(v)} is invalid: use up to 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit`,
  });

/** A port number, or a port name (IANA_SVC_NAME: ≤15 lowercase alphanumerics and '-', one letter). */
export const portNumberOrName = (): Schema<number | string> =>
  intOrString(
    int({ min: 1, max: 65535 }),
    str({
      min: 1,
      max: 15,
      pattern: /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
      patternHint:
        "a port name must be at most 15 lowercase letters, digits and '-', with at least one letter",
    }),
  );

// ---------------------------------------------------------------------------------------------
// Durations

export const gatewayDuration = (): Schema<string> =>
  str({
    check: (v) =>
      gatewayDurationMs(v) !== undefined
        ? undefined
        : `${JSON.stringify(v)} is not a Gateway API duration (GEP-2257): use 1-4 groups of up to 5 digits with h, m, s or ms, e.g. "10s", "1m30s", "500ms"`,
  });

export const goDuration = (o: { minMs?: number } = {}): Schema<string> =>
  str({
    check: (v) => {
      const ms = goDurationMs(v);
      if (ms === undefined)
        return `${JSON.stringify(v)} is not a duration: use a number with a unit h, m, s, ms, us or ns, e.g. "1s", "100ms", "1h30m"`;
      if (o.minMs !== undefined && ms < o.minMs)
        return `${JSON.stringify(v)} is too short (must be at least ${o.minMs}ms)`;
      return undefined;
    },
  });

// ---------------------------------------------------------------------------------------------
// Addresses

export const ipAddress = (): Schema<string> =>
  str({ check: (v) => (isIP(v) ? undefined : `${JSON.stringify(v)} is not an IPv4 or IPv6 address`) });

function ipToBigInt(ip: string): { v: bigint; bits: number } {
  if (isIP(ip) === 4) {
    return { v: ip.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  }
  let parts = ip.split('::');
  const head = parts[0] ? parts[0].split(':') : [];
  const tail = parts.length > 1 && parts[1] ? parts[1].split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const expand = (xs: string[]): string[] =>
    xs.flatMap((x) => {
      if (!x.includes('.')) return [x];
      const n = ipToBigInt(x).v;
      return [(n >> 16n).toString(16), (n & 0xffffn).toString(16)];
    });
  const h = expand(head);
  const t = expand(tail);
  parts = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { v: parts.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n), bits: 128 };
}

export interface Cidr {
  base: bigint;
  bits: number;
  prefix: number;
}

export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m || !isIP(m[1]!)) return undefined;
  const { v, bits } = ipToBigInt(m[1]!);
  const prefix = Number(m[2]);
  if (prefix > bits) return undefined;
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { base: v & mask, bits, prefix };
}

/** True when `inner` lies entirely within `outer` (same address family). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.bits !== inner.bits || inner.prefix < outer.prefix) return false;
  const mask = ((1n << BigInt(outer.prefix)) - 1n) << BigInt(outer.bits - outer.prefix);
  return (inner.base & mask) === outer.base;
}

export const cidr = (): Schema<string> =>
  str({
    check: (v) =>
      parseCidr(v)
        ? undefined
        : `${JSON.stringify(v)} is not a CIDR: use address/prefix, e.g. "10.0.0.0/8" or "fd00::/8"`,
  });

/** An IP address or CIDR (Istio ipBlocks accept both). */
export const ipOrCidr = (): Schema<string> =>
  str({
    check: (v) =>
      isIP(v) || parseCidr(v)
        ? undefined
        : `${JSON.stringify(v)} is not an IP address or CIDR (e.g. "10.0.0.1" or "10.0.0.0/16")`,
  });

// ---------------------------------------------------------------------------------------------
// Regular expressions

/**
 * Gateway API and Istio use RE2 syntax. We accept the subset both RE2 and JavaScript understand:
 * the pattern must compile as a JavaScript RegExp (the proxy runs it as one), and RE2-only-invalid
 * constructs (lookaround, backreferences) are rejected because other implementations cannot run them.
 */
export function regexProblem(v: string): string | undefined {
  try {
    new RegExp(v, 'u');
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(v)}: ${(err as Error).message.replace(/^Invalid regular expression: /, '')} (Weft accepts the RE2 subset that JavaScript RegExp compiles)`;
  }
  if (/\(\?<?[=!]/.test(v))
    return `regular expression ${JSON.stringify(v)} uses lookaround, which RE2 does not support`;
  if (/\\[1-9]|\\k</.test(v))
    return `regular expression ${JSON.stringify(v)} uses a backreference, which RE2 does not support`;
  return undefined;
}

export const regex = (max?: number): Schema<string> =>
  str({ min: 1, ...(max ? { max } : {}), check: regexProblem });

export function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;
  return true;
}
