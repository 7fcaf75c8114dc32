// Naive L7 mesh hop in plain Node.js (from the team's peer-bench, unchanged in behaviour): node:http
// in, keep-alive https.Agent with a client certificate to proxy B; B verifies the client and
// forwards with a keep-alive http.Agent. Run with cwd = bench/work (certs/ inside).
//   node node-l7.mjs a | b
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

const role = process.argv[2];
const A_PORT = +(process.env.A_PORT || 15001);
const B_PORT = +(process.env.B_PORT || 15443);
const UP_PORT = +(process.env.UP_PORT || 18080);
const certs = process.env.CERTS || 'certs';
const rd = (f) => fs.readFileSync(`${certs}/${f}`);

const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);
function strip(h) {
  const o = {};
  for (const k in h) if (!HOP.has(k)) o[k] = h[k];
  return o;
}

function forwarder(mod, target) {
  return (req, res) => {
    const p = mod.request(
      { ...target, method: req.method, path: req.url, headers: strip(req.headers) },
      (pr) => {
        res.writeHead(pr.statusCode, strip(pr.headers));
        pr.pipe(res);
      },
    );
    p.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(p);
  };
}

if (role === 'a') {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 256,
    ca: rd('ca.crt'),
    cert: rd('a.crt'),
    key: rd('a.key'),
    minVersion: 'TLSv1.3',
  });
  const target = { host: '127.0.0.1', port: B_PORT, servername: 'b.mesh.local', agent };
  const srv = http.createServer({ noDelay: true }, forwarder(https, target));
  srv.keepAliveTimeout = 300e3;
  srv.listen(A_PORT, '127.0.0.1');
} else if (role === 'b') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  const target = { host: '127.0.0.1', port: UP_PORT, agent };
  const srv = https.createServer(
    {
      cert: rd('b.crt'),
      key: rd('b.key'),
      ca: rd('ca.crt'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      noDelay: true,
    },
    forwarder(http, target),
  );
  srv.keepAliveTimeout = 300e3;
  srv.listen(B_PORT, '127.0.0.1');
} else {
  console.error('usage: node node-l7.mjs a|b');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
