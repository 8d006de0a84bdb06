#!/usr/bin/env bash
# Starts whichever of PostgreSQL, Redis, RabbitMQ and FerretDB is not answering on this
# machine, then waits until each accepts connections. Safe to run any number of times.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state_dir="$root/.run"
mkdir -p "$state_dir"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name="$1" port="$2" seconds="$3"
  for _ in $(seq 1 $((seconds * 10))); do
    listening "$port" && return 0
    sleep 0.1
  done
  echo "services: $name did not start listening on port $port within ${seconds}s" >&2
  return 1
}

if ! listening 5432; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
# A Redis started here gets a memory limit and volatile-lru (only cached card parts carry a
# TTL, so only they are evicted; docs/operations.md#redis-memory). One already running is left
# as it is: the gateway checks its policy, refuses allkeys-* and warns in readiness otherwise.
if ! listening 6379; then
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --maxmemory 1gb --maxmemory-policy volatile-lru \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! listening 5672; then
  echo "services: starting RabbitMQ"
  rabbitmq-server -detached
fi
if ! listening 27017; then
  bash "$root/scripts/install-ferretdb.sh"
  echo "services: starting FerretDB"
  mkdir -p "$state_dir/ferretdb"
  nohup "${FERRETDB_BIN_DIR:-$HOME/.local/bin}/ferretdb" --handler=sqlite --sqlite-url="file:$state_dir/ferretdb/" \
    --listen-addr=127.0.0.1:27017 --telemetry=disable --state-dir=- --log-level=warn \
    >"$state_dir/ferretdb.log" 2>&1 &
fi

wait_for PostgreSQL 5432 60
wait_for Redis 6379 30
wait_for RabbitMQ 5672 120
wait_for FerretDB 27017 30
# RabbitMQ listens before it is fully booted; wait until it answers.
for _ in $(seq 1 120); do rabbitmq-diagnostics -q check_running >/dev/null 2>&1 && break; sleep 1; done
