#!/usr/bin/env bash
# Makes sure the brokers the suite talks to are up on loopback, starting any that are down:
# Redis 6379, RabbitMQ 5672, NATS with JetStream 4222, PostgreSQL 5432, MariaDB 3306. Waits until each accepts connections.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2 tries=${3:-120}
  for _ in $(seq "$tries"); do
    port_open "$port" && { echo "services: $name is up on 127.0.0.1:$port"; return 0; }
    sleep 1
  done
  echo "services: $name did not come up on 127.0.0.1:$port" >&2
  return 1
}

if ! port_open 6379; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! port_open 5672; then
  echo "services: starting RabbitMQ"
  rabbitmq-server -detached
fi
if ! port_open 4222; then
  echo "services: starting NATS (JetStream)"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
fi
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "services: starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster "$version" main start || pg_ctlcluster "$version" main reload
fi
if ! port_open 3306 && command -v mariadbd-safe >/dev/null; then
  echo "services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  (mariadbd-safe --bind-address=127.0.0.1 >/dev/null 2>&1 &)
fi
wait_port Redis 6379
wait_port RabbitMQ 5672 180
wait_port NATS 4222
wait_port PostgreSQL 5432
wait_port MariaDB 3306
# The databases the suites use (created once; both servers let the admin in from loopback).
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 || su postgres -c "createdb test"
mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS test" 2>/dev/null || mysql -uroot -e "CREATE DATABASE IF NOT EXISTS test"
# A fresh Debian MariaDB lets root in only through the unix socket; the tests log in over TCP.
mariadb -h127.0.0.1 -uroot -e "SELECT 1" >/dev/null 2>&1 || mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
