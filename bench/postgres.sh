#!/usr/bin/env bash
# megasync's PostgreSQL change data capture beside PostgreSQL's own tools, on two
# PostgreSQL 15 servers this script starts (and stops) itself. Measurements, not
# tests: nothing fails because a machine is slow; only a command that errors, or
# a copy that ends with the wrong number of rows, makes it exit 1.
#
#   bench/postgres.sh                          full size (1 M rows)
#   BENCH_PG_ROWS=100000 bench/postgres.sh     quick
#   BENCH_ONLY=pg bench/run.sh                 the same, from run.sh
#
# Workloads (bench/README.md "PostgreSQL"):
#   snapshot  initial copy of one table: megasync sync vs a text COPY pipe and
#             a native subscription (copy_data)
#   backlog   changes made while the replicator is stopped, then caught up:
#             megasync sync (replaying the slot, and with `catch_up: resync` a
#             second job resyncing) vs a native subscription disabled, then enabled
#   stream    commit-to-target lag under pgbench at full write rate: a
#             megasync daemon on a `stream: true` job vs a native subscription
#
# Environment (all optional):
#   MEGASYNC_BIN          binary to measure (default build/release/megasync)
#   MEGASYNC_PG_BINDIR    PostgreSQL 15 programs (default /usr/lib/postgresql/15/bin)
#   BENCH_PG_ROWS         rows of the snapshot table (default 1000000)
#   BENCH_PG_CHANGES      row updates of each backlog round (default BENCH_PG_ROWS, at most that)
#   BENCH_PG_BACKLOG_TXN_ROWS  rows a backlog transaction updates, one round each
#                         (default "1000 10": bulk jobs, then an application's writes)
#   BENCH_PG_SECONDS      pgbench duration of each streaming phase (default 30)
#   BENCH_PG_CLIENTS      pgbench clients (default 4)
#   BENCH_PG_TXN_ROWS     rows each pgbench transaction inserts (default 4)
#   BENCH_PG_PORTS        the two servers' ports (default "26432 26433")
#   BENCH_PG_WORKLOADS    subset of: snapshot backlog stream (default all)
#   BENCH_BATCH_SIZE      batch_size of the megasync jobs (default: the kind's)
#   BENCH_PG_PARALLELISM  snapshot.parallelism of the source (default: the endpoint's)
#   BENCH_WORK            folder to work in (default: a new mktemp -d, removed at the end)
#   BENCH_KEEP=1          keep the work folder
#   BENCH_TABLE_ONLY=1    print the result lines without the table header (run.sh)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

rows="${BENCH_PG_ROWS:-1000000}"
changes="${BENCH_PG_CHANGES:-$rows}"
backlog_txn_rows="${BENCH_PG_BACKLOG_TXN_ROWS:-1000 10}"
write_seconds="${BENCH_PG_SECONDS:-30}"
clients="${BENCH_PG_CLIENTS:-4}"
txn_rows="${BENCH_PG_TXN_ROWS:-4}"
read -r port_a port_b <<<"${BENCH_PG_PORTS:-26432 26433}"
workloads="${BENCH_PG_WORKLOADS:-snapshot backlog stream}"
pg_bindir="${MEGASYNC_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
bin="${MEGASYNC_BIN:-build/release/megasync}"
host=127.0.0.1

failed=0
results=()

log() { echo "bench: pg: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
want() { [[ " $workloads " == *" $1 "* ]]; }
port_open() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }

print_table() {
  if [ "${BENCH_TABLE_ONLY:-0}" != 1 ]; then
    echo
    printf '%-34s %-14s %-14s %s\n' workload megasync baseline "ratio (megasync speed / baseline speed)"
  fi
  if [ "${#results[@]}" -gt 0 ]; then printf '%s\n' "${results[@]}"; fi
}

if [ ! -x "$pg_bindir/postgres" ] || [ ! -x "$pg_bindir/pgbench" ]; then
  log "no PostgreSQL 15 with pgbench in $pg_bindir (scripts/install-deps.sh); skipped"
  row "postgres workloads" "skipped" "skipped" "no PostgreSQL 15 in $pg_bindir"
  print_table
  exit 0
