#!/usr/bin/env bash
# megasync's rabbitmq -> rabbitmq relay beside RabbitMQ's own shovel plugin, on
# a RabbitMQ node this script starts (and stops) itself, in the same run.
# Measurements, not tests: nothing fails because a machine is slow; only a
# command that errors, or a target queue that does not end up with every
# message, makes it exit 1.
#
#   bench/messages.sh                         full size
#   BENCH_MSG_COUNT=20000 bench/messages.sh   quick
#
# Workload: BENCH_MSG_COUNT persistent messages of BENCH_MSG_BYTES each, each
# with a message-id and two headers, waiting in a durable queue; each tool
# moves them to another durable queue of the same node with the same
# guarantee (acked at the source only once the target confirmed them):
#   megasync  `megasync sync` of a messages job (batch_size 500, prefetch 5000)
#   shovel    a dynamic shovel, ack-mode on-confirm, prefetch-count 5000,
#             timed from its creation until the target queue holds every message
#
# Environment (all optional):
#   MEGASYNC_BIN         binary to measure (default build/release/megasync)
#   BENCH_MSG_COUNT      messages (default 200000, the issue's figure)
#   BENCH_MSG_BYTES      payload size (default 1024)
#   BENCH_MSG_PORT       the node's AMQP port (default 26673; it also takes
#                        the next two and PORT+7 .. PORT+17, and epmd BENCH_MSG_EPMD_PORT, default 26369)
#   BENCH_WORK           folder to work in (default: a new mktemp -d, removed at the end)
#   BENCH_KEEP=1         keep the work folder
#   BENCH_TABLE_ONLY=1   print the result lines without the table header (run.sh)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

count="${BENCH_MSG_COUNT:-200000}"
bytes="${BENCH_MSG_BYTES:-1024}"
port="${BENCH_MSG_PORT:-26673}"
epmd_port="${BENCH_MSG_EPMD_PORT:-26369}"
bin="${MEGASYNC_BIN:-build/release/megasync}"

