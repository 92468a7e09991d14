#!/usr/bin/env bash
# @tq/amqp tests need: RabbitMQ on 127.0.0.1:5672 (guest/guest) with a "tq_test" vhost the tests
# own, rabbitmqctl (server-side connection close, a nack policy), openssl (the amqps:// tests'
# throwaway certificate), and Debian's Python Celery with py-amqp for
# integration/celery-interop/amqp. Idempotent and fast when everything is there: installs only
# what is missing, starts RabbitMQ only if it is down (scripts/services.sh would otherwise).
set -euo pipefail
need=()
for pkg in rabbitmq-server openssl python3-celery python3-amqp; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

port_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! port_open; then
  # Not listening: start it unless the Debian package's service is booting it, then wait.
  rabbitmqctl -q status >/dev/null 2>&1 || { echo "amqp.sh: starting RabbitMQ"; rabbitmq-server -detached; }
  rabbitmqctl -q await_startup --timeout 180 >/dev/null
fi

# One rabbitmqctl call when everything is already there (each call costs a second or more).
if ! rabbitmqctl -q list_vhosts | grep -qx 'tq_test'; then
  rabbitmqctl -q add_vhost tq_test
  rabbitmqctl -q set_permissions -p tq_test guest '.*' '.*' '.*'
fi
echo "amqp.sh: RabbitMQ ready, vhost tq_test for guest"
