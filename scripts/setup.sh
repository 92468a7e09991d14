#!/usr/bin/env bash
# Installs everything the whole test suite needs on a fresh Debian machine of this project's
# kind (run as root, or with sudo): Debian packages (Python Celery for the interop tests,
# Chromium for the dashboard's browser test,
# librdkafka for the mock Kafka cluster, docker.io and busybox-static for the Testcontainers kit
# run), each adapter's setup in .ci/setup.d/, the brokers (started if down), and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in python3-celery python3-redis python3-tornado python3-prometheus-client python3-humanize librdkafka-dev gcc openssl chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# docker.io + busybox-static (+ bc, which its scripts use): scripts/testcontainers-kit.mjs (run by npm test under CI=true) starts
# dockerd itself with no bridge and no iptables (../shared/containers/start-dockerd.sh) and builds
# its images from this host's redis-server and nats-server; it stops that dockerd when done.
# The package's own service must not start (it would bring up dockerd with default networking):
# policy-rc.d refuses service starts during the install.
docker_pkgs=()
for pkg in docker.io busybox-static bc; do
  dpkg -s "$pkg" >/dev/null 2>&1 || docker_pkgs+=("$pkg")
done
if [ ${#need[@]} -gt 0 ] || [ ${#docker_pkgs[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need[*]} ${docker_pkgs[*]}"
  $SUDO apt-get update -qq
  [ ${#need[@]} -eq 0 ] || $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  if [ ${#docker_pkgs[@]} -gt 0 ]; then
    policy=/usr/sbin/policy-rc.d
    had_policy=0; [ -e $policy ] && had_policy=1
    [ $had_policy = 1 ] || printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
    $SUDO chmod +x $policy
    $SUDO apt-get install -y -qq "${docker_pkgs[@]}" >/dev/null
    [ $had_policy = 1 ] || $SUDO rm -f $policy
  fi
fi

for script in .ci/setup.d/*.sh; do
  [ -e "$script" ] || continue
  echo "setup: $script"
  $SUDO bash "$script"
done

$SUDO bash scripts/services.sh
npm ci --no-audit --no-fund
