// Naive L4 mesh hop in plain Node.js (from the team's peer-bench, unchanged in behaviour): the
// baseline any Node proxy, Weft's included, has to beat. Run with cwd = bench/work (certs/ inside).
//   node node-l4.mjs a : proxy A, plain TCP in -> tls.connect with a client certificate -> proxy B
//   node node-l4.mjs b : proxy B, TLS server (requestCert + rejectUnauthorized) -> plain TCP -> upstream
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';

const role = process.argv[2];
const A_PORT = +(process.env.A_PORT || 15001);
const B_PORT = +(process.env.B_PORT || 15443);
const UP_PORT = +(process.env.UP_PORT || 18080);
const certs = process.env.CERTS || 'certs';
const rd = (f) => fs.readFileSync(`${certs}/${f}`);

function splice(a, b) {
  a.pipe(b).pipe(a);
  const kill = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', kill);
  b.on('error', kill);
  a.on('close', kill);
  b.on('close', kill);
}

if (role === 'a') {
  const opts = {
    host: '127.0.0.1',
    port: B_PORT,
    servername: 'b.mesh.local',
    ca: rd('ca.crt'),
    cert: rd('a.crt'),
    key: rd('a.key'),
    minVersion: 'TLSv1.3',
  };
  net
    .createServer({ noDelay: true }, (client) => {
      const up = tls.connect(opts);
      up.setNoDelay(true);
      splice(client, up);
    })
    .listen(A_PORT, '127.0.0.1');
} else if (role === 'b') {
  tls
    .createServer(
      {
        cert: rd('b.crt'),
        key: rd('b.key'),
        ca: rd('ca.crt'),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      },
      (s) => {
        s.setNoDelay(true);
        splice(s, net.connect({ host: '127.0.0.1', port: UP_PORT, noDelay: true }));
      },
    )
    .listen(B_PORT, '127.0.0.1');
} else {
  console.error('usage: node node-l4.mjs a|b');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
