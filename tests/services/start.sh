#!/usr/bin/env bash
# Starts the test servers on loopback and waits until each accepts connections:
#   pg-a, pg-b  PostgreSQL 15 (wal_level=logical)   ports 25432, 25433
#   mariadb     MariaDB                             port  23306
#   s3rver      S3 emulator (s3rver 3.7.1)          port  24568
#   azurite     Azure Blob emulator (3.35.0)        port  24500
#   fauxqs      SQS emulator (fauxqs 2.4.1)         port  24324
#   redis-a, redis-b  Redis 7 (no persistence)      ports 23379, 23380
#   nats        nats-server 2.9 with JetStream      port  24222 (monitoring 28222)
#   rabbitmq    RabbitMQ 3.10 (+ management, shovel) AMQP 25673, management 25675
#   mosquitto   Mosquitto 2.0 (MQTT, persistence)   port  21883
# Each gets the users megasync (superuser) and megasync_limited, and the database
# megasync_test. Data, logs and sockets live under $MEGASYNC_SERVICES_DIR
# (default build/services); the connection settings are written to its `env`
# file. Idempotent: servers already running are left as they are.
# Works as root (PostgreSQL then runs as the `postgres` user) and as any user.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t0=$EPOCHREALTIME
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[ -x "$PG_BINDIR/postgres" ] || services_die "no PostgreSQL 15 in $PG_BINDIR: run scripts/install-deps.sh"
MARIADBD="${MEGASYNC_MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}"
[ -x "$MARIADBD" ] || services_die "no mariadbd: run scripts/install-deps.sh"
command -v mariadb-install-db mariadb-admin mariadb >/dev/null ||
  services_die "no MariaDB tools: run scripts/install-deps.sh"
[ -x "$REDIS_SERVER" ] && command -v redis-cli >/dev/null ||
  services_die "no redis-server/redis-cli: run scripts/install-deps.sh"
[ -x "$NATS_SERVER" ] || services_die "no nats-server: run scripts/install-deps.sh"

lock_state