fi
if [ ! -x "$bin" ]; then
  log "$bin missing; building it with 'make build'"
  make build
fi
[ -x "$bin" ] || { log "no executable at $bin"; exit 1; }
for port in "$port_a" "$port_b"; do
  if port_open "$port"; then
    log "port $port is in use; choose two free ports with BENCH_PG_PORTS=\"A B\""
    exit 1
  fi
done

own_work=0
if [ -n "${BENCH_WORK:-}" ]; then
  work="$BENCH_WORK/pg"
  mkdir -p "$work"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/megasync-bench-pg.XXXXXX")"
  own_work=1
fi

is_root() { [ "$(id -u)" -eq 0 ]; }
# PostgreSQL refuses to run as root: as root, its server programs run as `postgres`.
as_pg() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

daemon_pid=""
started_servers=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  local data
  for data in "${started_servers[@]}"; do
    as_pg "$pg_bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $work"
  elif [ "$own_work" = 1 ]; then
    rm -rf "$work"
  else
    rm -rf "$work/a" "$work/b"  # the data folders; run.sh removes the rest
  fi
}
trap cleanup EXIT

cp "$bin" "$work/megasync"
bin="$work/megasync"

# ---------------------------------------------------------------------------
# Servers: initdb into the work folder, logical WAL, otherwise PostgreSQL's
# defaults (fsync on, synchronous_commit on, full_page_writes on).
start_server() {  # start_server NAME PORT
  local home="$work/$1" port="$2"
  mkdir -p "$home"
  if is_root; then
    # postgres must reach the instance folder through the (private) work folder.
    chmod 711 "$work"
    [ "$own_work" = 1 ] || chmod 711 "$(dirname "$work")"
    chown postgres:postgres "$home"
  fi
  as_pg "$pg_bindir/initdb" -D "$home/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$home/initdb.log" 2>&1 ||
    { tail -n 20 "$home/initdb.log" >&2; log "$1: initdb failed"; exit 1; }
  as_pg tee -a "$home/data/postgresql.conf" >/dev/null <<EOF
# bench/postgres.sh: logical replication on, durability left at the defaults
listen_addresses = '$host'
port = $port
unix_socket_directories = '$home'
wal_level = logical
max_wal_senders = 20
max_replication_slots = 20
EOF
  as_pg "$pg_bindir/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null ||
    { tail -n 20 "$home/server.log" >&2; log "$1: server did not start"; exit 1; }
  started_servers+=("$home/data")
}

# q PORT DB SQL : runs SQL, prints unaligned tuples.
q() {
  "$pg_bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$host" -p "$1" -U postgres -d "$2" -c "$3"
}

# wait_for DESCRIPTION SECONDS CMD... : polls CMD until it prints "t" (0.1 s apart).
wait_for() {
  local what="$1" limit="$2" out
  shift 2
  local deadline=$((SECONDS + limit))
  while [ "$SECONDS" -lt "$deadline" ]; do
    out="$("$@" 2>/dev/null || true)"
    [ "$out" = t ] && return 0
    sleep 0.1
  done
  log "$what: not reached within $limit s"
  return 1
}

yaml_opt() { if [ -n "$2" ]; then printf '%s%s: %s\n' "$3" "$1" "$2"; fi; }

endpoint_yaml() {  # endpoint_yaml NAME PORT DB [PARALLELISM]
  cat <<YAML
  $1:
    type: postgres
    host: $host
    port: $2
    user: postgres
    database: $3
    sslmode: disable
YAML
  if [ -n "${4:-}" ]; then printf '    snapshot:\n      parallelism: %s\n' "$4"; fi
}

log "starting PostgreSQL 15 on $host:$port_a (source) and $host:$port_b (targets)"
start_server a "$port_a"
start_server b "$port_b"
q "$port_a" postgres "CREATE DATABASE bench" >/dev/null
for db in mega resync resync_t pipe native; do q "$port_b" postgres "CREATE DATABASE $db" >/dev/null; done

