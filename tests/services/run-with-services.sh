#!/usr/bin/env bash
# Starts the test servers (start.sh), runs the given command with the
# settings of the env file in its environment, then stops the servers
# (stop.sh) whatever the outcome. Exits with the command's status (or 1 when
# the command passed but the servers could not be started or stopped).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"
[ $# -gt 0 ] || services_die "usage: run-with-services.sh COMMAND [ARG...]"

status=1
child=""
finish() {
  trap - EXIT INT TERM
  if ! "$here/stop.sh"; then
    echo "run-with-services: stopping the test servers failed" >&2
    [ "$status" -ne 0 ] || status=1
  fi
  exit "$status"
}
# On Ctrl-C / SIGTERM: end the command first, then stop the servers.
on_signal() {
  status=$1
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  finish
}
trap finish EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

if ! "$here/start.sh"; then
  echo "run-with-services: starting the test servers failed" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
# In the background so that a signal to this script is handled at once;
# 0<&0 keeps the terminal as its input, and env gives it back the default
# Ctrl-C handling (background commands of a script start with SIGINT ignored).
env --default-signal=INT,QUIT "$@" 0<&0 &
child=$!
set +e
wait "$child"
status=$?
set -e
