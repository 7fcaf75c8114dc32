#!/usr/bin/env bash
# Generates a throw-away test CA and two ECDSA P-256 leaf certs with SPIFFE URI SANs.
# Usage: bench/peers/certs.sh OUTDIR   (OUTDIR is created; never commit its contents)
set -euo pipefail
out=${1:?usage: certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec ca.key
openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/O=example.org/CN=mesh-test-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt 2>/dev/null
leaf() { # name CN SAN EKU
  ec "$1.key"
  openssl req -new -key "$1.key" -subj "/O=example.org/CN=$2" -out "$1.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$4" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  cat "$1.crt" "$1.key" > "$1.pem"   # haproxy wants cert+key in one file
  rm -f "$1.csr" "$1.ext"
}
# proxy A = outbound sidecar of the "client" workload: presents a client cert
leaf a client "URI:spiffe://example.org/ns/default/sa/client" "clientAuth"
# proxy B = inbound sidecar of the "server" workload: server cert; DNS SAN is what
# the peers' stock hostname verification checks, the URI SAN is the SPIFFE identity
leaf b b.mesh.local "URI:spiffe://example.org/ns/default/sa/server,DNS:b.mesh.local" "serverAuth"
openssl verify -CAfile ca.crt a.crt b.crt >/dev/null
