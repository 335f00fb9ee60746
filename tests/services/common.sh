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
SQS_PORT="${MEGASYNC_SQS_PORT:-24324}"
HOST=127.0.0.1

# Node test servers (s3rver, Azurite, fauxqs), pinned in package.json/package-lock.json
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
for _port in "$PG_A_PORT" "$PG_B_PORT" "$PG_C_PORT" "$MARIADB_PORT" "$S3_PORT" "$AZURITE_PORT" \
  "$SQS_PORT"; do
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
# (or fauxqs) when it is not running.
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

# --- Redis (redis-a, redis-b) -------------------------------------------------
# Two Redis 7 servers, no persistence (--save '' --appendonly no). Each lives in
# $STATE/NAME (redis.pid, redis.log); started daemonized, stopped by PID.
REDIS_SERVER="${MEGASYNC_REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"
REDIS_A_PORT="${MEGASYNC_REDIS_A_PORT:-23379}"
REDIS_B_PORT="${MEGASYNC_REDIS_B_PORT:-23380}"
for _port in "$REDIS_A_PORT" "$REDIS_B_PORT"; do
  [[ "$_port" =~ ^[0-9]+$ ]] || services_die "bad port '$_port'"
done
unset _port

redis_port() {  # redis_port NAME
  case "$1" in
    redis-a) echo "$REDIS_A_PORT" ;;
    redis-b) echo "$REDIS_B_PORT" ;;
    *) services_die "no Redis server named '$1' (redis-a, redis-b)" ;;
  esac
}

# The PID of our running redis-server NAME (empty when not running).
redis_pid() {
  local pid
  pid="$(cat "$STATE/$1/redis.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && pid_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]]; then
    echo "$pid"
  fi
}

# Starts redis-server NAME (idempotent) and waits until it answers PING.
redis_start() {  # redis_start NAME [PORT]
  local name=$1 port=${2:-} dir deadline
  [ -n "$port" ] || port="$(redis_port "$name")"
  dir="$STATE/$name"
  mkdir -p "$dir"
  echo "$port" >"$dir/port"  # for redis-ctl.sh, which may run without the variables
  if [ -n "$(redis_pid "$name")" ]; then
    echo "services: $name already running"
  else
    port_open "$port" &&
      services_die "$name: port $port is in use by another program; choose another with MEGASYNC_${name^^}_PORT=... (redis-a: MEGASYNC_REDIS_A_PORT)"
    # DEBUG from loopback only: verification's DEBUG DIGEST-VALUE.
    "$REDIS_SERVER" --bind "$HOST" --port "$port" --save '' --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
      --enable-debug-command local </dev/null >/dev/null 2>&1 9>&- ||
      services_die "$name: redis-server failed to start (see $dir/redis.log)"
  fi
  deadline=$((SECONDS + READY_TIMEOUT))
  until [ "$(redis-cli -h "$HOST" -p "$port" PING 2>/dev/null)" = PONG ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$dir/redis.log" >&2 || true
      services_die "$name: not answering on $HOST:$port after ${READY_TIMEOUT}s"
    fi
    sleep 0.1
  done
  echo "services: $name ready on $HOST:$port"
}

# Stops redis-server NAME (SIGTERM; without --save it writes nothing).
redis_stop() {  # redis_stop NAME
  local name=$1 pid deadline
  pid="$(redis_pid "$name")"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid"
  deadline=$((SECONDS + READY_TIMEOUT))
  while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if pid_alive "$pid"; then
    echo "services: $name did not stop; killing it" >&2
    kill -KILL "$pid" || true
    return 1
  fi
  rm -f "$STATE/$name/redis.pid"
  echo "services: $name stopped"
}

# Lines of the env file for redis-a and redis-b.
redis_env_lines() {
  local p port
  for p in A B; do
    port="$(redis_port "redis-${p,,}")"
    echo "MEGASYNC_REDIS_${p}_HOST=$HOST"
    echo "MEGASYNC_REDIS_${p}_PORT=$port"
    echo "MEGASYNC_REDIS_${p}_URL=redis://$HOST:$port"
  done
}

# --- NATS (nats) ---------------------------------------------------------------
# One nats-server 2.9 with JetStream (-js), its store in $STATE/nats/js (kept
# across a restart: streams, consumers and their acks survive it). Started in
# the background with a PID file, stopped by PID (SIGTERM: a clean shutdown).
NATS_SERVER="${MEGASYNC_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
NATS_PORT="${MEGASYNC_NATS_PORT:-24222}"
NATS_MONITOR_PORT="${MEGASYNC_NATS_MONITOR_PORT:-28222}"
for _port in "$NATS_PORT" "$NATS_MONITOR_PORT"; do
  [[ "$_port" =~ ^[0-9]+$ ]] || services_die "bad port '$_port'"
done
unset _port

# The PID of our running nats-server (empty when not running).
nats_pid() {
  local pid
  pid="$(cat "$STATE/nats/nats.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && pid_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == nats-server* ]]; then
    echo "$pid"
  fi
}