# The snapshot table, ~150 bytes a row on disk (the tuple header included).
table_columns="id bigint PRIMARY KEY, customer_id integer NOT NULL, qty integer NOT NULL,
  rev integer NOT NULL DEFAULT 0, amount numeric(12,2) NOT NULL, status smallint NOT NULL,
  created timestamptz NOT NULL, note text NOT NULL"
log "generating $rows rows"
q "$port_a" bench "CREATE TABLE t ($table_columns)"
q "$port_a" bench "INSERT INTO t SELECT i, (i * 7919) % 100000, i % 100, 0,
  ((i * 31) % 1000000) / 100.0, i % 4, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 s',
  rpad(md5(i::text), 80, md5((i + 1)::text)) FROM generate_series(1::bigint, $rows) i"
q "$port_a" bench "VACUUM ANALYZE t"
q "$port_a" bench "CHECKPOINT"
log "source table: $(q "$port_a" bench "SELECT pg_size_pretty(pg_table_size('t')) || ', ' ||
  (pg_table_size('t') / greatest(reltuples, 1))::int || ' bytes a row' FROM pg_class WHERE relname = 't'")"
for db in pipe native; do q "$port_b" "$db" "CREATE TABLE t ($table_columns)"; done

cat >"$work/snap.yaml" <<YAML
state:
  path: $work/state-snap.db
endpoints:
$(endpoint_yaml pg_src "$port_a" bench "${BENCH_PG_PARALLELISM:-}")
$(endpoint_yaml pg_dst "$port_b" mega)
jobs:
  copy-table:
    kind: database
    source: pg_src
    targets: [pg_dst]
    tables: [t]
    timeout: 2h
    # The copy alone, as the baselines do.
    verify_interval: 0s
$(yaml_opt batch_size "${BENCH_BATCH_SIZE:-}" "    ")
YAML
# The same copy by a job whose source resyncs (catch_up: resync) rather than
# replays a backlog larger than the table: the backlog workload's second
# megasync, into its own database.
sed -e 's/database: mega$/database: resync/' \
  -e 's/^  copy-table:$/  resync-table:/' -e "s#state-snap.db#state-resync.db#" \
  -e 's/^  pg_src:$/  pg_src:\n    catch_up: resync/' "$work/snap.yaml" >"$work/resync.yaml"
# And one whose target truncates rather than deletes (resync_clear: truncate).
sed -e 's/database: resync$/database: resync_t/' -e 's/^  resync-table:$/  truncate-table:/' \
  -e "s#state-resync.db#state-truncate.db#" \
  -e 's/^  pg_dst:$/  pg_dst:\n    resync_clear: truncate/' "$work/resync.yaml" >"$work/truncate.yaml"
for cfg in resync truncate; do
  "$bin" check -c "$work/$cfg.yaml" >"$work/check.log" 2>&1 ||
    { log "config check ($cfg) failed:"; cat "$work/check.log" >&2; exit 1; }
