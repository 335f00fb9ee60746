#!/usr/bin/env bash
# Starts the real servers the tests need (none yet: the daemon's own tests run
# on the embedded default — SQLite and local files), runs the given command,
# and stops the servers whatever the outcome. Later connectors add their
# servers to start.sh / stop.sh here.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/start.sh" || { echo "run-with-services: starting test servers failed" >&2; exit 1; }
"$@"
status=$?
"$here/stop.sh"
exit $status
