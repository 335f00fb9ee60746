#!/usr/bin/env bash
# megasync's object sync beside rclone, on an S3 emulator (s3rver) this script
# starts (and stops) itself. Measurements, not tests: nothing fails because a
# machine is slow; only a command that errors, or a copy that rclone check finds
# different from its source, makes it exit 1.
#
#   bench/objects.sh                               full size
#   BENCH_OBJ_FILES=1000 BENCH_OBJ_LARGE=2 bench/objects.sh   quick
#   BENCH_ONLY=objects bench/run.sh                the same, from run.sh
#
# Workloads (bench/README.md "Object stores"):
#   small   many 4 KiB files in nested folders, fs -> s3: initial copy, then a
#           no-op resync (nothing changed), megasync sync vs rclone sync
#   large   a few 64 MiB files, fs -> s3 (multipart uploads on both sides)
#   memory  one large file (1 GiB) fs -> s3: peak resident size of each tool
#
# rclone runs with --transfers 8 --checkers 8 --fast-list (s3rver leaves a
# folder that holds only folders out of delimiter listings: without
# --fast-list rclone would re-upload everything on every run); megasync with
# transfers: 8.
#
# Environment (all optional):
#   MEGASYNC_BIN          binary to measure (default build/release/megasync)
#   BENCH_OBJ_FILES       small files (default 10000)
#   BENCH_OBJ_LARGE       large files (default 10)
#   BENCH_OBJ_LARGE_MIB   size of each large file in MiB (default 64)
#   BENCH_OBJ_BIG_MIB     size of the memory workload's file in MiB (default 1024)
#   BENCH_OBJ_PORT        s3rver's port (default 26568)
#   BENCH_OBJ_WORKLOADS   subset of: small large memory (default all)
#   BENCH_WORK            folder to work in (default: a new mktemp -d, removed at the end)
#   BENCH_KEEP=1          keep the work folder
#   BENCH_TABLE_ONLY=1    print the result lines without the table header (run.sh)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

files="${BENCH_OBJ_FILES:-10000}"
large="${BENCH_OBJ_LARGE:-10}"
large_mib="${BENCH_OBJ_LARGE_MIB:-64}"
big_mib="${BENCH_OBJ_BIG_MIB:-1024}"
port="${BENCH_OBJ_PORT:-26568}"
workloads="${BENCH_OBJ_WORKLOADS:-small large memory}"
bin="${MEGASYNC_BIN:-build/release/megasync}"
node_dir="$repo/tests/services"

failed=0
results=()
log() { echo "bench: objects: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
want() { [[ " $workloads " == *" $1 "* ]]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_table() {
  if [ "${BENCH_TABLE_ONLY:-0}" != 1 ]; then
    echo
    printf '%-34s %-14s %-14s %s\n' workload megasync "baseline" "ratio (megasync speed / baseline speed)"
  fi
  if [ "${#results[@]}" -gt 0 ]; then printf '%s\n' "${results[@]}"; fi
}

for tool in node rclone; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "no $tool (scripts/install-deps.sh); skipped"
    row "object store workloads" "skipped" "skipped" "no $tool"
    print_table
    exit 0
  fi
done
if [ ! -x "$bin" ]; then
  log "$bin missing; building it with 'make build'"
  make build
fi
[ -x "$bin" ] || { log "no executable at $bin"; exit 1; }
if port_open "$port"; then
  log "port $port is in use; choose a free one with BENCH_OBJ_PORT"
  exit 1
fi
if [ ! -f "$node_dir/node_modules/s3rver/package.json" ]; then
  log "installing the pinned s3rver (npm ci in tests/services)"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

own_work=0
if [ -n "${BENCH_WORK:-}" ]; then
  work="$BENCH_WORK/objects"
  mkdir -p "$work"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/megasync-bench-objects.XXXXXX")"
  own_work=1
fi

server_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $work"
  elif [ "$own_work" = 1 ]; then
    rm -rf "$work"
  else
    rm -rf "$work/s3rver" "$work/small" "$work/large" "$work/memory"
  fi
}
trap cleanup EXIT

cp "$bin" "$work/megasync"
bin="$work/megasync"

# ---------------------------------------------------------------------------
# s3rver: checks the access key only (not signatures); needs OpenSSL's legacy
# provider for its continuation tokens.
access_key="S3RVER"
secret_key="S3RVER"
url="http://127.0.0.1:$port"
mkdir -p "$work/s3rver"
node --openssl-legacy-provider "$node_dir/node_modules/s3rver/bin/s3rver.js" \
  --directory "$work/s3rver" --address 127.0.0.1 --port "$port" --silent \
  </dev/null >"$work/s3rver.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  port_open "$port" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/s3rver.log" >&2; log "s3rver died"; exit 1; }
  sleep 0.1
done
port_open "$port" || { log "s3rver not listening on $port"; exit 1; }

# rclone: an on-the-fly remote `s3r:`; AWS_CA_BUNDLE breaks its S3 backend.
export RCLONE_CONFIG_S3R_TYPE=s3 RCLONE_CONFIG_S3R_PROVIDER=Other \
  RCLONE_CONFIG_S3R_ACCESS_KEY_ID="$access_key" \
  RCLONE_CONFIG_S3R_SECRET_ACCESS_KEY="$secret_key" \
  RCLONE_CONFIG_S3R_ENDPOINT="$url" RCLONE_CONFIG_S3R_FORCE_PATH_STYLE=true \
  RCLONE_CONFIG_S3R_REGION=us-east-1
rclone_cmd() {
  env -u AWS_CA_BUNDLE rclone --config /dev/null --fast-list --transfers 8 --checkers 8 "$@"
}

