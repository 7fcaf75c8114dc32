/**
 * IP addresses and CIDR blocks for authorization (Istio `ipBlocks`, `source.ip`, `destination.ip`;
 * Kubernetes NetworkPolicy `ipBlock`). Every address is held as an IPv6 address in four 32-bit words;
 * IPv4 addresses are mapped into ::ffff:0:0/96 (RFC 4291 §2.5.5.2), so an IPv4 CIDR also matches the
 * IPv4-mapped form Node reports on dual-stack sockets (`::ffff:10.0.0.1`). Parsing happens once, at
 * compile time for blocks and once per connection for peers, so matching allocates nothing.
 */

/** An address as four big-endian 32-bit words (IPv4 mapped into ::ffff:0:0/96). */
export type IpWords = readonly [number, number, number, number];

export interface Cidr {
  /** The network address, already masked. */
  readonly words: IpWords;
  /** Prefix length in the IPv6 space (an IPv4 /n is 96 + n). */
  readonly bits: number;
  /** As written, for explanations. */
  readonly text: string;
}

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

function parseV6(s: string): IpWords | undefined {
  let text = s;
  // An embedded dotted IPv4 tail (`::ffff:1.2.3.4`) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] ?? '').split(':')) : [];
  const groups: number[] = [];
  for (const g of head) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return undefined;
    for (let i = 0; i < fill; i++) groups.push(0);
  }
  for (const g of tail) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  if (groups.length !== 8) return undefined;
  const w = (i: number): number => (((groups[i] ?? 0) << 16) | (groups[i + 1] ?? 0)) >>> 0;
  return [w(0), w(2), w(4), w(6)];
}

/** Parses an IPv4 or IPv6 address (zone ids are stripped). `undefined` when it is not one. */
export function parseIp(text: string): { words: IpWords; v4: boolean } | undefined {
  const s = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (!s.includes(':')) {
    const v4 = parseV4(s);
    return v4 === undefined ? undefined : { words: [0, 0, 0xffff, v4], v4: true };
  }
  const words = parseV6(s);
  return words === undefined ? undefined : { words, v4: false };
}

function maskWord(word: number, index: number, bits: number): number {
  const start = index * 32;
  if (bits <= start) return 0;
  if (bits >= start + 32) return word >>> 0;
  const keep = bits - start;
  return (word & (0xffffffff << (32 - keep))) >>> 0;
}

/**
 * Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `addr/n`. A bare address is a /32 (or /128).
 * Host bits set below the prefix are masked off (Istio and Kubernetes accept `10.0.0.1/24`).
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (addr === undefined) return undefined;
  const max = addr.v4 ? 32 : 128;
  let len = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    len = Number(p);
    if (len > max) return undefined;
  }
  const bits = addr.v4 ? 96 + len : len;
  const w = addr.words;
  return {
    words: [
      maskWord(w[0], 0, bits),
      maskWord(w[1], 1, bits),
      maskWord(w[2], 2, bits),
      maskWord(w[3], 3, bits),
    ],
    bits,
    text,
  };
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: IpWords): boolean {
  const c = cidr.words;
  const b = cidr.bits;
  return (
    maskWord(ip[0], 0, b) === c[0] &&
    maskWord(ip[1], 1, b) === c[1] &&
    maskWord(ip[2], 2, b) === c[2] &&
    maskWord(ip[3], 3, b) === c[3]
  );
}
