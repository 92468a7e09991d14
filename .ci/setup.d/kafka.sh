#!/usr/bin/env bash
# Kafka tests run against librdkafka's mock cluster when TQ_TEST_KAFKA_BROKERS is unset:
# install gcc + librdkafka-dev and build the launcher (integration/kafka-mock/). Idempotent.
set -euo pipefail
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || need+=(librdkafka-dev)
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
bin=integration/kafka-mock/tq-kafka-mock
if [ ! -x "$bin" ] || [ integration/kafka-mock/tq-kafka-mock.c -nt "$bin" ]; then
  bash integration/kafka-mock/build.sh
fi
