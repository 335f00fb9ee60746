#!/usr/bin/env bash
# megasync's object sync beside rclone, on the S3 and Azure Blob emulators
# (s3rver, Azurite) this script starts (and stops) itself, and between two
# local folders (with rsync as a second reference). Measurements, not tests:
# nothing fails because a machine is slow; only a command that errors, or a
# copy that rclone check finds different from its source, makes it exit 1.
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
#   azure-small, azure-large   small and large on Azurite (fs -> azure_blob)
#   local-small, local-large   small and large between local folders (fs -> fs),
#           rsync -a timed beside rclone
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
#   BENCH_OBJ_AZURITE_PORT  Azurite's port (default 26500)
#   BENCH_OBJ_WORKLOADS   subset of: small large memory azure-small azure-large azure-memory
#                         local-small local-large (default all)
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
azurite_port="${BENCH_OBJ_AZURITE_PORT:-26500}"
workloads="${BENCH_OBJ_WORKLOADS:-small large memory azure-small azure-large azure-memory local-small local-large}"
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

for tool in node rclone rsync; do
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
for p in "$port" "$azurite_port"; do
  if port_open "$p"; then
    log "port $p is in use; choose free ones with BENCH_OBJ_PORT and BENCH_OBJ_AZURITE_PORT"
    exit 1
  fi
done
if [ ! -f "$node_dir/node_modules/s3rver/package.json" ] ||
  [ ! -f "$node_dir/node_modules/azurite/package.json" ]; then
  log "installing the pinned s3rver and Azurite (npm ci in tests/services)"
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
azurite_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local pid
  for pid in "$server_pid" "$azurite_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $work"
  elif [ "$own_work" = 1 ]; then
    rm -rf "$work"
  else
    rm -rf "$work/s3rver" "$work/azurite" "$work/small" "$work/large" "$work/memory" \
      "$work/azure-small" "$work/azure-large" "$work/local-small" "$work/local-large"
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
if want small || want large || want memory; then
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
fi

# Azurite (blob service only), with its well-known development account.
az_account="devstoreaccount1"
az_key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
az_url="http://127.0.0.1:$azurite_port/$az_account"
if want azure-small || want azure-large || want azure-memory; then
  mkdir -p "$work/azurite"
  node "$node_dir/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 \
    --blobPort "$azurite_port" --location "$work/azurite" --silent --disableTelemetry \
    </dev/null >"$work/azurite.log" 2>&1 &
  azurite_pid=$!
  for _ in $(seq 1 300); do
    port_open "$azurite_port" && break
    kill -0 "$azurite_pid" 2>/dev/null || { cat "$work/azurite.log" >&2; log "Azurite died"; exit 1; }
    sleep 0.1
  done
  port_open "$azurite_port" || { log "Azurite not listening on $azurite_port"; exit 1; }
  # rclone 1.60 reaches an emulator on another port than 10000 only through a
  # SAS URL: an account SAS signed with the development key.
  az_sas="$(python3 - "$az_account" "$az_key" <<'PY'
import base64, hashlib, hmac, sys, urllib.parse
account, key = sys.argv[1], sys.argv[2]
f = {"sv": "2019-12-12", "ss": "b", "srt": "sco", "sp": "rwdlacup",
     "st": "2020-01-01T00:00:00Z", "se": "2099-01-01T00:00:00Z", "spr": "http,https"}
to_sign = "\n".join([account, f["sp"], f["ss"], f["srt"], f["st"], f["se"], "", f["spr"], f["sv"], ""])
f["sig"] = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
print(urllib.parse.urlencode(f))
PY
)"
  export RCLONE_CONFIG_AZR_TYPE=azureblob RCLONE_CONFIG_AZR_SAS_URL="$az_url?$az_sas"
fi

# rclone: an on-the-fly remote `s3r:`; AWS_CA_BUNDLE breaks its S3 backend.
export RCLONE_CONFIG_S3R_TYPE=s3 RCLONE_CONFIG_S3R_PROVIDER=Other \
  RCLONE_CONFIG_S3R_ACCESS_KEY_ID="$access_key" \
  RCLONE_CONFIG_S3R_SECRET_ACCESS_KEY="$secret_key" \
  RCLONE_CONFIG_S3R_ENDPOINT="$url" RCLONE_CONFIG_S3R_FORCE_PATH_STYLE=true \
  RCLONE_CONFIG_S3R_REGION=us-east-1
