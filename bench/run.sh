#!/usr/bin/env bash
# megasync benchmarks: each workload runs beside its baseline in the same run and
# the table at the end prints the speed ratio. These are measurements, not tests:
# nothing fails because a machine is slow (only a command that errors fails).
#
#   bench/run.sh                                   full size
#   BENCH_ROWS=50000 BENCH_FILES=1000 bench/run.sh quick
#
# Environment (all optional):
#   MEGASYNC_BIN        binary to measure (default build/release/megasync, built if missing)
#   BENCH_ROWS          rows for sqlite->sqlite (default 1000000)
#   BENCH_FILES         files for fs->fs (default 10000)
#   BENCH_BATCH_SIZE    batch_size of the database job (default: the job kind's default)
#   BENCH_TRANSFERS     transfers of the storage job (default: the job kind's default)
#   BENCH_IDLE_SECONDS  how long the daemon idles before RSS is read (default 10)
#   BENCH_ONLY          space-separated subset of: sqlite fs idle pg objects messages redis (default all)
#   BENCH_PG_*          the PostgreSQL workloads (pg), see bench/postgres.sh
#   BENCH_OBJ_*         the object store workloads (objects), see bench/objects.sh
#   BENCH_MSG_*         the RabbitMQ relay against the shovel (messages), see bench/messages.sh
#   BENCH_REDIS_*       the Redis initial sync against REPLICAOF (redis), see bench/redis.sh
#   BENCH_KEEP=1        keep the temporary work folder (its path is printed)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

rows="${BENCH_ROWS:-1000000}"
files="${BENCH_FILES:-10000}"
idle_seconds="${BENCH_IDLE_SECONDS:-10}"
only="${BENCH_ONLY:-sqlite fs idle pg objects messages redis}"
bin="${MEGASYNC_BIN:-build/release/megasync}"

if [ ! -x "$bin" ]; then
  echo "bench: $bin missing; building it with 'make build'" >&2
  make build
