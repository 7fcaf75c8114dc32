/**
 * Protocol Buffers encoding of the push messages (src/api/wire/push.proto), by hand: the messages
 * are a handful of strings and one int64, so the proxy needs no proto loader at run time. Encoding
 * follows the proto3 wire format (varint keys, length-delimited strings and sub-messages); decoding
 * skips fields it does not know, as proto3 requires. A test round-trips these against protobufjs
 * loading the .proto itself, so the hand encoding cannot drift from the file.
 */

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

class Writer {
  readonly parts: Buffer[] = [];
  string(field: number, value: string | undefined): this {
    if (value === undefined || value === '') return this; // proto3 default: not sent
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }
  bytes(field: number, value: Buffer): this {
    this.parts.push(Buffer.from([...varint((field << 3) | LEN), ...varint(value.length)]), value);
    return this;
  }
  message(field: number, value: Buffer): this {
    return this.bytes(field, value);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type Fields = Map<number, (Buffer | number)[]>;

/** Read every field of a message; LEN fields as Buffers, varints as numbers (safe up to 2^53). */
function readFields(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let i = 0;
  const readVarint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 0x80;
      if (mul > 2 ** 63) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const type = key % 8;
    let value: Buffer | number;
    if (type === VARINT) value = readVarint();
    else if (type === LEN) {
      const len = readVarint();
      if (i + len > buf.length) throw new Error('truncated length-delimited field');
      value = buf.subarray(i, i + len);
      i += len;
    } else if (type === I64) {
      i += 8;
      continue;
    } else if (type === I32) {
      i += 4;
      continue;
    } else throw new Error(`unsupported wire type ${type}`);
    const list = fields.get(field);
    if (list) list.push(value);
    else fields.set(field, [value]);
  }
  return fields;
}

function str(f: Fields, n: number): string {
  const v = f.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v.toString('utf8') : '';
}

function num(f: Fields, n: number): number {
  const v = f.get(n)?.at(-1);
  return typeof v === 'number' ? v : 0;
}

function sub(f: Fields, n: number): Buffer | undefined {
  const v = f.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v : undefined;
}

// ---- ProxyMessage (proxy → control plane) ---------------------------------------------------

export type ProxyMessageOut =
  | { hello: { node: string; lastVersion: string; proxyVersion: string } }
  | { ack: { version: string } }
  | { nack: { version: string; error: string } };

export function encodeProxyMessage(m: ProxyMessageOut): Buffer {
  // Field numbers from push.proto: hello = 1, ack = 2, nack = 3.
  if ('hello' in m) {
    const h = new Writer()
      .string(1, m.hello.node)
      .string(2, m.hello.lastVersion)
      .string(3, m.hello.proxyVersion);
    return new Writer().message(1, h.finish()).finish();
  }
  if ('ack' in m) return new Writer().message(2, new Writer().string(1, m.ack.version).finish()).finish();
  return new Writer()
    .message(3, new Writer().string(1, m.nack.version).string(2, m.nack.error).finish())
    .finish();
}

// ---- ControlMessage (control plane → proxy) --------------------------------------------------

export type ControlMessageIn =
  | { kind: 'snapshot'; version: string; revision: number; json: string }
  | { kind: 'trustBundle'; pem: string }
  | { kind: 'unknown' };

export function decodeControlMessage(buf: Buffer): ControlMessageIn {
  const f = readFields(buf);
  const snap = sub(f, 1);
  if (snap) {
    const s = readFields(snap);
    return { kind: 'snapshot', version: str(s, 1), revision: num(s, 2), json: str(s, 3) };
  }
  const tb = sub(f, 2);
  if (tb) return { kind: 'trustBundle', pem: str(readFields(tb), 1) };
  return { kind: 'unknown' };
}

// ---- SignWorkload ------------------------------------------------------------------------------

export function encodeSignRequest(r: { csrPem: string; spiffeId: string }): Buffer {
  return new Writer().string(1, r.csrPem).string(2, r.spiffeId).finish();
}

export function decodeSignResponse(buf: Buffer): {
  certificatePem: string;
  chainPem: string;
  expiresAt: string;
} {
  const f = readFields(buf);
  return { certificatePem: str(f, 1), chainPem: str(f, 2), expiresAt: str(f, 3) };
}

// Exposed for the codec's tests.
export const wire = { readFields, varint };
