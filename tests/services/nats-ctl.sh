#!/usr/bin/env bash
# Stops or starts the nats-server start.sh started, for the tests that restart
# it on purpose (a broker restarted mid-flow). Its JetStream store stays.
#   nats-ctl.sh stop|start
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

[ $# -eq 1 ] || services_die "usage: nats-ctl.sh stop|start"
case "$1" in
  stop) nats_stop ;;
  # The ports start.sh used (recorded), not the defaults.
  # shellcheck disable=SC2046
  start) nats_start $(cat "$STATE/nats/ports" 2>/dev/null || true) ;;
  *) services_die "usage: nats-ctl.sh stop|start" ;;
esac
