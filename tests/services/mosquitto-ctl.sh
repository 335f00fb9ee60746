#!/usr/bin/env bash
# Stops, starts or restarts the Mosquitto broker start.sh started, for the
# tests that restart it on purpose (a broker restarted mid-flow). Its
# persistence file (sessions, queued messages) stays.
#   mosquitto-ctl.sh stop|start|restart
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

[ $# -eq 1 ] || services_die "usage: mosquitto-ctl.sh stop|start|restart"
# The port start.sh used (recorded), not the default.
port="$(cat "$STATE/mosquitto/port" 2>/dev/null || true)"
case "$1" in
  stop) mosquitto_stop ;;
  start) mosquitto_start "$port" ;;
  restart) mosquitto_stop && mosquitto_start "$port" ;;
  *) services_die "usage: mosquitto-ctl.sh stop|start|restart" ;;
esac
