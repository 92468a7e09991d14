#!/usr/bin/env bash
# Builds the mock Kafka cluster launcher next to this script (needs gcc and librdkafka-dev).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$dir/tq-kafka-mock"
tmp="$out.$$.tmp"
gcc -O2 -Wall -Wextra -o "$tmp" "$dir/tq-kafka-mock.c" -lrdkafka
mv -f "$tmp" "$out"
echo "$out"
