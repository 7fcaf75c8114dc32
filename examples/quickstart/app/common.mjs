// Shared helpers for the quickstart programs: plain Node built-ins, no dependencies. Each program
// listens where `weft up` tells it (WEFT_LISTEN_ADDR, PORT) and reaches other services through the
// addresses in its environment (<SERVICE>_URL), which lead to its node proxy: the mesh adds mTLS,
// routing and authorization, and tells the callee who called in x-forwarded-client-cert.
import http from 'node:http';

export const me = {
  workload: process.env.WEFT_WORKLOAD ?? 'unknown',
  instance: process.env.WEFT_INSTANCE ?? 'unknown',
  node: process.env.WEFT_NODE ?? '',
  identity: process.env.WEFT_SPIFFE_ID ?? '',
};

/** The verified caller identity the node proxy set (URI= of x-forwarded-client-cert), or null. */
export function callerOf(req) {
  const xfcc = req.headers['x-forwarded-client-cert'];
  if (!xfcc) return null;
  const last = String(xfcc).split(',').pop();
  const m = /(?:^|;)\s*URI=("?)([^;"]+)\1/i.exec(last);
  return m ? m[2] : null;
}

/** GET (or other method) a JSON URL with a timeout; never throws, returns {status, body} or {error}. */
export async function callJson(url, init = {}) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 5000) });
    const text = await res.text();
    let body = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text (e.g. a proxy's denial message)
    }
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, error: err instanceof Error ? err.message : String(err) };
  }
}

export function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves `handler(req, res, url)` on WEFT_LISTEN_ADDR:PORT; /healthz answers 200. */
export function serve(handler) {
  const host = process.env.WEFT_LISTEN_ADDR ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? 8080);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    Promise.resolve(handler(req, res, url)).catch((err) => sendJson(res, 500, { error: String(err) }));
  });
  server.listen(port, host, () => console.log(`${me.instance} listening on ${host}:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