# megasync_config DIR BUCKET : a storage job `copy` from DIR/src to BUCKET.
megasync_config() {
  cat >"$1/bench.yaml" <<YAML
state:
  path: state.db
endpoints:
  files:
    type: fs
    path: src
    read_only: true
  bucket:
    type: s3
    bucket: $2
    endpoint: $url
    access_key_id: $access_key
    secret_access_key: $secret_key
    create: true
jobs:
  copy:
    kind: storage
    source: files
    target: bucket
    delete: true
    transfers: 8
    timeout: 2h
YAML
}

# check_equal NAME DIR BUCKET : rclone check of a copy, failing the bench on differences.
check_equal() {
  if ! rclone_cmd check "$2/src" "s3r:$3" >"$2/check-$1.log" 2>&1; then
    log "$1: rclone check found differences:"
    tail -n 20 "$2/check-$1.log" >&2
    failed=1
  fi
}

# ---------------------------------------------------------------------------
bench_small() {
  local dir="$work/small"
  mkdir -p "$dir"
  log "small: writing $files files of 4 KiB"
  python3 - "$dir/src" "$files" <<'PY'
import os, sys
dest, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    path = os.path.join(dest, f"d{i % 10}", f"e{i % 100 // 10}", f"f{i % 1000 // 100}", f"file{i:06d}.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
PY
  megasync_config "$dir" small-megasync
  local m_init="" m_noop="" r_init="" r_noop=""
  if run_timed "small megasync initial" "$dir/m1.log" "$bin" sync -c "$dir/bench.yaml" copy; then
    m_init="$secs"
  fi
  if run_timed "small megasync no-op" "$dir/m2.log" "$bin" sync -c "$dir/bench.yaml" copy; then
    m_noop="$secs"
  fi
  check_equal "small megasync" "$dir" small-megasync
  if run_timed "small rclone initial" "$dir/r1.log" rclone_cmd sync "$dir/src" s3r:small-rclone; then
    r_init="$secs"
  fi
  if run_timed "small rclone no-op" "$dir/r2.log" rclone_cmd sync "$dir/src" s3r:small-rclone; then
    r_noop="$secs"
  fi
  row "s3 $files x 4 KiB initial" "${m_init:-failed} s" "${r_init:-failed} s" \
    "$([ -n "$m_init" ] && [ -n "$r_init" ] && ratio "$m_init" "$r_init" || echo -)"
  row "s3 $files x 4 KiB no-op resync" "${m_noop:-failed} s" "${r_noop:-failed} s" \
    "$([ -n "$m_noop" ] && [ -n "$r_noop" ] && ratio "$m_noop" "$r_noop" || echo -)"
  rm -rf "$dir/src"
}

bench_large() {
  local dir="$work/large" i
  mkdir -p "$dir/src"
  log "large: writing $large files of $large_mib MiB"
  for i in $(seq 1 "$large"); do
    head -c "$((large_mib * 1048576))" /dev/urandom >"$dir/src/large$i.bin"
  done
  megasync_config "$dir" large-megasync
  local m="" r=""
  if run_timed "large megasync" "$dir/m.log" "$bin" sync -c "$dir/bench.yaml" copy; then
    m="$secs"
  fi
  check_equal "large megasync" "$dir" large-megasync
  if run_timed "large rclone" "$dir/r.log" rclone_cmd sync "$dir/src" s3r:large-rclone; then
    r="$secs"
  fi
  row "s3 $large x $large_mib MiB" "${m:-failed} s" "${r:-failed} s" \
    "$([ -n "$m" ] && [ -n "$r" ] && ratio "$m" "$r" || echo -)"
  rm -rf "$dir/src"
}

# peak_rss_mib LOG : the peak resident size /usr/bin/time wrote, in MiB.
peak_rss_mib() { awk -F: '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }

bench_memory() {
  local dir="$work/memory"
  mkdir -p "$dir/src"
  if [ ! -x /usr/bin/time ]; then
    row "s3 1 file of $big_mib MiB, peak RSS" "skipped" "skipped" "no /usr/bin/time"
    return
  fi
  log "memory: writing one file of $big_mib MiB"
  head -c "$((big_mib * 1048576))" /dev/urandom >"$dir/src/big.bin"
  megasync_config "$dir" memory-megasync
  local m="" r="" m_rss="" r_rss=""
  if run_timed "memory megasync" "$dir/m.log" /usr/bin/time -v "$bin" sync -c "$dir/bench.yaml" copy; then
    m="$secs"
    m_rss="$(peak_rss_mib "$dir/m.log")"
  fi
  check_equal "memory megasync" "$dir" memory-megasync
  if run_timed "memory rclone" "$dir/r.log" /usr/bin/time -v \
    env -u AWS_CA_BUNDLE rclone --config /dev/null --fast-list --transfers 8 --checkers 8 \
    sync "$dir/src" s3r:memory-rclone; then
    r="$secs"
    r_rss="$(peak_rss_mib "$dir/r.log")"
  fi
  row "s3 1 x $big_mib MiB" "${m:-failed} s" "${r:-failed} s" \
    "$([ -n "$m" ] && [ -n "$r" ] && ratio "$m" "$r" || echo -)"
  row "  peak resident size" "${m_rss:-?} MiB" "${r_rss:-?} MiB" ""
  rm -rf "$dir/src"
}

log "binary ${MEGASYNC_BIN:-build/release/megasync}; s3rver on $url; work folder $work"
if want small; then bench_small; fi
if want large; then bench_large; fi
if want memory; then bench_memory; fi
print_table
exit "$failed"