# Starts nats-server (idempotent) and waits until JetStream answers /healthz.
nats_start() {  # nats_start [PORT MONITOR_PORT]
  local port=${1:-$NATS_PORT} monitor=${2:-$NATS_MONITOR_PORT} dir="$STATE/nats" deadline
  mkdir -p "$dir/js"
  echo "$port $monitor" >"$dir/ports"  # for nats-ctl.sh, which may run without the variables
  if [ -z "$(nats_pid)" ]; then
    if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
      services_die "nats: port $port is in use by another program; choose another with MEGASYNC_NATS_PORT=..."
    fi
    setsid "$NATS_SERVER" -a "$HOST" -p "$port" -m "$monitor" -js -sd "$dir/js" \
      -P "$dir/nats.pid" -l "$dir/nats.log" </dev/null >/dev/null 2>&1 9>&- &
  fi
  deadline=$((SECONDS + READY_TIMEOUT))
  until curl -sf "http://$HOST:$monitor/healthz?js-enabled-only=true" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$dir/nats.log" >&2 || true
      services_die "nats: not ready after ${READY_TIMEOUT}s (see $dir/nats.log)"
    fi
    sleep 0.1
  done
  echo "services: nats ready on port $port"
}

# Stops a server by its pid: SIGTERM, then SIGKILL (and status 1) if it is
# still there after READY_TIMEOUT; removes PIDFILE once it is gone.
stop_by_pid() {  # stop_by_pid NAME PID PIDFILE
  local name="$1" pid="$2" pidfile="$3" deadline
  [ -n "$pid" ] || return 0
  kill -TERM "$pid"
  deadline=$((SECONDS + READY_TIMEOUT))
  while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if pid_alive "$pid"; then
    echo "services: $name did not stop; killing it" >&2
    kill -KILL "$pid" || true
    return 1
  fi
  rm -f "$pidfile"
  echo "services: $name stopped"
}

# Stops nats-server (SIGTERM: JetStream flushes its store).
nats_stop() {
  stop_by_pid nats "$(nats_pid)" "$STATE/nats/nats.pid"
}

nats_env_lines() {
  echo "MEGASYNC_NATS_PORT=$NATS_PORT"
  echo "MEGASYNC_NATS_MONITOR_PORT=$NATS_MONITOR_PORT"
  echo "MEGASYNC_NATS_URL=nats://$HOST:$NATS_PORT"
}

# --- RabbitMQ ----------------------------------------------------------------
# One RabbitMQ node (Debian's rabbitmq-server 3.10), with the management and
# shovel plugins. Its folder $STATE/rabbitmq holds env.sh (the settings the
# server and every CLI call share: same HOME, so the same Erlang cookie),
# rabbitmq.conf, mnesia/ (data, kept across restarts), log/ and rabbit.pid.
# It never runs as root: as root, the server and the CLI run as the
# `rabbitmq` user (Debian's /usr/sbin wrappers would `su` to that user's own
# HOME and cookie, so the programs in /usr/lib/rabbitmq/bin are used directly).
# The CLI tools take an Erlang distribution port of their own, by default in
# 35672-35682: they get RABBITMQ_CTL_DIST_PORT_MIN..MAX instead.
RABBITMQ_BIN="${MEGASYNC_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}"
RABBITMQ_DIR="$STATE/rabbitmq"
# rabbitmq-ctl.sh may run without the port variables: start.sh records them.
if [ -z "${MEGASYNC_RABBITMQ_PORT:-}" ] && [ -f "$RABBITMQ_DIR/ports" ]; then
  # shellcheck disable=SC1091
  . "$RABBITMQ_DIR/ports"
