/**
 * Applying a matched rule's Gateway API filters to a live request: header modifiers, URL rewrite and
 * redirect (the pure computations are policy/routing's; this is where they meet Node's objects).
 * Redirects answer locally; rewrites change the forwarded path and Host.
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RouteFilter } from '../../api/index.ts';
import {
  applyRequestHeaderModifier,
  applyResponseHeaderModifier,
  computeRedirect,
  rewriteHost,
  rewritePath,
} from '../../policy/routing/index.ts';
import type { RouteMatchResult } from '../../policy/routing/index.ts';

export interface FilterOutcome {
  /** True when a local response (redirect) was sent and the request must not be forwarded. */
  done: boolean;
  /** The path (with query) to forward. */
  path: string;
  /** Apply response-side filters to the upstream response headers. */
  responseHeaders(headers: OutgoingHttpHeaders): void;
}

const NO_RESPONSE_FILTER = () => undefined;

export function applyFilters(
  match: RouteMatchResult | undefined,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  headers: OutgoingHttpHeaders,
  res: http.ServerResponse | http2.Http2ServerResponse,
  listenerPort: number,
): FilterOutcome {
  const url = req.url ?? '/';
  if (!match || match.rule.filters.length === 0)
    return { done: false, path: url, responseHeaders: NO_RESPONSE_FILTER };
  const q = url.indexOf('?');
  let path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  let responseFilters: RouteFilter[] | undefined;
  for (const f of match.rule.filters) {
    switch (f.type) {
      case 'RequestHeaderModifier':
        applyRequestHeaderModifier(headers, f.requestHeaderModifier);
        break;
      case 'ResponseHeaderModifier':
        (responseFilters ??= []).push(f);
        break;
      case 'URLRewrite':
        if (f.urlRewrite.path) path = rewritePath(path, match.matchedPrefix, f.urlRewrite.path);
        if (f.urlRewrite.hostname) {
          const host = rewriteHost(String(headers['host'] ?? req.headers[':authority'] ?? ''), f.urlRewrite);
          headers['host'] = host;
        }
        break;
      case 'RequestRedirect': {
        const r = computeRedirect(
          {
            scheme: 'http',
            host: String(req.headers[':authority'] ?? req.headers.host ?? ''),
            port: listenerPort,
            path,
            query,
          },
          f.requestRedirect,
          match.matchedPrefix,
        );
        asResponse(res).writeHead(r.status, { location: r.location, 'content-length': '0' });
        res.end();
        return { done: true, path: url, responseHeaders: NO_RESPONSE_FILTER };
      }
      default:
        // RequestMirror is applied by the forwarder; ExtensionRef filters by their own layers.
        break;
    }
  }
  const finalPath = query ? `${path}?${query}` : path;
  return {
    done: false,
    path: finalPath,
    responseHeaders: responseFilters
      ? (out) => {
          for (const f of responseFilters!) {
            if (f.type === 'ResponseHeaderModifier')
              applyResponseHeaderModifier(out, f.responseHeaderModifier);
          }
        }
      : NO_RESPONSE_FILTER,
  };
}

/** A response the proxy itself writes: JSON with what went wrong. */
export function localReply(
  res: http.ServerResponse | http2.Http2ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body) + '\n';
  asResponse(res).writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'x-weft-local-reply': 'true',
    ...headers,
  });
  res.end(text);
}

/** Both response classes have writeHead(status, headers); TypeScript cannot call the union. */
function asResponse(res: http.ServerResponse | http2.Http2ServerResponse): {
  writeHead(status: number, headers: Record<string, string>): unknown;
} {
  return res as unknown as { writeHead(status: number, headers: Record<string, string>): unknown };
}
