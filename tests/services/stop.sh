#!/usr/bin/env bash
# Stops the servers start.sh started (PostgreSQL: fast shutdown; MariaDB:
# SIGTERM) and removes the env file. Data dirs and logs are kept for
# inspection and a faster next start; `stop.sh --purge` deletes them too.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

purge=0
case "${1:-}" in
  --purge) purge=1 ;;
  "") ;;
  *) services_die "usage: stop.sh [--purge]" ;;
esac
[ -d "$STATE" ] || exit 0
lock_state
rm -f "$ENV_FILE"
failed=0

for name in pg-a pg-b pg-c; do
  data="$(pg_home "$name")/data"
  [ -f "$data/postmaster.pid" ] || continue
  as_pg "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1 || continue  # stale pid file
  if as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t "$READY_TIMEOUT" stop >/dev/null; then
    echo "services: $name stopped"
  else
    echo "services: $name did not stop" >&2
    failed=1
  fi
done

pid="$(mariadb_pid)"
if [ -n "$pid" ]; then
  kill -TERM "$pid"
  deadline=$((SECONDS + READY_TIMEOUT))
  while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if pid_alive "$pid"; then
    echo "services: mariadb did not stop; killing it" >&2
    kill -KILL "$pid" || true
    failed=1
  else
    echo "services: mariadb stopped"
  fi
fi
rm -f "$STATE/mariadb/mariadbd.pid" "$STATE/mariadb/launch.pid"

for name in s3rver azurite fauxqs; do
  pid="$(node_pid "$name")"
  [ -n "$pid" ] || continue
  kill -TERM "$pid"
  deadline=$((SECONDS + READY_TIMEOUT))
  while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if pid_alive "$pid"; then
    echo "services: $name did not stop; killing it" >&2
    kill -KILL "$pid" || true
    failed=1
  else
    echo "services: $name stopped"
  fi
  rm -f "$STATE/$name/server.pid"
done

for name in redis-a redis-b; do
  redis_stop "$name" || failed=1
done
nats_stop || failed=1

rabbitmq_stop || failed=1
mosquitto_stop || failed=1

if [ "$purge" -eq 1 ] && [ "$failed" -eq 0 ]; then
  for name in pg-a pg-b pg-c; do rm -rf "$(pg_home "$name")"; done
  rm -rf "$(fallback_dir)" "$STATE"
  echo "services: removed $STATE"
fi
exit "$failed"
