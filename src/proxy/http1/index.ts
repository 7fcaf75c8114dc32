/** http1: the HTTP/1.1 fast path — a narrow codec, downstream connections, pooled upstreams. */
export {
  BODY_CHUNKED,
  BODY_UNTIL_CLOSE,
  HOP_BY_HOP,
  headerLines,
  parseRequestHead,
  parseResponseHead,
  statusLine,
  ChunkedFramer,
  MAX_HEAD_BYTES,
} from './codec.ts';
export type { HeadHeaders, RequestHead, ResponseHead, RequestParse, ResponseParse } from './codec.ts';
export {
  DownstreamConnection,
  Exchange,
  forwardResponse,
  UpstreamConnection,
  UpstreamPool,
  UpstreamError,
} from './conn.ts';
export type { AcceptRequest, FastRequest, HandOff, UpstreamResponse } from './conn.ts';
