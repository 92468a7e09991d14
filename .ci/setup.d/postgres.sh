#!/usr/bin/env bash
# @tq/postgres tests need: a PostgreSQL server on 127.0.0.1:5432 that lets "postgres" in
# without a password from loopback, with a database "test" (started by scripts/services.sh),
# and MariaDB on 127.0.0.1:3306 (root, no password, database "test") for the MySQL result
# backend; Debian's Django, django-celery-results and psycopg2 for the check that Django's admin
# model reads tq's result table (integration/sql-results). Idempotent: installs and configures only what is missing.
set -euo pipefail
need=()
for pkg in postgresql mariadb-server python3-django python3-django-celery-results python3-psycopg2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
# Loopback trust for the test role (a CI machine only; the cluster listens on loopback).
for hba in /etc/postgresql/*/main/pg_hba.conf; do
  [ -e "$hba" ] || continue
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    # A cluster the package already started reads the file again (one that is down starts with it).
    version=$(basename "$(dirname "$(dirname "$hba")")")
    pg_ctlcluster "$version" main reload 2>/dev/null || true
  fi
done
