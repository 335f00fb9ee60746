#!/usr/bin/env bash
# megasync's redis -> redis initial sync beside Redis's own full resync
# (REPLICAOF), on three redis-servers this script starts (and stops) itself.
# Measurements, not tests: nothing fails because a machine is slow; only a
# command that errors, or a target that does not end up with every key, makes
# it exit 1.
#
#   bench/redis.sh                              full size (1 M keys)
#   BENCH_REDIS_KEYS=100000 bench/redis.sh      quick
#   BENCH_ONLY=redis bench/run.sh               the same, from run.sh
#
# Workload: BENCH_REDIS_KEYS keys in database 0 of the source: 70 % strings of
# 64-96 bytes, 10 % each hashes (5-10 fields), lists (5-10 elements) and
# sorted sets (5-10 members), 30 % of each type with a TTL of two to three
# hours (none expires during the run). Generated server-side by a Lua script,
# 10,000 keys a call (not timed). Each tool copies it into an empty server:
#   megasync  `megasync sync` of a `cache` job redis -> redis (the snapshot:
#             SCAN, pipelined DUMP + PEXPIRETIME, pipelined RESTORE ... ABSTTL),
#             `verify_interval: 0s` (the copy alone)
#   REPLICAOF the source with `repl-diskless-sync yes`, `repl-diskless-sync-delay
#             0`; timed from REPLICAOF until the replica's link is up and it
#             holds every key, then detached with REPLICAOF NO ONE
#
# Environment (all optional):
#   MEGASYNC_BIN          binary to measure (default build/release/megasync)
#   BENCH_REDIS_KEYS      keys (default 1000000)
#   BENCH_REDIS_PORTS     the three servers' ports: source, megasync's target,
#                         the replica (default "26379 26380 26381")
#   BENCH_BATCH_SIZE      batch_size of the megasync job (default: the kind's)
#   BENCH_WORK            folder to work in (default: a new mktemp -d, removed at the end)
#   BENCH_KEEP=1          keep the work folder
#   BENCH_TABLE_ONLY=1    print the result lines without the table header (run.sh)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

keys="${BENCH_REDIS_KEYS:-1000000}"
read -r port_src port_mega port_repl <<<"${BENCH_REDIS_PORTS:-26379 26380 26381}"
bin="${MEGASYNC_BIN:-build/release/megasync}"
host=127.0.0.1

failed=0
results=()

log() { echo "bench: redis: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
port_open() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }
cli() {  # cli PORT ARGS...
  local port="$1"
  shift
  redis-cli -h "$host" -p "$port" "$@"
}
yaml_opt() { if [ -n "$2" ]; then printf '    %s: %s\n' "$1" "$2"; fi; }

print_table() {
  if [ "${BENCH_TABLE_ONLY:-0}" != 1 ]; then
    echo
    printf '%-34s %-14s %-14s %s\n' workload megasync baseline "ratio (megasync speed / baseline speed)"
  fi
  if [ "${#results[@]}" -gt 0 ]; then printf '%s\n' "${results[@]}"; fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  log "no redis-server or redis-cli on PATH (scripts/install-deps.sh); skipped"
  row "redis -> redis" "skipped" "skipped" "no redis-server"
  print_table
  exit 0
fi
if [ ! -x "$bin" ]; then
  log "$bin missing; building it with 'make build'"
  make build
fi
[ -x "$bin" ] || { log "no executable at $bin"; exit 1; }
for port in "$port_src" "$port_mega" "$port_repl"; do
  if port_open "$port"; then
    log "port $port is in use; choose three free ports with BENCH_REDIS_PORTS=\"A B C\""
    exit 1
  fi
done

own_work=0
if [ -n "${BENCH_WORK:-}" ]; then
  work="$BENCH_WORK/redis"
  mkdir -p "$work"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/megasync-bench-redis.XXXXXX")"
  own_work=1
fi

server_pids=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local pid
  for pid in "${server_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $work"
  elif [ "$own_work" = 1 ]; then
    rm -rf "$work"
  else
    rm -rf "$work/source" "$work/mega" "$work/replica"  # run.sh removes the rest
  fi
}
trap cleanup EXIT

