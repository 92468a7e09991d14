#!/usr/bin/env bash
# @tq/redis tests need: redis-server (the shared server on 6379 is started by scripts/services.sh;
# the TLS, password and Sentinel tests spawn their own redis-server processes, Sentinel mode
# included), openssl (their throwaway certificate), and Debian's Python Celery + redis-py for
# integration/celery-interop/redis. Idempotent: installs only what is missing.
set -euo pipefail
need=()
for pkg in redis-server redis-tools openssl python3-celery python3-redis; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
# The Debian package starts its own service on 6379 when systemd runs; scripts/services.sh
# starts one otherwise. TLS support is required for the rediss:// tests.
redis-server --help 2>&1 | grep -q -- '--tls-port' || redis-server --version | grep -q 'v=[6-9]' || {
  echo "redis.sh: redis-server 6+ with TLS support is required" >&2
  exit 1
}