fi
[ -x "$bin" ] || { echo "bench: no executable at $bin" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/megasync-bench.XXXXXX")"
daemon_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# Measure a private copy: a rebuild during the run must not swap the binary.
cp "$bin" "$work/megasync"
bin="$work/megasync"

failed=0
results=()   # table lines, printed at the end

log() { echo "bench: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
want() { [[ " $only " == *" $1 "* ]]; }

# yaml_opt KEY VALUE : an optional job option line, empty when VALUE is empty.
yaml_opt() { if [ -n "$2" ]; then printf '    %s: %s\n' "$1" "$2"; fi; }

# ---------------------------------------------------------------------------
# 1. SQLite -> SQLite initial sync: megasync `database` job vs `sqlite3 .dump | sqlite3`.
bench_sqlite() {
  local dir="$work/sqlite"
  mkdir -p "$dir/mega" "$dir/base"
  log "sqlite: generating $rows rows"
  # ~100 bytes a row; one statement, journaling off while generating.
  sqlite3 "$dir/pristine.db" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL,
                    status TEXT, note TEXT, created TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO orders
SELECT i,
       abs(random()) % 100000,
       round((abs(random()) % 1000000) / 100.0, 2),
       CASE i % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'cancelled' END,
       hex(randomblob(24)),
       strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000 + i * 7, 'unixepoch')
FROM n;
SQL
  log "sqlite: source is $(du -h "$dir/pristine.db" | cut -f1)"
  # Each side gets its own copy: megasync installs triggers and _megasync_changes
  # in its source, the baseline must read the untouched data.
  cp "$dir/pristine.db" "$dir/mega/source.db"
  cp "$dir/pristine.db" "$dir/base/source.db"

  cat >"$dir/mega/bench.yaml" <<YAML
state:
  path: state.db
endpoints:
  src:
    type: sqlite
    path: source.db
  dst:
    type: sqlite
    path: target.db
    create: true
jobs:
  copy-rows:
    kind: database
    source: src
    targets: [dst]
    timeout: 2h
    # The copy alone, as the baseline does; megasync verify is timed apart.
    verify_interval: 0s
$(yaml_opt batch_size "${BENCH_BATCH_SIZE:-}")
YAML
  "$bin" check -c "$dir/mega/bench.yaml" >"$dir/check.log" 2>&1 ||
    { log "sqlite: config check failed:"; cat "$dir/check.log" >&2; failed=1; return; }

  local mega_s="" base_s="" n
  if run_timed "sqlite megasync" "$dir/mega.log" "$bin" sync -c "$dir/mega/bench.yaml" copy-rows; then
    mega_s="$secs"
    n="$(sqlite3 "$dir/mega/target.db" 'SELECT count(*) FROM orders' 2>/dev/null || echo 0)"
    [ "$n" = "$rows" ] || { log "sqlite megasync: target has $n rows, expected $rows"; failed=1; }
  fi
  local verify_s=""
  if run_timed "sqlite verify" "$dir/verify.log" "$bin" verify -c "$dir/mega/bench.yaml" copy-rows; then
    verify_s="$secs"
  fi
  # shellcheck disable=SC2016  # $1 and $2 expand in the inner shell
  if run_timed "sqlite baseline" "$dir/base.log" \
    bash -c 'set -o pipefail; sqlite3 "$1" .dump | sqlite3 "$2"' _ \
    "$dir/base/source.db" "$dir/base/target.db"; then
    base_s="$secs"
  fi
  rm -f "$dir/pristine.db"

  local label="sqlite->sqlite $rows rows"
  if [ -n "$mega_s" ] && [ -n "$base_s" ]; then
    row "$label" "$mega_s s" "$base_s s" "$(ratio "$mega_s" "$base_s")"
    row "  rows/s" "$(rate "$rows" "$mega_s")" "$(rate "$rows" "$base_s")" ""
    row "  megasync verify (both sides)" "${verify_s:-failed} s" "" ""
  else
    row "$label" "${mega_s:-failed}" "${base_s:-failed}" "-"
  fi
}

# ---------------------------------------------------------------------------
# 2. fs -> fs of many small files: megasync `storage` job vs rsync -a (and rclone sync).
bench_fs() {
  local dir="$work/fs"
  mkdir -p "$dir/src"
  log "fs: generating $(python3 "$repo/bench/gen_files.py" "$dir/src" "$files")"

  cat >"$dir/bench.yaml" <<YAML
state:
  path: state.db
endpoints:
  files_in:
    type: fs
    path: src
  files_out:
    type: fs
    path: mega-dst
    create: true
jobs:
  copy-files:
    kind: storage
    source: files_in
    target: files_out
    timeout: 2h
$(yaml_opt transfers "${BENCH_TRANSFERS:-}")
YAML
  "$bin" check -c "$dir/bench.yaml" >"$dir/check.log" 2>&1 ||
    { log "fs: config check failed:"; cat "$dir/check.log" >&2; failed=1; return; }

  # count_files DIR: regular files, skipping any bookkeeping folder of megasync.
  count_files() { find "$1" -path '*/.megasync*' -prune -o -type f -print | wc -l; }

  local mega_s="" rsync_s="" rclone_s="" n
  if run_timed "fs megasync" "$dir/mega.log" "$bin" sync -c "$dir/bench.yaml" copy-files; then
    mega_s="$secs"
    n="$(count_files "$dir/mega-dst")"
    [ "$n" = "$files" ] || { log "fs megasync: target has $n files, expected $files"; failed=1; }
  fi
  if run_timed "fs rsync" "$dir/rsync.log" rsync -a "$dir/src/" "$dir/rsync-dst/"; then
    rsync_s="$secs"
  fi
  if command -v rclone >/dev/null 2>&1; then
    if run_timed "fs rclone" "$dir/rclone.log" rclone sync "$dir/src" "$dir/rclone-dst"; then
      rclone_s="$secs"
    fi
  fi

  local label="fs->fs $files files"
  if [ -n "$mega_s" ] && [ -n "$rsync_s" ]; then
    row "$label (rsync)" "$mega_s s" "$rsync_s s" "$(ratio "$mega_s" "$rsync_s")"
    row "  files/s" "$(rate "$files" "$mega_s")" "$(rate "$files" "$rsync_s")" ""
  else
    row "$label (rsync)" "${mega_s:-failed}" "${rsync_s:-failed}" "-"
  fi
  if ! command -v rclone >/dev/null 2>&1; then
    row "$label (rclone)" "skipped" "skipped" "rclone not on PATH"
  elif [ -n "$mega_s" ] && [ -n "$rclone_s" ]; then
    row "$label (rclone)" "$mega_s s" "$rclone_s s" "$(ratio "$mega_s" "$rclone_s")"
    row "  files/s" "$(rate "$files" "$mega_s")" "$(rate "$files" "$rclone_s")" ""
  else
    row "$label (rclone)" "${mega_s:-failed}" "${rclone_s:-failed}" "-"
  fi
}

# ---------------------------------------------------------------------------
# 3. Resident memory of the daemon idling on the quickstart config.
bench_idle() {
  local dir="$work/idle" port url status rss_kb=""
  mkdir -p "$dir"
  if [ -x scripts/quickstart-seed.sh ]; then
    scripts/quickstart-seed.sh >&2
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  url="http://127.0.0.1:$port/readyz"
  log "idle: starting the daemon on 127.0.0.1:$port"
  MEGASYNC_LISTEN="127.0.0.1:$port" "$bin" run -c examples/quickstart.yaml >"$dir/daemon.log" 2>&1 &
  daemon_pid=$!

  local deadline=$((SECONDS + 60)) ready=0
  while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$daemon_pid" 2>/dev/null; do
    status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
    if [ "$status" = 200 ]; then
      ready=1
      break
    fi
    sleep 0.2
  done
  if [ "$ready" = 1 ]; then
    log "idle: ready; idling ${idle_seconds} s"
    sleep "$idle_seconds"
    rss_kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || true)"
  else
    log "idle: the daemon did not answer 200 on /readyz within 60 s; its log:"
    tail -n 20 "$dir/daemon.log" >&2
    failed=1
  fi

  if kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    local stop_status=0
    wait "$daemon_pid" || stop_status=$?
    [ "$stop_status" = 0 ] || log "idle: daemon exited $stop_status after SIGTERM"
  fi
  daemon_pid=""

  if [ -n "$rss_kb" ]; then
    row "idle RSS (quickstart)" "$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f MiB", k / 1024 }')" "" ""
  else
    row "idle RSS (quickstart)" "failed" "" ""
  fi
}

