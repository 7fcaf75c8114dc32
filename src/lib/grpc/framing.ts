/**
 * gRPC's length-prefixed message framing over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md,
 * "Length-Prefixed-Message"): a compressed flag byte, a 4-byte big-endian length, the message.
 * Shared by the echo workload's gRPC server and the proxy's push-stream client.
 */

/** Frame one uncompressed message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Reassembles messages from DATA chunks that may split or join them. */
export class GrpcFrameReader {
  readonly #maxMessageBytes: number;
  #buf: Buffer = Buffer.alloc(0);

  constructor(maxMessageBytes = 64 * 1024 * 1024) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Append bytes; return every message they complete. Throws on compressed or oversized messages. */
  push(chunk: Buffer): Buffer[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Buffer[] = [];
    while (this.#buf.length >= 5) {
      if (this.#buf[0] !== 0) throw new Error('compressed gRPC messages are not supported');
      const len = this.#buf.readUInt32BE(1);
      if (len > this.#maxMessageBytes)
        throw new Error(`gRPC message of ${len} bytes exceeds ${this.#maxMessageBytes}`);
      if (this.#buf.length < 5 + len) break;
      out.push(this.#buf.subarray(5, 5 + len));
      this.#buf = this.#buf.subarray(5 + len);
    }
    return out;
  }
}
