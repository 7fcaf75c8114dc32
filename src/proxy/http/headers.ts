/**
 * Header handling shared by both directions: hop-by-hop headers are not forwarded (RFC 9110 §7.6.1),
 * and HTTP/2 pseudo-headers are rebuilt by the client library, not copied.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
]);

/** Copy request/response headers for forwarding, dropping hop-by-hop and pseudo headers. */
export function forwardableHeaders(headers: IncomingHttpHeaders, keepTe = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const conn: unknown = headers['connection'];
  const connectionListed =
    typeof conn === 'string' && conn.includes(',') ? new Set(conn.toLowerCase().split(/\s*,\s*/)) : undefined;
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (HOP_BY_HOP.has(name)) {
      // gRPC needs `te: trailers` end to end over HTTP/2.
      if (keepTe && name === 'te') out['te'] = String(headers['te']);
      continue;
    }
    if (connectionListed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** The `x-forwarded-client-cert` value Envoy would set (By = us, URI = the verified caller). */
export function xfccValue(destinationId: string, callerId: string): string {
  return `By=${destinationId};URI=${callerId}`;
}

/** The caller identity from an XFCC header (the last element's URI). */
export function callerFromXfcc(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const last = value.split(',').pop() ?? '';
  for (const part of last.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === 'uri')
      return part
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '');
  }
  return undefined;
}