rclone_cmd() {
  env -u AWS_CA_BUNDLE rclone --config /dev/null --fast-list --transfers 8 --checkers 8 "$@"
}

# megasync_config DIR BUCKET [azure|local] : a storage job `copy` from DIR/src
# to BUCKET of s3rver (or to the container BUCKET of Azurite, or to the folder
# DIR/BUCKET).
megasync_config() {
  local target
  case "${3:-}" in
  local)
    target="    type: fs
    path: $2"
    ;;
  azure)
    target="    type: azure_blob
    account: $az_account
    key: $az_key
    container: $2
    endpoint: $az_url"
    ;;
  *)
    target="    type: s3
    bucket: $2
    endpoint: $url
    access_key_id: $access_key
    secret_access_key: $secret_key"
    ;;
  esac
  cat >"$1/bench.yaml" <<YAML
state:
  path: state.db
endpoints:
  files:
    type: fs
    path: src
    read_only: true
  bucket:
$target
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

# check_equal NAME DIR REMOTE:BUCKET : rclone check of a copy, failing the bench on differences.
check_equal() {
  if ! rclone_cmd check "$2/src" "$3" >"$2/check-$1.log" 2>&1; then
    log "$1: rclone check found differences:"
    tail -n 20 "$2/check-$1.log" >&2
    failed=1
  fi
}

