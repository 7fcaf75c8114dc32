#!/usr/bin/env bash
# Installs the peer proxies the data-path benchmark compares Weft with (HAProxy, nginx, Caddy) from
# the distribution's packages. The benchmark itself never installs anything: run this once, as root.
# Peers that are missing are skipped by `npm run bench` with a clear line, so this is optional.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "run as root (apt-get): sudo bash bench/peers/install.sh" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# gcc builds the load generator and the upstream; openssl makes the per-run test certificates.
apt-get install -y --no-install-recommends haproxy nginx caddy gcc libc6-dev openssl util-linux
# Debian starts the packaged services; the benchmark runs its own instances on loopback ports.
for s in haproxy nginx caddy; do
  systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
done
for t in haproxy nginx caddy; do
  if command -v "$t" >/dev/null; then echo "ok: $t $(command -v "$t")"; else echo "missing: $t"; fi
done
