#!/usr/bin/env bash
# Installs everything the whole test suite needs on a fresh Debian machine of this project's
# kind (run as root, or with sudo): Debian packages (Python Celery for the interop tests,
# Chromium for the dashboard's browser test,
# librdkafka for the mock Kafka cluster), each adapter's setup in .ci/setup.d/, the brokers
# (started if down), and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in python3-celery python3-redis python3-tornado python3-prometheus-client python3-humanize librdkafka-dev gcc openssl chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

for script in .ci/setup.d/*.sh; do
  [ -e "$script" ] || continue
  echo "setup: $script"
  $SUDO bash "$script"
done

$SUDO bash scripts/services.sh
npm ci --no-audit --no-fund
