#!/usr/bin/env bash
# Start the local PostgreSQL cluster if it is not running, and wait until it accepts
# connections (the storage tests use 127.0.0.1:5432, user postgres, database test).
set -euo pipefail

HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}

ready() { pg_isready -q -h "$HOST" -p "$PORT" -U postgres; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL client tools not installed" >&2
  exit 1
fi

if ! ready; then
  if [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "ensure-postgres: no PostgreSQL cluster under /etc/postgresql" >&2
    exit 1
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi

for _ in $(seq 1 60); do
  if ready; then
    # The tests connect to the database "test"; create it once if missing.
    if ! psql -h "$HOST" -p "$PORT" -U postgres -d test -Atc 'SELECT 1' >/dev/null 2>&1; then
      psql -h "$HOST" -p "$PORT" -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null
    fi
    echo "ensure-postgres: accepting connections on $HOST:$PORT"
    exit 0
  fi
  sleep 0.5
done
echo "ensure-postgres: PostgreSQL did not accept connections within 30 s" >&2
exit 1