failed=0
results=()
log() { echo "bench: messages: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

print_table() {
  if [ "${BENCH_TABLE_ONLY:-0}" != 1 ]; then
    echo
    printf '%-34s %-14s %-14s %s\n' workload megasync "baseline" "ratio (megasync speed / baseline speed)"
  fi
  if [ "${#results[@]}" -gt 0 ]; then printf '%s\n' "${results[@]}"; fi
}

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || ! /usr/bin/python3 -c 'import pika' 2>/dev/null; then
  log "no rabbitmq-server or python3-pika (scripts/install-deps.sh); skipped"
  row "rabbitmq -> rabbitmq" "skipped" "skipped" "no rabbitmq-server"
  print_table
  exit 0
fi
if [ ! -x "$bin" ]; then
  log "$bin missing; building it with 'make build'"
  make build
fi
[ -x "$bin" ] || { log "no executable at $bin"; exit 1; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

work="$(if [ -n "${BENCH_WORK:-}" ]; then echo "$BENCH_WORK/messages"; else mktemp -d; fi)"
mkdir -p "$work"
chmod 755 "$work"  # the node runs as the rabbitmq user when this runs as root
export MEGASYNC_SERVICES_DIR="$work/services" MEGASYNC_RABBITMQ_PORT="$port"
export MEGASYNC_RABBITMQ_DIST_PORT=$((port + 1)) MEGASYNC_RABBITMQ_MANAGEMENT_PORT=$((port + 2))
export MEGASYNC_RABBITMQ_EPMD_PORT="$epmd_port"
ctl() { "$repo/tests/services/rabbitmq-ctl.sh" "$@"; }
cleanup() {
  ctl stop >/dev/null 2>&1 || true
  if [ "${BENCH_KEEP:-0}" != 1 ] && [ -z "${BENCH_WORK:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
log "starting RabbitMQ on 127.0.0.1:$port (work: $work)"
ctl start >"$work/rabbitmq-start.log" 2>&1 || { cat "$work/rabbitmq-start.log" >&2; exit 1; }
user=megasync
password="${MEGASYNC_SERVICES_PASSWORD:-megasync-test-pw}"

# amqp ACTION ARGS: the small pika client of this script.
#   fill QUEUE        declares QUEUE (durable, emptied) and publishes the workload
#   declare QUEUE     declares QUEUE (durable, emptied)
#   wait QUEUE N      waits until QUEUE holds N messages; prints the seconds
#   count QUEUE       prints the messages QUEUE holds
amqp() {
  /usr/bin/python3 - "$port" "$user" "$password" "$count" "$bytes" "$@" <<'PY'
import sys, time
import pika
port, user, password, count, size, action, queue = sys.argv[1:8]
count, size = int(count), int(size)
conn = pika.BlockingConnection(pika.ConnectionParameters(
    "127.0.0.1", int(port), "/", pika.PlainCredentials(user, password)))
ch = conn.channel()
if action in ("fill", "declare"):
    ch.queue_delete(queue)
    ch.queue_declare(queue, durable=True)
if action == "fill":
    body = b"m" * size
    for i in range(count):
        ch.basic_publish("", queue, body, pika.BasicProperties(
            message_id=f"m-{i}", delivery_mode=2, content_type="application/octet-stream",
            headers={"n": str(i), "src": "bench"}))
    ch.confirm_delivery()  # a round trip: everything before it reached the broker
    ch.queue_declare(queue, passive=True)
elif action == "wait":
    want, t0 = int(sys.argv[8]), time.monotonic()
    while ch.queue_declare(queue, passive=True).method.message_count < want:
        if time.monotonic() - t0 > 1800:
            sys.exit("timed out")
        time.sleep(0.02)
    print(f"{time.monotonic() - t0:.3f}")
elif action == "count":
    print(ch.queue_declare(queue, passive=True).method.message_count)
conn.close()
PY
}

# --- megasync --------------------------------------------------------------
log "filling bench_in with $count messages of $bytes bytes"
amqp fill bench_in
amqp declare bench_out
cat >"$work/megasync.yaml" <<EOF
state:
  path: $work/state.db
endpoints:
  broker_in:
    type: rabbitmq
    port: $port
    user: $user
    password: $password
    queues: [bench_in]
    prefetch: 5000
  broker_out:
    type: rabbitmq
    port: $port
    user: $user
    password: $password
    routing_key: bench_out
jobs:
  relay:
    kind: messages
    source: broker_in
    targets: [broker_out]
    batch_size: 500
EOF
# A `sync` run ends once the source is caught up: no delivery pending and the
# queue reporting no ready message. Should a run still end early, the runs it
# takes until bench_out holds every message are timed together, and logged.
m_secs=""
m_total=0
for attempt in 1 2 3 4 5; do
  run_timed "megasync sync" "$work/megasync.log" "$bin" sync -c "$work/megasync.yaml" relay ||
    break
  m_total="$(awk -v a="$m_total" -v b="$secs" 'BEGIN { printf "%.3f", a + b }')"
  got="$(amqp count bench_out)"
  if [ "$got" -ge "$count" ]; then
    m_secs="$m_total"
    [ "$attempt" = 1 ] || log "megasync: $attempt sync runs to relay every message"
    break
  fi
done
got="$(amqp count bench_out)"
if [ "$got" -lt "$count" ]; then
  log "megasync: bench_out holds $got of $count messages"
  failed=1
fi

# --- shovel ----------------------------------------------------------------
log "filling shovel_in with $count messages of $bytes bytes"
amqp fill shovel_in
amqp declare shovel_out
uri="amqp://$user:$password@127.0.0.1:$port"
t0="$(now)"
ctl ctl set_parameter shovel bench "{\"src-protocol\":\"amqp091\",\"src-uri\":\"$uri\",\
\"src-queue\":\"shovel_in\",\"dest-protocol\":\"amqp091\",\"dest-uri\":\"$uri\",\
\"dest-queue\":\"shovel_out\",\"ack-mode\":\"on-confirm\",\"src-prefetch-count\":5000,\
\"src-delete-after\":\"never\"}" >"$work/shovel.log" 2>&1 || { cat "$work/shovel.log" >&2; failed=1; }
s_secs=""
if amqp wait shovel_out "$count" >"$work/shovel-wait.log" 2>&1; then
  s_secs="$(elapsed "$t0" "$(now)")"
  log "shovel: $s_secs s"
else
  cat "$work/shovel-wait.log" >&2
  failed=1
fi
ctl ctl clear_parameter shovel bench >>"$work/shovel.log" 2>&1 || true

if [ -n "$m_secs" ] && [ -n "$s_secs" ]; then
  row "rabbitmq -> rabbitmq ($count x ${bytes} B)" "$(rate "$count" "$m_secs")/s" \
    "$(rate "$count" "$s_secs")/s" "$(ratio "$m_secs" "$s_secs") (shovel)"
fi
print_table
exit "$failed"