# ---------------------------------------------------------------------------
# write_small DIR : BENCH_OBJ_FILES files of 4 KiB in 1,000 nested folders.
write_small() {
  python3 - "$1" "$files" <<'PY'
import os, sys
dest, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    path = os.path.join(dest, f"d{i % 10}", f"e{i % 100 // 10}", f"f{i % 1000 // 100}", f"file{i:06d}.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
PY
}

# compare NAME MEGASYNC_SECONDS BASELINE_SECONDS : one table row with the ratio.
compare() {
  row "$1" "${2:-failed} s" "${3:-failed} s" "$([ -n "$2" ] && [ -n "$3" ] && ratio "$2" "$3" || echo -)"
}

# rsync_timed NAME DIR VAR : rsync -a of DIR/src to DIR/rsync, its seconds in VAR.
rsync_timed() {
  if run_timed "$1" "$2/${1##* }-rsync.log" rsync -a --delete "$2/src/" "$2/rsync/"; then
    printf -v "$3" '%s' "$secs"
  fi
}

# bench_small STORE REMOTE : STORE is s3, azure or local, REMOTE rclone's
# remote for it ("" for local folders: DIR/<name>).
bench_small() {
  local store="$1" remote="$2" dir="$work/$1-small"
  [ "$store" = s3 ] && dir="$work/small"
  mkdir -p "$dir"
  log "$store small: writing $files files of 4 KiB"
  write_small "$dir/src"
  megasync_config "$dir" small-megasync "$store"
  local m_target="$remote:small-megasync" r_target="$remote:small-rclone"
  if [ "$store" = local ]; then
    m_target="$dir/small-megasync" r_target="$dir/small-rclone"
  fi
  local m_init="" m_noop="" r_init="" r_noop="" s_init="" s_noop=""
  if run_timed "$store small megasync initial" "$dir/m1.log" "$bin" sync -c "$dir/bench.yaml" copy; then
    m_init="$secs"
  fi
  if run_timed "$store small megasync no-op" "$dir/m2.log" "$bin" sync -c "$dir/bench.yaml" copy; then
    m_noop="$secs"
  fi
  check_equal "$store small megasync" "$dir" "$m_target"
  if run_timed "$store small rclone initial" "$dir/r1.log" rclone_cmd sync "$dir/src" "$r_target"; then
    r_init="$secs"
  fi
  if run_timed "$store small rclone no-op" "$dir/r2.log" rclone_cmd sync "$dir/src" "$r_target"; then
    r_noop="$secs"
  fi
  compare "$store $files x 4 KiB initial" "$m_init" "$r_init"
  if [ "$store" = local ]; then
    rsync_timed "$store small rsync initial" "$dir" s_init
    compare "  against rsync" "$m_init" "$s_init"
  fi
  compare "$store $files x 4 KiB no-op resync" "$m_noop" "$r_noop"
  if [ "$store" = local ]; then
    rsync_timed "$store small rsync no-op" "$dir" s_noop
    compare "  against rsync" "$m_noop" "$s_noop"
  fi
  rm -rf "$dir/src"
}

bench_large() {
  local store="$1" remote="$2" dir="$work/$1-large" i
  [ "$store" = s3 ] && dir="$work/large"
  mkdir -p "$dir/src"
  log "$store large: writing $large files of $large_mib MiB"
  for i in $(seq 1 "$large"); do
    head -c "$((large_mib * 1048576))" /dev/urandom >"$dir/src/large$i.bin"
  done
  megasync_config "$dir" large-megasync "$store"
  local m_target="$remote:large-megasync" r_target="$remote:large-rclone"
  if [ "$store" = local ]; then
    m_target="$dir/large-megasync" r_target="$dir/large-rclone"
  fi
  local m="" r="" s=""
  if run_timed "$store large megasync" "$dir/m.log" "$bin" sync -c "$dir/bench.yaml" copy; then
    m="$secs"
  fi
  check_equal "$store large megasync" "$dir" "$m_target"
  if run_timed "$store large rclone" "$dir/r.log" rclone_cmd sync "$dir/src" "$r_target"; then
    r="$secs"
  fi
  compare "$store $large x $large_mib MiB" "$m" "$r"
  if [ "$store" = local ]; then
    rsync_timed "$store large rsync" "$dir" s
    compare "  against rsync" "$m" "$s"
  fi
  rm -rf "$dir/src"
}

# peak_rss_mib LOG : the peak resident size /usr/bin/time wrote, in MiB.
peak_rss_mib() { awk -F: '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }

bench_memory() {  # bench_memory STORE REMOTE
  local store="$1" remote="$2" dir="$work/$1-memory"
  mkdir -p "$dir/src"
  if [ ! -x /usr/bin/time ]; then
    row "$store 1 file of $big_mib MiB, peak RSS" "skipped" "skipped" "no /usr/bin/time"
    return
  fi
  log "$store memory: writing one file of $big_mib MiB"
  head -c "$((big_mib * 1048576))" /dev/urandom >"$dir/src/big.bin"
  megasync_config "$dir" memory-megasync "$store"
  local m="" r="" m_rss="" r_rss=""
  if run_timed "$store memory megasync" "$dir/m.log" /usr/bin/time -v "$bin" sync -c "$dir/bench.yaml" copy; then
    m="$secs"
    m_rss="$(peak_rss_mib "$dir/m.log")"
  fi
  check_equal "$store memory megasync" "$dir" "$remote:memory-megasync"
  if run_timed "$store memory rclone" "$dir/r.log" /usr/bin/time -v \
    env -u AWS_CA_BUNDLE rclone --config /dev/null --fast-list --transfers 8 --checkers 8 \
    sync "$dir/src" "$remote:memory-rclone"; then
    r="$secs"
    r_rss="$(peak_rss_mib "$dir/r.log")"
  fi
  row "$store 1 x $big_mib MiB" "${m:-failed} s" "${r:-failed} s" \
    "$([ -n "$m" ] && [ -n "$r" ] && ratio "$m" "$r" || echo -)"
  row "  peak resident size" "${m_rss:-?} MiB" "${r_rss:-?} MiB" ""
  rm -rf "$dir/src"
}

log "binary ${MEGASYNC_BIN:-build/release/megasync}; work folder $work"
if want small; then bench_small s3 s3r; fi
if want large; then bench_large s3 s3r; fi
if want memory; then bench_memory s3 s3r; fi
if want azure-memory; then bench_memory azure azr; fi
if want azure-small; then bench_small azure azr; fi
if want azure-large; then bench_large azure azr; fi
if want local-small; then bench_small local ""; fi
if want local-large; then bench_large local ""; fi
print_table
exit "$failed"