done
"$bin" check -c "$work/snap.yaml" >"$work/check.log" 2>&1 ||
  { log "config check failed:"; cat "$work/check.log" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 1. Initial snapshot of t into an empty target.
mega_snap_s="" pipe_s="" native_snap_s=""
if { want snapshot || want backlog; } &&
  run_timed "snapshot megasync" "$work/snap-mega.log" "$bin" sync -c "$work/snap.yaml" copy-table; then
  mega_snap_s="$secs"
  n="$(q "$port_b" mega "SELECT count(*) FROM t")"
  [ "$n" = "$rows" ] || { log "snapshot megasync: target has $n rows, expected $rows"; failed=1; }
fi

if want snapshot; then
  # shellcheck disable=SC2016  # expanded by the inner shell
  if run_timed "snapshot COPY pipe" "$work/snap-pipe.log" bash -c 'set -o pipefail
      "$1/psql" -X -h "$2" -p "$3" -U postgres -d bench -c "COPY t TO STDOUT" |
      "$1/psql" -X -h "$2" -p "$4" -U postgres -d pipe -c "COPY t FROM STDIN"' _ \
    "$pg_bindir" "$host" "$port_a" "$port_b"; then
    pipe_s="$secs"
    n="$(q "$port_b" pipe "SELECT count(*) FROM t")"
    [ "$n" = "$rows" ] || { log "snapshot COPY pipe: target has $n rows, expected $rows"; failed=1; }
  fi
fi

if want backlog && [ -n "$mega_snap_s" ]; then
  run_timed "snapshot megasync (resync job)" "$work/snap-resync.log" \
    "$bin" sync -c "$work/resync.yaml" resync-table || mega_snap_s=""
  run_timed "snapshot megasync (truncate job)" "$work/snap-truncate.log" \
    "$bin" sync -c "$work/truncate.yaml" truncate-table || mega_snap_s=""
fi

# The native subscription of t is kept (disabled) for the backlog workload.
if want snapshot || want backlog; then
  q "$port_a" bench "CREATE PUBLICATION bench_t FOR TABLE t" >/dev/null
  sync
  t0="$(now)"
  q "$port_b" native "CREATE SUBSCRIPTION bench_t CONNECTION
    'host=$host port=$port_a user=postgres dbname=bench' PUBLICATION bench_t WITH (copy_data = true)" \
    >/dev/null 2>"$work/snap-native.log"
  if wait_for "native subscription ready" 7200 q "$port_b" native \
    "SELECT count(*) > 0 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel"; then
    native_snap_s="$(elapsed "$t0" "$(now)")"
    log "snapshot native subscription: $native_snap_s s"
    n="$(q "$port_b" native "SELECT count(*) FROM t")"
    [ "$n" = "$rows" ] || { log "snapshot native: target has $n rows, expected $rows"; failed=1; }
  else
    failed=1
  fi
  q "$port_b" native "ALTER SUBSCRIPTION bench_t DISABLE"
fi

if want snapshot; then
  label="pg snapshot $rows"
  if [ -n "$mega_snap_s" ] && [ -n "$pipe_s" ]; then
    row "$label: COPY pipe" "$mega_snap_s s" "$pipe_s s" "$(ratio "$mega_snap_s" "$pipe_s")"
  else
    row "$label: COPY pipe" "${mega_snap_s:-failed}" "${pipe_s:-failed}" "-"
  fi
  if [ -n "$mega_snap_s" ] && [ -n "$native_snap_s" ]; then
    row "$label: subscription" "$mega_snap_s s" "$native_snap_s s" "$(ratio "$mega_snap_s" "$native_snap_s")"
    row "  rows/s" "$(rate "$rows" "$mega_snap_s")" "$(rate "$rows" "$native_snap_s")" \
      "COPY pipe: $(rate "$rows" "${pipe_s:-0}") rows/s"
  else
    row "$label: subscription" "${mega_snap_s:-failed}" "${native_snap_s:-failed}" "-"
  fi
fi

# ---------------------------------------------------------------------------
# 2. Backlog: changes made while megasync is stopped and the subscription
# disabled, then each catches up alone. One round per transaction size: large
# transactions (a bulk job) and pgbench-sized ones (an application's writes),
# where a replicator that applies each source transaction on its own pays a
# commit for every few rows.
# backlog_round ROUND TXN_ROWS: every row updated once more (rev = ROUND after).
backlog_round() {
  local round="$1" txn_rows="$2"
  local txns=$((changes / txn_rows)) n write_s lsn_end label
  local n_changes=$((txns * txn_rows))
  log "backlog $round: $n_changes row updates in $txns transactions of $txn_rows rows"
  # A third slot, read by pg_recvlogical alone after the others: the source's
  # logical decoding by itself, which bounds any pgoutput client's catch-up.
  q "$port_a" bench "SELECT 1 FROM pg_create_logical_replication_slot('bench_decode', 'pgoutput')" \
    >/dev/null
  for ((k = 0; k < txns; k++)); do
    echo "UPDATE t SET rev = rev + 1, qty = qty + 1 WHERE id > $((k * txn_rows)) AND id <= $(((k + 1) * txn_rows));"
  done >"$work/backlog-$round.sql"
  # One commit a statement; not waiting for each commit's WAL flush keeps the
  # writer quick (the replicators read the same WAL either way).
  run_timed "backlog $round writes" "$work/backlog-write-$round.log" env \
    PGOPTIONS="-c synchronous_commit=off" "$pg_bindir/psql" -X -q \
    -v ON_ERROR_STOP=1 -h "$host" -p "$port_a" -U postgres -d bench -f "$work/backlog-$round.sql" || true
  write_s="$secs"
  lsn_end="$(q "$port_a" bench "SELECT pg_current_wal_lsn()")"
  log "backlog $round: $(q "$port_a" bench "SELECT string_agg(slot_name || ' ' ||
    pg_size_pretty(pg_wal_lsn_diff('$lsn_end', confirmed_flush_lsn)), ', ') FROM pg_replication_slots") behind"

  # megasync: `megasync sync` ends once caught up with the WAL end it saw at its
  # start (a run gives up catching up after a minute: then the next one goes on).
  local mega_back_s="" native_back_s="" total=0 tries=0 caught=0 decode_s=""
  while [ "$tries" -lt 10 ]; do
    tries=$((tries + 1))
    run_timed "backlog $round megasync (run $tries)" "$work/backlog-mega-$round-$tries.log" \
      "$bin" sync -c "$work/snap.yaml" copy-table || break
    total="$(awk -v a="$total" -v b="$secs" 'BEGIN { printf "%.3f", a + b }')"
    n="$(q "$port_b" mega "SELECT count(*) FROM t WHERE rev = $round")"
    if [ "$n" = "$n_changes" ]; then caught=1; break; fi
  done
  if [ "$caught" = 1 ]; then
    mega_back_s="$total"
  else
    log "backlog $round megasync: target has $n of $n_changes updated rows"; failed=1
  fi

  local resync_s="" truncate_s="" job db
  for job in resync truncate; do
    db="$([ "$job" = resync ] && echo resync || echo resync_t)"
    if run_timed "backlog $round megasync, $job" "$work/backlog-$job-$round.log" \
      "$bin" sync -c "$work/$job.yaml" "$job-table"; then
      n="$(q "$port_b" "$db" "SELECT count(*) FROM t WHERE rev = $round")"
      if [ "$n" = "$n_changes" ]; then
        if [ "$job" = resync ]; then resync_s="$secs"; else truncate_s="$secs"; fi
        grep -q "resync: a fresh snapshot" "$work/backlog-$job-$round.log" ||
          log "backlog $round: the $job job replayed (the backlog was not larger than the table)"
      else
        log "backlog $round megasync $job: target has $n of $n_changes updated rows"; failed=1
      fi
    fi
  done

  sync
  t0="$(now)"
  q "$port_b" native "ALTER SUBSCRIPTION bench_t ENABLE"
  if wait_for "native subscription caught up" 7200 q "$port_a" bench \
    "SELECT confirmed_flush_lsn >= '$lsn_end' FROM pg_replication_slots WHERE slot_name = 'bench_t'"; then
    native_back_s="$(elapsed "$t0" "$(now)")"
    log "backlog $round native subscription: $native_back_s s"
    n="$(q "$port_b" native "SELECT count(*) FROM t WHERE rev = $round")"
    [ "$n" = "$n_changes" ] ||
      { log "backlog $round native: target has $n of $n_changes updated rows"; failed=1; }
  else
    failed=1
  fi
  q "$port_b" native "ALTER SUBSCRIPTION bench_t DISABLE"

  if run_timed "backlog $round decoding alone (pg_recvlogical)" "$work/backlog-decode-$round.log" \
    "$pg_bindir/pg_recvlogical" -h "$host" -p "$port_a" -U postgres -d bench -S bench_decode \
    --start --no-loop -E "$lsn_end" -o proto_version=1 -o publication_names=bench_t -f /dev/null; then
    decode_s="$secs"
  fi
  q "$port_a" bench "SELECT pg_drop_replication_slot('bench_decode')" >/dev/null

  label="pg backlog $n_changes, $txn_rows/txn"
  if [ -n "$mega_back_s" ] && [ -n "$native_back_s" ]; then
    row "$label: subscription" "$mega_back_s s" "$native_back_s s" "$(ratio "$mega_back_s" "$native_back_s")"
    row "  changes/s" "$(rate "$n_changes" "$mega_back_s")" "$(rate "$n_changes" "$native_back_s")" \
      "written at $(rate "$n_changes" "$write_s")/s"
    if [ -n "$decode_s" ]; then
      row "  vs decoding alone" "$mega_back_s s" "$decode_s s" \
        "$(ratio "$mega_back_s" "$decode_s") (pg_recvlogical: $(rate "$n_changes" "$decode_s") changes/s)"
    fi
    if [ -n "$resync_s" ]; then
      row "  catch_up: resync, vs subscription" "$resync_s s" "$native_back_s s" \
        "$(ratio "$resync_s" "$native_back_s")"
    fi
    if [ -n "$truncate_s" ]; then
      row "  the same, resync_clear: truncate" "$truncate_s s" "$native_back_s s" \
        "$(ratio "$truncate_s" "$native_back_s")"
    fi
  else
    row "$label: subscription" "${mega_back_s:-failed}" "${native_back_s:-failed}" "-"
  fi
}

if want backlog && [ -n "$mega_snap_s" ] && [ -n "$native_snap_s" ]; then
  [ "$changes" -le "$rows" ] || changes="$rows"
  round=0
  for txn_rows in $backlog_txn_rows; do
    round=$((round + 1))
    backlog_round "$round" "$txn_rows"
  done
elif want backlog; then
  row "pg backlog (subscription)" "skipped" "skipped" "needs both snapshots"
fi
if want snapshot || want backlog; then
  q "$port_b" native "DROP SUBSCRIPTION bench_t"
fi

# ---------------------------------------------------------------------------
# 3. Streaming lag: pgbench inserts at full rate for BENCH_PG_SECONDS into a
# table only one replicator reads; the target fills applied_at on insert.
lag_columns="customer_id integer, qty integer, amount numeric(12,2), status smallint,
  created timestamptz, note text, written_at timestamptz NOT NULL DEFAULT clock_timestamp()"

# lag_phase NAME TABLE TARGET_DB : seeds one row, waits for it at the target, runs
# pgbench, waits until the target has every row; sets lag_* from the target.
lag_phase() {
  local name="$1" table="$2" db="$3" seed
  seed="$(q "$port_a" bench "INSERT INTO $table (note) VALUES ('seed') RETURNING id")"
  wait_for "$name: first row at the target" 120 q "$port_b" "$db" \
    "SELECT count(*) = 1 FROM $table WHERE id = $seed" || return 1
  cat >"$work/$table.sql" <<SQL
\set c random(1, 100000)
INSERT INTO $table (customer_id, qty, amount, status, created, note)
  SELECT :c + i, i % 100, (:c + i) / 100.0, i % 4, now(), rpad(md5((:c + i)::text), 80, 'x')
  FROM generate_series(1, $txn_rows) i;
SQL
  log "$name: pgbench -c $clients -T $write_seconds, $txn_rows rows a transaction"
  "$pg_bindir/pgbench" -n -h "$host" -p "$port_a" -U postgres -c "$clients" -j 2 \
    -T "$write_seconds" -f "$work/$table.sql" bench >"$work/$table-pgbench.log" 2>&1 ||
    { log "$name: pgbench failed:"; tail -n 20 "$work/$table-pgbench.log" >&2; return 1; }
  local written
  written="$(q "$port_a" bench "SELECT count(*) FROM $table")"
  wait_for "$name: all $written rows at the target" 600 q "$port_b" "$db" \
    "SELECT count(*) >= $written FROM $table" || return 1
  # Seconds from the writer's insert to the target's insert; rates over the
  # writing and applying spans.
  read -r lag_n lag_p50 lag_p99 lag_max lag_written_rate lag_applied_rate < <(q "$port_b" "$db" "
    SELECT count(*),
      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - written_at))::numeric, 3),
      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - written_at))::numeric, 3),
      round(max(extract(epoch FROM applied_at - written_at))::numeric, 3),
      round(count(*) / extract(epoch FROM max(written_at) - min(written_at))),
      round(count(*) / extract(epoch FROM max(applied_at) - min(applied_at)))
    FROM $table WHERE id > $seed" | tr '|' ' ')
  log "$name: $lag_n rows, lag p50 $lag_p50 s, p99 $lag_p99 s, max $lag_max s; written $lag_written_rate/s, applied $lag_applied_rate/s"
}

