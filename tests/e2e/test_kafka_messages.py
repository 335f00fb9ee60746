"""The kafka connector against librdkafka's mock cluster (started by the test
through kafka-tool: Debian has no Kafka broker): topic -> topic with keys,
binary payloads and headers intact; Kafka -> RabbitMQ (a real broker,
tests/services); and kill -9 of a streaming job under a steady producer, with
every message id at the target afterwards (duplicates counted, none lost).

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sys
import threading
import time
import unittest

import kafka_helpers as kh
import rabbitmq_helpers as rh
import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

TIMEOUT = 90.0
KILLS = 6
# Seconds after the daemon answered /readyz: long enough, at times, for the
# group to give a restarted daemon the partitions of the killed one (the
# source's session timeout is 10 s) and for batches to flow before the kill.
KILL_DELAY = (2.0, 12.0)


class KafkaMessagesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.mock = kh.MockCluster()
        self.addCleanup(self.mock.close)

    def kafka_endpoint(self, name: str, extra: str) -> str:
        return (f"  {name}:\n    type: kafka\n    bootstrap_servers: {self.mock.bootstrap}\n"
                f"{extra}")

    def write_config(self, endpoints: str, source: str, target: str) -> str:
        path = os.path.join(self.tmp, "kafka.yaml")
        with open(path, "w") as f:
            f.write("state:\n  path: state.db\nendpoints:\n" + endpoints +
                    f"jobs:\n  bridge:\n    kind: messages\n    source: {source}\n"
                    f"    targets: [{target}]\n    batch_size: 25\n")
        return path

    def sync(self, config: str) -> None:
        result = run_cli(["sync", "-c", config, "bridge"], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)

    def sent_messages(self, n: int, prefix: str):
        sent = []
        for i in range(n):
            payload = bytes([i, 0, 255, 10, 9]) + os.urandom(16)
            sent.append((f"k{i % 5}", f"{prefix}-{i}", payload, {"region": "eu", "n": str(i)}))
        return sent

    def test_topic_to_topic(self):
        sent = self.sent_messages(60, "t")
        kh.produce(self.mock.bootstrap, "orders", sent)
        config = self.write_config(
            self.kafka_endpoint("src", "    topics: [orders]\n") +
            self.kafka_endpoint("dst", "    topic: \"copy-{topic}\"\n"), "src", "dst")
        self.sync(config)
        got = {r.header("message-id"): r for r in kh.consume(self.mock.bootstrap, "copy-orders",
                                                             len(sent))}
        self.assertEqual(set(got), {m[1] for m in sent})
        for key, mid, payload, headers in sent:
            self.assertEqual(got[mid].key, key, mid)
            self.assertEqual(got[mid].payload, payload, mid)
            for name, value in headers.items():
                self.assertEqual(got[mid].header(name), value, (mid, name))
        # Committed once the target confirmed: a second run has nothing to copy.
        self.sync(config)
        self.assertEqual(len(kh.consume(self.mock.bootstrap, "copy-orders", 1000, 2000)),
                         len(sent))

    def test_kafka_to_rabbitmq(self):
        rabbit = services.rabbitmq()
        suffix = os.path.basename(self.tmp).replace("-", "_").replace(".", "_")
        queue = f"ms_kafka_{suffix}"
        conn = services.amqp_connect(rabbit)
        self.addCleanup(lambda: conn.is_open and conn.close())
        ch = conn.channel()
        rh.declare(ch, queue)
        self.addCleanup(lambda: ch.is_open and ch.queue_delete(queue))
        sent = self.sent_messages(40, "r")
        kh.produce(self.mock.bootstrap, "events", sent)
        endpoints = (self.kafka_endpoint("src", "    topics: [\"^ev.*\"]\n") +
                     f"  rabbit:\n    type: rabbitmq\n    host: {rabbit.host}\n"
                     f"    port: {rabbit.port}\n    user: {rabbit.user}\n"
                     f"    password: {rabbit.password}\n    routing_key: {queue}\n")
        self.sync(self.write_config(endpoints, "src", "rabbit"))
        got = {props.message_id: (props, body) for _, props, body in rh.drain(rabbit, queue)}
        self.assertEqual(set(got), {m[1] for m in sent})
        for key, mid, payload, headers in sent:
            props, body = got[mid]
            self.assertEqual(body, payload, mid)
            for name, value in headers.items():
                self.assertEqual(str(props.headers.get(name)), value, (mid, name))

    def test_kill_9_under_load_loses_nothing(self):
        seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nkafka crash test seed: {seed}", file=sys.stderr)
        rng = random.Random(seed)
        published = []
        stop = threading.Event()

        def producer() -> None:
            n = 0
            while not stop.is_set():
                batch = [("", f"c-{n + i}", f"c-{n + i}".encode() * 8, {"n": str(n + i)})
                         for i in range(50)]
                kh.produce(self.mock.bootstrap, "crash_in", batch)
                published.extend(m[1] for m in batch)
                n += len(batch)

        def config(port: int) -> str:
            return (f"state:\n  path: state.db\napi:\n  listen: 127.0.0.1:{port}\nendpoints:\n" +
                    self.kafka_endpoint("src", "    topics: [crash_in]\n") +
                    self.kafka_endpoint("dst", "    topic: crash_out\n") +
                    "jobs:\n  crash:\n    kind: messages\n    source: src\n    targets: [dst]\n"
                    "    stream: true\n    interval: 30s\n    timeout: 10m\n    batch_size: 100\n")

        kh.produce(self.mock.bootstrap, "crash_in", [("", "first", b"x", {})])
        published.append("first")
        thread = threading.Thread(target=producer)
        self.kill_under_load(config, thread, stop, KILLS, KILL_DELAY, rng)
        before = len(kh.consume(self.mock.bootstrap, "crash_out", 10**6, 2000))
        daemon = self.start_daemon(config)
        expected = set(published)
        counts = {}

        def has_all() -> bool:
            counts.clear()
            for r in kh.consume(self.mock.bootstrap, "crash_out", 10**6, 2000):
                mid = r.header("message-id")
                counts[mid] = counts.get(mid, 0) + 1
            return expected <= set(counts)

        try:
            wait_for(has_all, 180.0, "every produced message id at the target topic")
        except AssertionError:
            missing = sorted(expected - set(counts), key=lambda m: (len(m), m))
            print(f"kafka crash test: {len(missing)} missing, e.g. {missing[:10]}\n"
                  f"daemon log:\n{daemon.stderr()[-4000:]}", file=sys.stderr)
            raise
        duplicates = sum(counts.values()) - len(counts)
        print(f"kafka crash test: {len(expected)} produced, {duplicates} duplicates, "
              f"{KILLS} kills, {before} at the target before the last start", file=sys.stderr)
        self.assertEqual(set(counts), expected)
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


if __name__ == "__main__":
    unittest.main()
