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
  start)
    read -r port monitor 2>/dev/null <"$STATE/nats/ports" || true
    nats_start "${port:-}" "${monitor:-}"
    ;;
  *) services_die "usage: nats-ctl.sh stop|start" ;;
esac
