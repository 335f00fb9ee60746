#!/usr/bin/env bash
# Stops or starts one of the Redis servers start.sh started, for the tests that
# take a server away on purpose (a replica down for a while).
#   redis-ctl.sh redis-a|redis-b stop|start
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

[ $# -eq 2 ] || services_die "usage: redis-ctl.sh NAME stop|start"
case "$2" in
  stop) redis_stop "$1" ;;
  # The port start.sh used (recorded), not the default.
  start) redis_start "$1" "$(cat "$STATE/$1/port" 2>/dev/null || true)" ;;
  *) services_die "usage: redis-ctl.sh NAME stop|start" ;;
esac