fi
RABBITMQ_PORT="${MEGASYNC_RABBITMQ_PORT:-25673}"
RABBITMQ_DIST_PORT="${MEGASYNC_RABBITMQ_DIST_PORT:-25674}"
RABBITMQ_MANAGEMENT_PORT="${MEGASYNC_RABBITMQ_MANAGEMENT_PORT:-25675}"
RABBITMQ_EPMD_PORT="${MEGASYNC_RABBITMQ_EPMD_PORT:-24369}"
RABBITMQ_CTL_PORT_MIN="${MEGASYNC_RABBITMQ_CTL_PORT_MIN:-$((RABBITMQ_PORT + 7))}"
RABBITMQ_CTL_PORT_MAX="${MEGASYNC_RABBITMQ_CTL_PORT_MAX:-$((RABBITMQ_CTL_PORT_MIN + 10))}"
for _port in "$RABBITMQ_PORT" "$RABBITMQ_DIST_PORT" "$RABBITMQ_MANAGEMENT_PORT" \
  "$RABBITMQ_EPMD_PORT" "$RABBITMQ_CTL_PORT_MIN" "$RABBITMQ_CTL_PORT_MAX"; do
  [[ "$_port" =~ ^[0-9]+$ ]] || services_die "bad port '$_port'"
done
unset _port

# Runs a RabbitMQ program (rabbitmq-server, rabbitmqctl, rabbitmq-plugins,
# epmd) with the node's settings, as the rabbitmq user when root.
as_rabbitmq() {
  local env="$RABBITMQ_DIR/env.sh"
  [ -f "$env" ] || services_die "rabbitmq: no $env (run start.sh first)"
  # shellcheck disable=SC2016  # expanded by the inner shell
  local run='. "$1"; shift; exec "$@"'
  if is_root; then
    (cd / && runuser -u rabbitmq -- bash -c "$run" rabbitmq "$env" "$@")
  else
    (cd / && bash -c "$run" rabbitmq "$env" "$@")
  fi
}

# Writes env.sh, rabbitmq.conf and ports (at every start: changed ports apply).
rabbitmq_configure() {
  local d=$RABBITMQ_DIR
  mkdir -p "$d/home" "$d/mnesia" "$d/log"
  cat >"$d/env.sh" <<EOF
# Written by tests/services (common.sh): the settings of the test RabbitMQ node.
export HOME='$d/home'
export RABBITMQ_NODENAME=megasync@localhost
export RABBITMQ_NODE_IP_ADDRESS=$HOST
export RABBITMQ_NODE_PORT=$RABBITMQ_PORT
export RABBITMQ_DIST_PORT=$RABBITMQ_DIST_PORT
export RABBITMQ_CTL_DIST_PORT_MIN=$RABBITMQ_CTL_PORT_MIN
export RABBITMQ_CTL_DIST_PORT_MAX=$RABBITMQ_CTL_PORT_MAX
export ERL_EPMD_ADDRESS=$HOST
export ERL_EPMD_PORT=$RABBITMQ_EPMD_PORT
export RABBITMQ_MNESIA_BASE='$d/mnesia'
export RABBITMQ_LOG_BASE='$d/log'
export RABBITMQ_PID_FILE='$d/rabbit.pid'
export RABBITMQ_CONFIG_FILE='$d/rabbitmq.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$d/enabled_plugins'
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export PATH='$RABBITMQ_BIN':\$PATH
EOF
  cat >"$d/ports" <<EOF
MEGASYNC_RABBITMQ_PORT=$RABBITMQ_PORT
MEGASYNC_RABBITMQ_DIST_PORT=$RABBITMQ_DIST_PORT
MEGASYNC_RABBITMQ_MANAGEMENT_PORT=$RABBITMQ_MANAGEMENT_PORT
MEGASYNC_RABBITMQ_EPMD_PORT=$RABBITMQ_EPMD_PORT
MEGASYNC_RABBITMQ_CTL_PORT_MIN=$RABBITMQ_CTL_PORT_MIN
MEGASYNC_RABBITMQ_CTL_PORT_MAX=$RABBITMQ_CTL_PORT_MAX
EOF
  # default_user: created when the node first starts on an empty mnesia.
  cat >"$d/rabbitmq.conf" <<EOF
management.tcp.ip = $HOST
management.tcp.port = $RABBITMQ_MANAGEMENT_PORT
loopback_users = none
default_user = $SUPER_USER
default_pass = $SUPER_PASSWORD
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
EOF
  echo '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management].' >"$d/enabled_plugins"
  if is_root; then
    chown -R rabbitmq:rabbitmq "$d"
    runuser -u rabbitmq -- test -w "$d/mnesia" ||
      services_die "rabbitmq: the rabbitmq user cannot reach $d (a parent folder is private); set MEGASYNC_SERVICES_DIR to a folder it can reach"
  fi
}

