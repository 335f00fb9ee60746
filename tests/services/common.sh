# Shared settings of start.sh / stop.sh / run-with-services.sh (sourced, not run).
# Every setting can be overridden from the environment; see README.md.
# shellcheck shell=bash disable=SC2034  # variables used by the sourcing scripts

services_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$services_here/../.." && pwd)"

# State folder: data dirs, logs, sockets, the env file.
STATE="${MEGASYNC_SERVICES_DIR:-$repo_root/build/services}"
[[ "$STATE" = /* ]] || STATE="$PWD/$STATE"
ENV_FILE="$STATE/env"

PG_BINDIR="${MEGASYNC_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PG_A_PORT="${MEGASYNC_PG_A_PORT:-25432}"
PG_B_PORT="${MEGASYNC_PG_B_PORT:-25433}"
PG_C_PORT="${MEGASYNC_PG_C_PORT:-25434}"
MARIADB_PORT="${MEGASYNC_MARIADB_PORT:-23306}"
S3_PORT="${MEGASYNC_S3_PORT:-24568}"
AZURITE_PORT="${MEGASYNC_AZURITE_PORT:-24500}"
HOST=127.0.0.1

# Node test servers (s3rver, Azurite), pinned in package.json/package-lock.json
# and installed with `npm ci` into node_modules/ here (git-ignored).
NODE_DIR="$services_here"
# s3rver's hard-coded account; Azurite's well-known development account.
S3_ACCESS_KEY=S3RVER
S3_SECRET_KEY=S3RVER
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# Users and database, the same on every server. Test-only credentials.
DB_NAME=megasync_test
SUPER_USER=megasync
SUPER_PASSWORD="${MEGASYNC_SERVICES_PASSWORD:-megasync-test-pw}"
LIMITED_USER=megasync_limited
LIMITED_PASSWORD="${MEGASYNC_SERVICES_LIMITED_PASSWORD:-megasync-limited-pw}"

# How long to wait for a server to accept connections.
READY_TIMEOUT="${MEGASYNC_SERVICES_TIMEOUT:-60}"

services_die() { echo "services: $*" >&2; exit 1; }

# Passwords go into URLs and SQL literals unquoted: keep them to safe characters.
for _pw in "$SUPER_PASSWORD" "$LIMITED_PASSWORD"; do
  [[ "$_pw" =~ ^[A-Za-z0-9._-]+$ ]] || services_die "passwords may only use A-Z a-z 0-9 . _ -"
done
for _port in "$PG_A_PORT" "$PG_B_PORT" "$PG_C_PORT" "$MARIADB_PORT" "$S3_PORT" "$AZURITE_PORT"; do
  [[ "$_port" =~ ^[0-9]+$ ]] || services_die "bad port '$_port'"
done
unset _pw _port

# A user's PG* variables (PGHOST, PGSSLMODE, ...) must not redirect our clients.
while read -r _v; do unset "$_v"; done < <(compgen -e | grep '^PG' || true)
unset _v

is_root() { [ "$(id -u)" -eq 0 ]; }

# PostgreSQL refuses to run as root: as root, run its programs as `postgres`.
# (From /: its programs fail when they cannot read the current folder.)
as_pg() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Short folder for things whose path must stay short (unix sockets: 107 bytes)
# or be reachable by the postgres user (as root, when $STATE is not).
fallback_dir() {
  local sum
  sum="$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)"
  echo "${TMPDIR:-/tmp}/megasync-services-$(id -u)-$sum"
}

# The folder of one PostgreSQL instance (data/, server.log, socket), as
# recorded by start.sh in $STATE/NAME.home.
pg_home() { cat "$STATE/$1.home" 2>/dev/null || echo "$STATE/$1"; }

# mariadbd's socket path (kept short).
mariadb_socket() {
  local sock="$STATE/mariadb/mariadbd.sock"
  [ "${#sock}" -le 100 ] || sock="$(fallback_dir)/mariadbd.sock"
  echo "$sock"
}

# True when PID is a live process (a zombie counts as gone: PID 1 on some
# machines reaps orphans only every few seconds).
pid_alive() {
  local state
  state="$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != Z ]
}

# The PID of our running mariadbd, from its pid file or else the one start.sh
# wrote at launch (empty when not running; a stale pid file naming some other
# process does not count).
mariadb_pid() {
  local f pid
  for f in mariadbd.pid launch.pid; do
    pid="$(cat "$STATE/mariadb/$f" 2>/dev/null || true)"
    if [ -n "$pid" ] && pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mariadbd ]; then
      echo "$pid"
      return
    fi
  done
}

# The PID of a node server start.sh launched (NAME: s3rver, azurite), empty
# when it is not running.
node_pid() {
  local pid
  pid="$(cat "$STATE/$1/server.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = node ]; then
    echo "$pid"
  fi
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Serialises start.sh/stop.sh runs on the same state folder.
lock_state() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w "$READY_TIMEOUT" 9 || services_die "another start.sh/stop.sh holds $STATE/.lock"
}