# Waits until CMD... succeeds; fails after READY_TIMEOUT seconds, or at once
# when the server's process (PID, if given) has died. Short polling only.
wait_ready() {  # wait_ready NAME PID LOG CMD...
  local name=$1 pid=$2 log=$3 deadline=$((SECONDS + READY_TIMEOUT))
  shift 3
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! pid_alive "$pid"; then
      echo "services: $name exited while starting; end of $log:" >&2
      tail -n 30 "$log" >&2 || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "services: $name not ready after ${READY_TIMEOUT}s; end of $log:" >&2
      tail -n 30 "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

# Fails when something else already listens on our port.
check_port_free() {  # check_port_free NAME PORT VARIABLE
  if port_open "$2"; then
    services_die "$1: port $2 is in use by another program; choose another with $3=..."
  fi
}

start_pg() {  # start_pg NAME PORT PORT_VARIABLE
  local name=$1 port=$2 var=$3 home data
  # The instance folder holds data/, server.log and the unix socket. As root it
  # is owned by postgres, which must be able to reach it; the socket path must
  # stay short. Otherwise use a short folder under the temp dir.
  home="$STATE/$name"
  mkdir -p "$home"
  if is_root; then chown postgres:postgres "$home"; fi
  if [ "${#home}" -gt 90 ] || { is_root && ! as_pg test -w "$home"; }; then
    rmdir "$home" 2>/dev/null || true
    home="$(fallback_dir)/$name"
    mkdir -p "$home"
    [ -O "$(dirname "$home")" ] || services_die "$(dirname "$home") belongs to another user"
    chmod 755 "$(dirname "$home")"
    if is_root; then chown postgres:postgres "$home"; fi
  fi
  echo "$home" >"$STATE/$name.home"
  data="$home/data"

  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"  # left over from an interrupted initdb
    as_pg "$PG_BINDIR/initdb" -D "$data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 ||
      { tail -n 30 "$home/initdb.log" >&2; services_die "$name: initdb failed"; }
    as_pg sh -c "echo \"include_if_exists = 'megasync.conf'\" >>'$data/postgresql.conf'"
  fi
  # Rewritten at every start so that a changed port applies.
  as_pg tee "$data/megasync.conf" >/dev/null <<EOF
# Written by tests/services/start.sh
listen_addresses = '$HOST'
port = $port
unix_socket_directories = '$home'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_slot_wal_keep_size = 1GB
# Test data only: no need to survive a machine crash. (synchronous_commit
# stays on: logical decoding reads only flushed WAL.)
fsync = off
full_page_writes = off
EOF

  if as_pg "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "services: $name already running"
  else
    check_port_free "$name" "$port" "$var"
    as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$home/server.log" -w -t "$READY_TIMEOUT" start \
      </dev/null >/dev/null 2>&1 9>&- ||
      { tail -n 30 "$home/server.log" >&2; services_die "$name: start failed"; }
  fi
  wait_ready "$name" "" "$home/server.log" \
    "$PG_BINDIR/pg_isready" -q -h "$HOST" -p "$port" -d postgres ||
    services_die "$name: not accepting connections on $HOST:$port (started with another port? run stop.sh)"

  # Users and database (idempotent), over the unix socket as postgres.
  as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$home" -p "$port" -U postgres -d postgres \
    >/dev/null <<SQL || services_die "$name: creating users/database failed"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SUPER_USER') THEN CREATE ROLE $SUPER_USER; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$LIMITED_USER') THEN CREATE ROLE $LIMITED_USER; END IF;
END \$\$;
ALTER ROLE $SUPER_USER WITH LOGIN SUPERUSER REPLICATION PASSWORD '$SUPER_PASSWORD';
ALTER ROLE $LIMITED_USER WITH LOGIN NOSUPERUSER NOREPLICATION NOCREATEDB NOCREATEROLE
  PASSWORD '$LIMITED_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $SUPER_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
\c $DB_NAME
GRANT USAGE, CREATE ON SCHEMA public TO $LIMITED_USER;
SQL
  echo "services: $name ready on $HOST:$port (+$(elapsed)s)"
}

start_mariadb() {
  local dir="$STATE/mariadb" data sock pidfile pid="" user_opt=()
  data="$dir/data"
  sock="$(mariadb_socket)"
  pidfile="$dir/mariadbd.pid"
  mkdir -p "$dir" "$(dirname "$sock")"
  # As root, mariadbd would switch to the mysql user; keep root (owns the data).
  if is_root; then user_opt=(--user=root); fi
  local admin=(mariadb-admin --no-defaults -S "$sock" -uroot)
  # Small, test-sized InnoDB (a 16 MB redo log instead of 96 MB).
  local innodb=(--innodb-buffer-pool-size=64M --innodb-log-file-size=16M
    --innodb-flush-log-at-trx-commit=2)

  if [ -n "$(mariadb_pid)" ]; then
    echo "services: mariadb already running"
  else
    check_port_free mariadb "$MARIADB_PORT" MEGASYNC_MARIADB_PORT
    if [ ! -d "$data/mysql" ]; then
      rm -rf "$data"  # left over from an interrupted install
      mariadb-install-db --no-defaults --datadir="$data" "${user_opt[@]}" \
        --auth-root-authentication-method=normal --skip-test-db "${innodb[@]}" \
        >"$dir/install.log" 2>&1 ||
        { tail -n 30 "$dir/install.log" >&2; services_die "mariadb: mariadb-install-db failed"; }
    fi
    # --no-defaults: ignore the system's /etc/mysql configuration.
    setsid "$MARIADBD" --no-defaults "${user_opt[@]}" --datadir="$data" \
      --bind-address="$HOST" --port="$MARIADB_PORT" --socket="$sock" \
      --pid-file="$pidfile" --log-error="$dir/error.log" \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      "${innodb[@]}" \
      </dev/null >>"$dir/stdout.log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$dir/launch.pid"
  fi
  wait_ready mariadb "$pid" "$dir/error.log" "${admin[@]}" ping ||
    services_die "mariadb: not ready"
  wait_ready mariadb "$pid" "$dir/error.log" port_open "$MARIADB_PORT" ||
    services_die "mariadb: not listening on $HOST:$MARIADB_PORT (started with another port? run stop.sh)"

  mariadb --no-defaults -S "$sock" -uroot >/dev/null <<SQL || services_die "mariadb: creating users/database failed"
CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$SUPER_USER'@'%';
ALTER USER '$SUPER_USER'@'%' IDENTIFIED BY '$SUPER_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$SUPER_USER'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '$LIMITED_USER'@'%';
ALTER USER '$LIMITED_USER'@'%' IDENTIFIED BY '$LIMITED_PASSWORD';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$LIMITED_USER'@'%';
SQL
  echo "services: mariadb ready on $HOST:$MARIADB_PORT (+$(elapsed)s)"
}

# Installs the pinned node servers when missing (npm ci: exactly the lock file).
install_node_servers() {
  command -v node >/dev/null && command -v npm >/dev/null ||
    services_die "no node/npm: run scripts/install-deps.sh"
  if [ ! -f "$NODE_DIR/node_modules/s3rver/package.json" ] ||
    [ ! -f "$NODE_DIR/node_modules/azurite/package.json" ] ||
    [ ! -f "$NODE_DIR/node_modules/fauxqs/package.json" ]; then
    echo "services: installing s3rver, azurite and fauxqs (npm ci)"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$STATE/npm.log" 2>&1 ||
      { tail -n 30 "$STATE/npm.log" >&2; services_die "npm ci failed (log: $STATE/npm.log)"; }
  fi
}

# Starts one node server: start_node NAME PORT PORT_VARIABLE SCRIPT ARGS...
# (node itself, not npx: killing npx would leave the server running).
NODE_OPTS=()
start_node() {
  local name=$1 port=$2 var=$3 script=$4 dir="$STATE/$1" pid=""
  shift 4
  mkdir -p "$dir/data"
  # For node-ctl.sh, which restarts the server the same way (and may run
  # without the port variables).
  echo "$port" >"$dir/port"
  local path="$NODE_DIR/node_modules/$script"
  [[ "$script" = /* ]] && path=$script
  printf '%s\0' node "${NODE_OPTS[@]}" "$path" "$@" >"$dir/command"
  if [ -n "$(node_pid "$name")" ]; then
    echo "services: $name already running"
  else
    check_port_free "$name" "$port" "$var"
    setsid node "${NODE_OPTS[@]}" "$path" "$@" </dev/null >"$dir/server.log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$dir/server.pid"
  fi
  wait_ready "$name" "$pid" "$dir/server.log" port_open "$port" ||
    services_die "$name: not listening on $HOST:$port"
  echo "services: $name ready on $HOST:$port (+$(elapsed)s)"
}

start_s3rver() {
  # s3rver checks the access key only, never the signature (see README.md).
  # Its continuation tokens use DES, which Node 20's OpenSSL 3 has only in the
  # legacy provider: without it every truncated listing fails (500).
  NODE_OPTS=(--openssl-legacy-provider)
  start_node s3rver "$S3_PORT" MEGASYNC_S3_PORT s3rver/bin/s3rver.js \
    --directory "$STATE/s3rver/data" --address "$HOST" --port "$S3_PORT" --silent
}

start_azurite() {
  # --disableTelemetry: Azurite otherwise tries to reach a telemetry service.
  start_node azurite "$AZURITE_PORT" MEGASYNC_AZURITE_PORT azurite/dist/src/blob/main.js \
    --blobHost "$HOST" --blobPort "$AZURITE_PORT" --location "$STATE/azurite/data" \
    --silent --disableTelemetry
}

start_fauxqs() {
  # SQS JSON protocol, in memory, loopback only; no signature check (see
  # README.md). Our launcher, not fauxqs's CLI (which listens everywhere).
  NODE_OPTS=()
  start_node fauxqs "$SQS_PORT" MEGASYNC_SQS_PORT "$NODE_DIR/fauxqs-server.mjs" "$SQS_PORT"
}

# Lines NAME_HOST=..., NAME_URL=... of the env file.
env_lines() {  # env_lines PREFIX SCHEME PORT
  local p=$1 scheme=$2 port=$3
  cat <<EOF
${p}_HOST=$HOST
${p}_PORT=$port
${p}_USER=$SUPER_USER
${p}_PASSWORD=$SUPER_PASSWORD
${p}_DB=$DB_NAME
${p}_URL=$scheme://$SUPER_USER:$SUPER_PASSWORD@$HOST:$port/$DB_NAME
${p}_LIMITED_USER=$LIMITED_USER
${p}_LIMITED_PASSWORD=$LIMITED_PASSWORD
${p}_LIMITED_URL=$scheme://$LIMITED_USER:$LIMITED_PASSWORD@$HOST:$port/$DB_NAME
EOF
}

# The servers start in parallel; each prints its own progress.
rm -f "$ENV_FILE"
install_node_servers
start_pg pg-a "$PG_A_PORT" MEGASYNC_PG_A_PORT & pg_a=$!
start_pg pg-b "$PG_B_PORT" MEGASYNC_PG_B_PORT & pg_b=$!
start_pg pg-c "$PG_C_PORT" MEGASYNC_PG_C_PORT & pg_c=$!
start_mariadb & maria=$!
start_s3rver & s3=$!
start_azurite & azurite=$!
start_fauxqs & fauxqs=$!
redis_start redis-a & redis_a=$!
redis_start redis-b & redis_b=$!
nats_start "$NATS_PORT" "$NATS_MONITOR_PORT" & nats=$!
rabbitmq_start & rabbitmq=$!
mosquitto_start & mosquitto=$!
failed=0
for job in "$pg_a" "$pg_b" "$pg_c" "$maria" "$s3" "$azurite" "$fauxqs" "$redis_a" "$redis_b" "$nats" \
  "$rabbitmq" "$mosquitto"; do
  wait "$job" || failed=1
done
[ "$failed" -eq 0 ] || services_die "starting failed (logs under $STATE); stop with tests/services/stop.sh"

{
  echo "# Written by tests/services/start.sh. Load with: set -a; . $ENV_FILE; set +a"
  echo "MEGASYNC_SERVICES_DIR=$STATE"
  env_lines MEGASYNC_PG_A postgresql "$PG_A_PORT"
  env_lines MEGASYNC_PG_B postgresql "$PG_B_PORT"
  env_lines MEGASYNC_PG_C postgresql "$PG_C_PORT"
  env_lines MEGASYNC_MARIADB mysql "$MARIADB_PORT"
  echo "MEGASYNC_S3_PORT=$S3_PORT"
  echo "MEGASYNC_S3_URL=http://$HOST:$S3_PORT"
  echo "MEGASYNC_S3_ACCESS_KEY_ID=$S3_ACCESS_KEY"
  echo "MEGASYNC_S3_SECRET_ACCESS_KEY=$S3_SECRET_KEY"
  echo "MEGASYNC_S3_DATA_DIR=$STATE/s3rver/data"
  echo "MEGASYNC_AZURITE_PORT=$AZURITE_PORT"
  echo "MEGASYNC_AZURITE_URL=http://$HOST:$AZURITE_PORT/$AZURITE_ACCOUNT"
  echo "MEGASYNC_AZURITE_ACCOUNT=$AZURITE_ACCOUNT"
  echo "MEGASYNC_AZURITE_KEY=$AZURITE_KEY"
  echo "MEGASYNC_SQS_PORT=$SQS_PORT"
  echo "MEGASYNC_SQS_URL=http://$HOST:$SQS_PORT"
  redis_env_lines
  nats_env_lines
  rabbitmq_env_lines
  mosquitto_env_lines
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
echo "services: all ready in $(elapsed)s; settings in $ENV_FILE"
