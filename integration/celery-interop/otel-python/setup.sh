#!/bin/sh
# Extracts the pure-Python OpenTelemetry packages run.mjs needs from git clones of
# opentelemetry-python and opentelemetry-python-contrib (no pip, no PyPI), at tags that run on
# Debian 12's Python libraries (typing_extensions 4.4: API >= 1.34 needs 4.5), into DEST.
#   sh setup.sh PYTHON_REPO CONTRIB_REPO [DEST]     (a clone or a bare git dir, each)
set -eu
python_repo=$1
contrib_repo=$2
api_tag=${TQ_OTEL_API_TAG:-v1.33.0}
contrib_tag=${TQ_OTEL_CONTRIB_TAG:-v0.54b0}
dest=${3:-/tmp/otelpy/$api_tag}
gitdir() { if [ -d "$1/.git" ]; then echo "$1/.git"; else echo "$1"; fi; }
mkdir -p "$dest"
git --git-dir="$(gitdir "$python_repo")" archive "$api_tag" \
  opentelemetry-api opentelemetry-sdk opentelemetry-semantic-conventions | tar -x -C "$dest"
git --git-dir="$(gitdir "$contrib_repo")" archive "$contrib_tag" \
  opentelemetry-instrumentation instrumentation/opentelemetry-instrumentation-celery | tar -x -C "$dest"
# Entry points (OpenTelemetry loads its context implementation through one) without installing.
/usr/bin/python3 "$(dirname "$0")/make_dist_info.py" "$dest" "$dest/site"
echo "TQ_OTEL_PYTHON_DIR=$dest"
