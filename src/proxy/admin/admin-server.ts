/**
 * The proxy's admin listener (loopback only): readiness, the config in force (secrets redacted),
 * the identities held with their expiry, and Prometheus metrics. Read-only by design.
 */
// Not `import … from 'node:http'`, which loads undici (~4 MB): docs/architecture.md, "Proxy memory".
const http = process.getBuiltinModule('node:http');

export interface AdminSources {
  ready(): boolean;
  configDump(): unknown;
  certs(): unknown;
  metrics(): string;
}

export async function listenAdmin(
  sources: AdminSources,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body, null, 2) + '\n';
      res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    };
    try {
      switch (path) {
        case '/ready':
          if (sources.ready()) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
          else res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n');
          return;
        case '/config_dump':
          json(200, sources.configDump());
          return;
        case '/certs':
          json(200, sources.certs());
          return;
        case '/metrics':
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(sources.metrics());
          return;
        default:
          json(404, { error: 'not found', endpoints: ['/ready', '/config_dump', '/certs', '/metrics'] });
      }
    } catch (err) {
      json(500, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
