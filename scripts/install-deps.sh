#!/usr/bin/env bash
# Installs what megasync needs to build, run and test on Debian 12, from
# Debian's packages. Idempotent: installs only what is missing; uses sudo when
# not root. Called by the Makefile before every build.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config make git python3
  # libraries
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcpp-httplib-dev libcli11-dev libexpected-dev
  nlohmann-json3-dev libsqlite3-dev libssl-dev libxxhash-dev libcurl4-openssl-dev
  libjemalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev sqlite3 rsync
  # test servers and their clients/libraries (started by tests/services/start.sh)
  postgresql-15 postgresql-client-15 libpq-dev mariadb-server mariadb-client libmariadb-dev
  # object store emulators (s3rver, Azurite: pinned in tests/services/package.json) and
  # the reference client the S3 tests compare against
  nodejs rclone
  # Redis servers for the cache tests, and the client library the connector links
  redis-server redis-tools libhiredis-dev
  # NATS server (JetStream) for the message tests, and the client library (cnats) the
  # connector and tests/tools/nats-tool link
  nats-server libnats-dev
  # RabbitMQ for the message tests, the client library the connector links, and
  # the AMQP client the tests publish and consume with
  rabbitmq-server librabbitmq-dev python3-pika
  # Mosquitto (MQTT broker) for the message tests, its command-line clients, the
  # client library the connector links, and the MQTT client the tests use
  mosquitto mosquitto-clients libmosquitto-dev python3-paho-mqtt
  # Kafka client library (its mock cluster serves the tests: Debian has no Kafka broker)
  librdkafka-dev
)

# Debian's nodejs comes without npm; some Node builds bundle it (and conflict with
# Debian's npm package): ask for npm only when there is none.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