if [ "$own_work" = 1 ]; then
  cp "$bin" "$work/megasync"
  bin="$work/megasync"
fi

# ---------------------------------------------------------------------------
# Servers: no persistence; the source serves full resyncs diskless, at once.
start_server() {  # start_server NAME PORT EXTRA_ARGS...
  local name="$1" port="$2"
  shift 2
  mkdir -p "$work/$name"
  redis-server --bind "$host" --port "$port" --dir "$work/$name" --save "" \
    --appendonly no --daemonize no --enable-debug-command local \
    --logfile "$work/$name/redis.log" "$@" &
  server_pids+=("$!")
  local deadline=$((SECONDS + 30))
  until cli "$port" PING >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$name: redis-server on port $port did not answer within 30 s; its log:"
      tail -n 20 "$work/$name/redis.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}
log "starting redis-servers on $host:$port_src (source), :$port_mega, :$port_repl (work: $work)"
start_server source "$port_src" --repl-diskless-sync yes --repl-diskless-sync-delay 0
start_server mega "$port_mega"
start_server replica "$port_repl"

# ---------------------------------------------------------------------------
# The source's keys, made by the server: ARGV = first index, count.
# Key i: type by i % 10 (0-6 string, 7 hash, 8 list, 9 sorted set), a TTL when
# floor(i / 10) % 10 < 3 (30 % of every type).
fill_lua='
local first, count = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = first, first + count - 1 do
  local kind, key = i % 10
  local members = 5 + i % 6
  if kind < 7 then
    key = "str:" .. i
    redis.call("SET", key, string.rep(string.format("%08d", i), 8 + i % 5))
  elseif kind == 7 then
    key = "hash:" .. i
    for m = 1, members do redis.call("HSET", key, "field" .. m, "value-" .. i .. "-" .. m) end
  elseif kind == 8 then
    key = "list:" .. i
    for m = 1, members do redis.call("RPUSH", key, "item-" .. i .. "-" .. m) end
  else
    key = "zset:" .. i
    for m = 1, members do redis.call("ZADD", key, m * 1.5, "member-" .. m) end
  end
  if math.floor(i / 10) % 10 < 3 then
    redis.call("EXPIRE", key, 7200 + i % 3600)
  end
end
return count'
log "filling the source with $keys keys"
step=10000
for ((first = 0; first < keys; first += step)); do
  n=$((keys - first < step ? keys - first : step))
  cli "$port_src" EVAL "$fill_lua" 0 "$first" "$n" >/dev/null
done
n="$(cli "$port_src" DBSIZE)"
[ "$n" = "$keys" ] || { log "source holds $n keys, expected $keys"; exit 1; }
log "source: $(cli "$port_src" INFO memory | awk -F: '/^used_memory_human:/ { print $2 }' | tr -d '\r') used"

# key_name I : the name fill_lua gives key I.
key_name() {
  case $(($1 % 10)) in
    7) echo "hash:$1" ;;
    8) echo "list:$1" ;;
    9) echo "zset:$1" ;;
    *) echo "str:$1" ;;
  esac
}
# server_cpu PORT : CPU seconds the server has used (user + sys, its forked
# children such as a diskless resync's included).
server_cpu() {
  cli "$1" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys)(_children)?:/ { s += $2 }
    END { printf "%.2f", s }'
}
# children_cpu : sets $cpu to the CPU seconds of this shell's finished children
# (bash `times`, run in this shell: a subshell would count only its own).
children_cpu() {
  times >"$work/times"
  cpu="$(awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$work/times")"
}
# cpu_delta BEFORE AFTER -> AFTER - BEFORE, one decimal
cpu_delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# check_copy NAME PORT : the server holds every key, and a few keys (each type,
# with and without TTL) have the source's value and absolute expiry.
check_copy() {
  local name="$1" port="$2" got i key
  got="$(cli "$port" DBSIZE)"
  if [ "$got" != "$keys" ]; then
    log "$name: target holds $got keys, expected $keys"
    failed=1
    return
  fi
  for i in 0 7 8 9 50 57 58 59 $((keys - 1)); do
    [ "$i" -lt "$keys" ] || continue
    key="$(key_name "$i")"
    for cmd in PEXPIRETIME TYPE; do
      if [ "$(cli "$port" "$cmd" "$key")" != "$(cli "$port_src" "$cmd" "$key")" ]; then
        log "$name: $cmd $key differs from the source's"
        failed=1
      fi
    done
    if [ "$(cli "$port" DEBUG DIGEST-VALUE "$key" 2>/dev/null)" != \
      "$(cli "$port_src" DEBUG DIGEST-VALUE "$key" 2>/dev/null)" ]; then
      log "$name: the value of $key differs from the source's"
      failed=1
    fi
  done
}

