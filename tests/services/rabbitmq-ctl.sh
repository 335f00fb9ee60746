#!/usr/bin/env bash
# Stops, starts or restarts the RabbitMQ node start.sh started, for the tests
# that take the broker away on purpose; `ctl ARGS...` runs rabbitmqctl with the
# node's settings (as the rabbitmq user when root). Uses the ports start.sh
# recorded when the MEGASYNC_RABBITMQ_* variables are not set.
#   rabbitmq-ctl.sh stop|start|restart
#   rabbitmq-ctl.sh ctl list_queues name messages
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

case "${1:-}" in
  stop) rabbitmq_stop ;;
  start) rabbitmq_start ;;
  restart) rabbitmq_stop && rabbitmq_start ;;
  ctl)
    shift
    as_rabbitmq rabbitmqctl "$@"
    ;;
  *) services_die "usage: rabbitmq-ctl.sh stop|start|restart|ctl ARGS..." ;;
esac