# The PID of our running node (its beam process; empty when not running).
rabbitmq_pid() {
  local pid
  pid="$(cat "$RABBITMQ_DIR/rabbit.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && pid_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == beam* ]]; then
    echo "$pid"
  fi
}

# Starts the node (idempotent) and waits until it accepts AMQP connections
# (about 6 s: `rabbitmqctl wait` for the boot, then the port).
rabbitmq_start() {
  local d=$RABBITMQ_DIR pid="" deadline p
  [ -x "$RABBITMQ_BIN/rabbitmq-server" ] || services_die "no rabbitmq-server: run scripts/install-deps.sh"
  if [ -n "$(rabbitmq_pid)" ]; then
    echo "services: rabbitmq already running"
  else
    for p in "$RABBITMQ_PORT:MEGASYNC_RABBITMQ_PORT" "$RABBITMQ_DIST_PORT:MEGASYNC_RABBITMQ_DIST_PORT" \
      "$RABBITMQ_MANAGEMENT_PORT:MEGASYNC_RABBITMQ_MANAGEMENT_PORT"; do
      if port_open "${p%%:*}"; then
        services_die "rabbitmq: port ${p%%:*} is in use by another program; choose another with ${p#*:}=..."
      fi
    done
    rabbitmq_configure
    rm -f "$d/rabbit.pid"
    as_rabbitmq setsid rabbitmq-server </dev/null >"$d/log/stdout.log" 2>&1 9>&- &
    pid=$!
  fi
  deadline=$((SECONDS + READY_TIMEOUT))
  until [ -s "$d/rabbit.pid" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$d/log/stdout.log" >&2 || true
      services_die "rabbitmq: exited while starting"
    fi
    [ "$SECONDS" -lt "$deadline" ] || services_die "rabbitmq: no pid file after ${READY_TIMEOUT}s"
    sleep 0.1
  done
  as_rabbitmq rabbitmqctl wait --timeout "$READY_TIMEOUT" "$d/rabbit.pid" >"$d/log/wait.log" 2>&1 ||
    { tail -n 30 "$d/log/stdout.log" >&2; services_die "rabbitmq: not ready (see $d/log)"; }
  until port_open "$RABBITMQ_PORT"; do
    [ "$SECONDS" -lt "$deadline" ] || services_die "rabbitmq: not listening on $HOST:$RABBITMQ_PORT"
    sleep 0.1
  done
  echo "services: rabbitmq ready on $HOST:$RABBITMQ_PORT (management $RABBITMQ_MANAGEMENT_PORT)"
}

# Stops the node (SIGTERM to the beam, then its epmd, which outlives it).
rabbitmq_stop() {
  local pid deadline
  pid="$(rabbitmq_pid)"
  if [ -n "$pid" ]; then
    kill -TERM "$pid"
    deadline=$((SECONDS + READY_TIMEOUT))
    while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if pid_alive "$pid"; then
      echo "services: rabbitmq did not stop; killing it" >&2
      kill -KILL "$pid" || true
      return 1
    fi
    # Its listeners can outlive the pid by a moment: a start right after a
    # stop (rabbitmq-ctl.sh restart) must not find the ports taken.
    while { port_open "$RABBITMQ_PORT" || port_open "$RABBITMQ_MANAGEMENT_PORT"; } &&
      [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.1
    done
    echo "services: rabbitmq stopped"
  fi
  rm -f "$RABBITMQ_DIR/rabbit.pid"
  if [ -f "$RABBITMQ_DIR/env.sh" ]; then as_rabbitmq epmd -kill >/dev/null 2>&1 || true; fi
}

# Lines of the env file for the node.
rabbitmq_env_lines() {
  echo "MEGASYNC_RABBITMQ_HOST=$HOST"
  echo "MEGASYNC_RABBITMQ_PORT=$RABBITMQ_PORT"
  echo "MEGASYNC_RABBITMQ_MANAGEMENT_PORT=$RABBITMQ_MANAGEMENT_PORT"
  echo "MEGASYNC_RABBITMQ_USER=$SUPER_USER"
  echo "MEGASYNC_RABBITMQ_PASSWORD=$SUPER_PASSWORD"
  echo "MEGASYNC_RABBITMQ_URL=amqp://$SUPER_USER:$SUPER_PASSWORD@$HOST:$RABBITMQ_PORT/"
}

# --- Mosquitto (mosquitto) ----------------------------------------------------
# One Mosquitto 2.0 broker with persistence: its folder $STATE/mosquitto holds
# mosquitto.conf (rewritten at every start), data/ (mosquitto.db: retained
# messages, persistent sessions and their queued QoS 1 messages, written at a
# clean shutdown and every autosave_interval; kept across a restart),
# mosquitto.log and mosquitto.pid. Run as root it would drop to the `mosquitto`
# user, which cannot write data/: it is told to stay root. Stopped by PID
# (SIGTERM: it saves its database).
# message_size_limit: the tests' oversize message (a v5 client gets a PUBACK
# with reason 0x95 "packet too large" instead of a silent drop).
MOSQUITTO="${MEGASYNC_MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}"
MOSQUITTO_PORT="${MEGASYNC_MOSQUITTO_PORT:-21883}"
MOSQUITTO_MESSAGE_SIZE_LIMIT=1048576
[[ "$MOSQUITTO_PORT" =~ ^[0-9]+$ ]] || services_die "bad port '$MOSQUITTO_PORT'"

# The PID of our running broker (empty when not running).
mosquitto_pid() {
  local pid
  pid="$(cat "$STATE/mosquitto/mosquitto.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mosquitto ]; then
    echo "$pid"
  fi
}

# Starts the broker (idempotent) and waits until it takes a publish.
mosquitto_start() {  # mosquitto_start [PORT]
  local port=${1:-$MOSQUITTO_PORT} dir="$STATE/mosquitto" pid="" deadline
  [ -x "$MOSQUITTO" ] || services_die "no mosquitto: run scripts/install-deps.sh"
  command -v mosquitto_pub >/dev/null || services_die "no mosquitto_pub: run scripts/install-deps.sh"
  mkdir -p "$dir/data"
  echo "$port" >"$dir/port"  # for mosquitto-ctl.sh, which may run without the variables
  if [ -n "$(mosquitto_pid)" ]; then
    echo "services: mosquitto already running"
  else
    port_open "$port" &&
      services_die "mosquitto: port $port is in use by another program; choose another with MEGASYNC_MOSQUITTO_PORT=..."
    {
      echo "# Written by tests/services (common.sh)"
      echo "listener $port $HOST"
      echo "allow_anonymous true"
      echo "persistence true"
      echo "persistence_location $dir/data/"
      echo "autosave_interval 1"
      echo "max_queued_messages 0"
      echo "message_size_limit $MOSQUITTO_MESSAGE_SIZE_LIMIT"
      echo "log_dest file $dir/mosquitto.log"
      echo "log_type error"
      echo "log_type warning"
      echo "log_type notice"
      echo "log_type information"
      echo "pid_file $dir/mosquitto.pid"
      if is_root; then echo "user root"; fi
    } >"$dir/mosquitto.conf"
    rm -f "$dir/mosquitto.pid"
    setsid "$MOSQUITTO" -c "$dir/mosquitto.conf" </dev/null >>"$dir/stdout.log" 2>&1 9>&- &
    pid=$!
  fi
  deadline=$((SECONDS + READY_TIMEOUT))
  until mosquitto_pub -h "$HOST" -p "$port" -t megasync/ready -n -q 1 >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! pid_alive "$pid"; then
      tail -n 30 "$dir/stdout.log" "$dir/mosquitto.log" >&2 2>/dev/null || true
      services_die "mosquitto: exited while starting"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$dir/mosquitto.log" >&2 || true
      services_die "mosquitto: not answering on $HOST:$port after ${READY_TIMEOUT}s"
    fi
    sleep 0.1
  done
  echo "services: mosquitto ready on $HOST:$port"
}

# Stops the broker (SIGTERM: it saves its database first).
mosquitto_stop() {
  stop_by_pid mosquitto "$(mosquitto_pid)" "$STATE/mosquitto/mosquitto.pid"
}

mosquitto_env_lines() {
  echo "MEGASYNC_MOSQUITTO_HOST=$HOST"
  echo "MEGASYNC_MOSQUITTO_PORT=$MOSQUITTO_PORT"
  echo "MEGASYNC_MOSQUITTO_MESSAGE_SIZE_LIMIT=$MOSQUITTO_MESSAGE_SIZE_LIMIT"
}