# --- megasync --------------------------------------------------------------
cat >"$work/megasync.yaml" <<YAML
state:
  path: $work/state.db
endpoints:
  cache_src:
    type: redis
    url: "redis://$host:$port_src/0"
  cache_dst:
    type: redis
    url: "redis://$host:$port_mega/0"
jobs:
  copy-keys:
    kind: cache
    source: cache_src
    targets: [cache_dst]
    timeout: 1h
    # The copy alone, as the baseline does.
    verify_interval: 0s
$(yaml_opt batch_size "${BENCH_BATCH_SIZE:-}")
YAML
"$bin" check -c "$work/megasync.yaml" >"$work/check.log" 2>&1 ||
  { log "config check failed:"; cat "$work/check.log" >&2; exit 1; }
m_secs="" m_cpu=""
src_cpu0="$(server_cpu "$port_src")" dst_cpu0="$(server_cpu "$port_mega")"
children_cpu
client_cpu0="$cpu"
if run_timed "megasync sync" "$work/megasync.log" "$bin" sync -c "$work/megasync.yaml" copy-keys; then
  m_secs="$secs"
  children_cpu
  m_cpu="$(cpu_delta "$client_cpu0" "$cpu")"
  m_cpu+="+$(cpu_delta "$src_cpu0" "$(server_cpu "$port_src")")"
  m_cpu+="+$(cpu_delta "$dst_cpu0" "$(server_cpu "$port_mega")")"
  check_copy megasync "$port_mega"
fi

# --- REPLICAOF -------------------------------------------------------------
r_secs=""
src_cpu0="$(server_cpu "$port_src")" dst_cpu0="$(server_cpu "$port_repl")"
t0="$(now)"
cli "$port_repl" REPLICAOF "$host" "$port_src" >/dev/null
deadline=$((SECONDS + 1800))
until cli "$port_repl" INFO replication | grep -q '^master_link_status:up' &&
  [ "$(cli "$port_repl" DBSIZE 2>/dev/null)" = "$keys" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    deadline=""
    break
  fi
  sleep 0.02
done
if [ -n "$deadline" ]; then
  r_secs="$(elapsed "$t0" "$(now)")"
  log "REPLICAOF: $r_secs s"
  r_cpu="-+$(cpu_delta "$src_cpu0" "$(server_cpu "$port_src")")"
  r_cpu+="+$(cpu_delta "$dst_cpu0" "$(server_cpu "$port_repl")")"
else
  log "REPLICAOF: the replica did not hold $keys keys within 30 minutes"
  failed=1
fi
cli "$port_repl" REPLICAOF NO ONE >/dev/null
[ -z "$r_secs" ] || check_copy REPLICAOF "$port_repl"

label="redis->redis $keys keys"
if [ -n "$m_secs" ] && [ -n "$r_secs" ]; then
  row "$label" "$m_secs s" "$r_secs s" "$(ratio "$m_secs" "$r_secs") (REPLICAOF)"
  row "  keys/s" "$(rate "$keys" "$m_secs")" "$(rate "$keys" "$r_secs")" ""
  row "  CPU s (client+source+target)" "$m_cpu" "$r_cpu" ""
else
  row "$label" "${m_secs:-failed}" "${r_secs:-failed}" "-"
fi
print_table
exit "$failed"