log "binary ${MEGASYNC_BIN:-build/release/megasync} ($("$bin" --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
log "work folder $work"
if want sqlite; then bench_sqlite; fi
if want fs; then bench_fs; fi
if want idle; then bench_idle; fi
# 4. PostgreSQL CDC: its own script (own servers, own cleanup); its lines join the table.
if want pg; then
  pg_status=0
  pg_lines="$(MEGASYNC_BIN="$bin" BENCH_WORK="$work" BENCH_TABLE_ONLY=1 "$repo/bench/postgres.sh")" ||
    pg_status=$?
  [ "$pg_status" -eq 0 ] || failed=1
  while IFS= read -r line; do
    [ -n "$line" ] && results+=("$line")
  done <<<"$pg_lines"
fi

# 5. Object stores against rclone: its own script and s3rver, like pg.
if want objects; then
  objects_status=0
  objects_lines="$(MEGASYNC_BIN="$bin" BENCH_WORK="$work" BENCH_TABLE_ONLY=1 "$repo/bench/objects.sh")" ||
    objects_status=$?
  [ "$objects_status" -eq 0 ] || failed=1
  while IFS= read -r line; do
    [ -n "$line" ] && results+=("$line")
  done <<<"$objects_lines"
fi

# 6. Messages against RabbitMQ's shovel: its own script and node.
if want messages; then
  messages_status=0
  messages_lines="$(MEGASYNC_BIN="$bin" BENCH_WORK="$work" BENCH_TABLE_ONLY=1 "$repo/bench/messages.sh")" ||
    messages_status=$?
  [ "$messages_status" -eq 0 ] || failed=1
  while IFS= read -r line; do
    [ -n "$line" ] && results+=("$line")
  done <<<"$messages_lines"
fi

# 7. Redis against its own full resync (REPLICAOF): its own script and servers.
if want redis; then
  redis_status=0
  redis_lines="$(MEGASYNC_BIN="$bin" BENCH_WORK="$work" BENCH_TABLE_ONLY=1 "$repo/bench/redis.sh")" ||
    redis_status=$?
  [ "$redis_status" -eq 0 ] || failed=1
  while IFS= read -r line; do
    [ -n "$line" ] && results+=("$line")
  done <<<"$redis_lines"
fi

echo
printf '%-34s %-14s %-14s %s\n' workload megasync baseline "ratio (megasync speed / baseline speed)"
printf '%s\n' "${results[@]}"
exit "$failed"