if want stream; then
  for table in lag_m lag_n; do
    q "$port_a" bench "CREATE TABLE $table (id bigserial PRIMARY KEY, $lag_columns)"
  done
  q "$port_b" mega "CREATE TABLE lag_m (id bigint PRIMARY KEY, $lag_columns,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
  q "$port_b" native "CREATE TABLE lag_n (id bigint PRIMARY KEY, $lag_columns,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"

  listen_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cat >"$work/stream.yaml" <<YAML
state:
  path: $work/state-stream.db
api:
  listen: 127.0.0.1:$listen_port
endpoints:
$(endpoint_yaml pg_src "$port_a" bench)
$(endpoint_yaml pg_dst "$port_b" mega)
jobs:
  stream-rows:
    kind: database
    source: pg_src
    targets: [pg_dst]
    tables: [lag_m]
    stream: true
    interval: 30s
    timeout: 5m
    verify_interval: 0s
$(yaml_opt batch_size "${BENCH_BATCH_SIZE:-}" "    ")
YAML
  "$bin" check -c "$work/stream.yaml" >"$work/check.log" 2>&1 ||
    { log "config check failed:"; cat "$work/check.log" >&2; exit 1; }

  mega_lag="" native_lag=""
  log "stream: starting the megasync daemon"
  "$bin" run -c "$work/stream.yaml" >"$work/stream-daemon.log" 2>&1 &
  daemon_pid=$!
  if lag_phase "stream megasync" lag_m mega; then
    mega_lag="$lag_p50 $lag_p99 $lag_max $lag_written_rate $lag_applied_rate"
  else
    failed=1
    tail -n 20 "$work/stream-daemon.log" >&2
  fi
  kill -TERM "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""

  q "$port_a" bench "CREATE PUBLICATION bench_lag FOR TABLE lag_n" >/dev/null
  q "$port_b" native "CREATE SUBSCRIPTION bench_lag CONNECTION
    'host=$host port=$port_a user=postgres dbname=bench' PUBLICATION bench_lag
    WITH (copy_data = false)" >/dev/null 2>&1
  if lag_phase "stream native subscription" lag_n native; then
    native_lag="$lag_p50 $lag_p99 $lag_max $lag_written_rate $lag_applied_rate"
  else
    failed=1
  fi
  q "$port_b" native "DROP SUBSCRIPTION bench_lag"

  if [ -n "$mega_lag" ] && [ -n "$native_lag" ]; then
    read -r m50 m99 mmax mw ma <<<"$mega_lag"
    read -r n50 n99 nmax nw na <<<"$native_lag"
    goal="missed"
    awk -v p="$m99" 'BEGIN { exit !(p < 1) }' && goal="met"
    row "pg stream lag, $clients writers ${write_seconds}s" "megasync" "subscription" ""
    row "  lag p50" "$m50 s" "$n50 s" ""
    row "  lag p99" "$m99 s" "$n99 s" "goal p99 < 1 s: $goal"
    row "  lag max" "$mmax s" "$nmax s" ""
    row "  changes/s applied" "$ma" "$na" "$(ratio "$na" "$ma") (written $mw/s and $nw/s)"
  else
    row "pg stream lag" "${mega_lag:+ok}${mega_lag:-failed}" "${native_lag:+ok}${native_lag:-failed}" "-"
  fi
fi

print_table
exit "$failed"
