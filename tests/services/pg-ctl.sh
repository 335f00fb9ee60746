#!/usr/bin/env bash
# Stops or starts one of the PostgreSQL servers start.sh started, for the tests
# that take a server away on purpose (a source restarted mid-stream, a target
# down for a while). Only pg-c is meant for that: the others serve tests that
# run at the same time.
#   pg-ctl.sh pg-c stop|start|restart
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

[ $# -eq 2 ] || services_die "usage: pg-ctl.sh NAME stop|start|restart"
name=$1
data="$(pg_home "$name")/data"
[ -f "$data/PG_VERSION" ] || services_die "$name: no data dir (run start.sh first)"
running() { as_pg "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; }
case "$2" in
  # Idempotent: stopping a stopped server or starting a running one is done.
  stop) ! running || as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t "$READY_TIMEOUT" stop >/dev/null ;;
  start) running || as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$(pg_home "$name")/server.log" -w \
      -t "$READY_TIMEOUT" start </dev/null >/dev/null 2>&1 9>&- ;;
  restart)
    as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$(pg_home "$name")/server.log" -w \
      -t "$READY_TIMEOUT" restart </dev/null >/dev/null 2>&1 9>&- ;;
  *) services_die "usage: pg-ctl.sh NAME stop|start|restart" ;;
esac
echo "services: $name $2 done"
