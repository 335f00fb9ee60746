#!/usr/bin/env bash
# Stops or starts one of the node servers start.sh started (s3rver, azurite),
# for the tests that take a server away on purpose (an outage in the middle of
# a sync). `start` relaunches it with the command and port start.sh recorded;
# its data folder is kept, so buckets and containers survive.
#   node-ctl.sh s3rver|azurite stop|start
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

usage() { services_die "usage: node-ctl.sh s3rver|azurite stop|start"; }
[ $# -eq 2 ] || usage
name=$1
case "$name" in s3rver | azurite) ;; *) usage ;; esac
dir="$STATE/$name"
lock_state

# Idempotent: stopping a stopped server or starting a running one is done.
case "$2" in
  stop)
    pid="$(node_pid "$name")"
    if [ -n "$pid" ]; then
      kill -TERM "$pid"
      deadline=$((SECONDS + READY_TIMEOUT))
      while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
      if pid_alive "$pid"; then
        echo "services: $name did not stop; killing it" >&2
        kill -KILL "$pid" || true
      fi
      rm -f "$dir/server.pid"
    fi
    ;;
  start)
    if [ -z "$(node_pid "$name")" ]; then
      [ -f "$dir/command" ] && [ -f "$dir/port" ] || services_die "$name: run start.sh first"
      port="$(cat "$dir/port")"
      mapfile -d '' command <"$dir/command"
      port_open "$port" && services_die "$name: port $port is in use by another program"
      setsid "${command[@]}" </dev/null >>"$dir/server.log" 2>&1 9>&- &
      pid=$!
      echo "$pid" >"$dir/server.pid"
      deadline=$((SECONDS + READY_TIMEOUT))
      until port_open "$port"; do
        pid_alive "$pid" || { tail -n 30 "$dir/server.log" >&2; services_die "$name: exited while starting"; }
        [ "$SECONDS" -lt "$deadline" ] || services_die "$name: not listening on $HOST:$port"
        sleep 0.1
      done
    fi
    ;;
  *) usage ;;
esac
echo "services: $name $2 done"
