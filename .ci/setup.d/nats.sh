#!/usr/bin/env bash
# @tq/nats tests need: nats-server with JetStream (the shared server on 127.0.0.1:4222 is started
# by scripts/services.sh; the auth/TLS and 3-node cluster tests spawn their own nats-server
# processes from /usr/sbin/nats-server on random loopback ports) and openssl (the TLS tests'
# throwaway CA and certificates). Idempotent and fast when everything is there.
set -euo pipefail
need=()
for pkg in nats-server openssl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
[ -x /usr/sbin/nats-server ] || { echo "nats.sh: /usr/sbin/nats-server missing after install" >&2; exit 1; }

port_open() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
if ! port_open; then
  # Same command as scripts/services.sh, for when this script runs first.
  echo "nats.sh: starting nats-server with JetStream on 127.0.0.1:4222"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 30); do port_open && break; sleep 1; done
  port_open || { echo "nats.sh: nats-server did not come up" >&2; exit 1; }
fi
echo "nats.sh: $(/usr/sbin/nats-server --version) ready on 127.0.0.1:4222"
