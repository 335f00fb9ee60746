"""The redis_streams connector against the real Redis servers (redis-a the
source, redis-b the target) and NATS: stream -> stream with binary payloads,
keys and header fields intact; `megasync run` killed with SIGKILL under a
steady producer, restarted each time, losing nothing (the consumer's pending
entries are read again); Redis Streams -> NATS JetStream (issue 6's pair).
The conversions are in src/connectors/redis_streams/README.md.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import collections
import os
import random
import sys
import threading
import time
import unittest

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

DB = 4  # the databases these tests use on both servers (flushed)
KILLS = 5
KILL_DELAY = (0.5, 2.5)  # seconds after the daemon answered /readyz
TIMEOUT = 120.0


def fields_of(flat):
    """[f1, v1, f2, v2] -> {f1: v1, f2: v2} (bytes)."""
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


class RedisStreamsTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.a = services.redis_a()
        self.b = services.redis_b()
        self.src = services.Redis(self.a, DB)
        self.dst = services.Redis(self.b, DB)
        self.addCleanup(self.src.close)
        self.addCleanup(self.dst.close)
        for r in (self.src, self.dst):
            r.call("FLUSHDB")
            self.addCleanup(r.call, "FLUSHDB")

    def endpoint(self, name: str, server, extra: str) -> str:
        return (f"  {name}:\n    type: redis_streams\n    url: \"{server.url}/{DB}\"\n{extra}")

    def config(self, endpoints: str, target: str, daemon: bool = False, port: int = 0) -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        run = "    stream: true\n    interval: 1s\n" if daemon else ""
        return (f"state:\n  path: state.db\n{api}endpoints:\n{endpoints}"
                f"jobs:\n  bridge:\n    kind: messages\n    source: src\n"
                f"    targets: [{target}]\n    batch_size: 50\n{run}")

    def sync(self, text: str) -> None:
        path = os.path.join(self.tmp, "bridge.yaml")
        with open(path, "w") as f:
            f.write(text)
        result = run_cli(["sync", "-c", path, "bridge"], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)

    def pending(self, stream: str) -> int:
        return self.src.call("XPENDING", stream, "megasync-bridge")[0]

    def test_stream_to_stream(self):
        sent = {}
        for i in range(60):
            payload = bytes([i, 0, 255, 10, 13]) + os.urandom(12) + b"\x00"
            entry = self.src.call("XADD", "orders", "*", "payload", payload, "key", f"k{i % 7}",
                                  "region", "eu", "n", str(i))
            sent[b"orders:" + entry] = (payload, f"k{i % 7}".encode(), str(i).encode())
        endpoints = (self.endpoint("src", self.a, "    streams: [orders]\n") +
                     self.endpoint("dst", self.b, "    stream: \"copy-{topic}\"\n"))
        self.sync(self.config(endpoints, "dst"))
        got = {}
        for _, flat in self.dst.call("XRANGE", "copy-orders", "-", "+"):
            fields = fields_of(flat)
            self.assertNotIn(fields[b"id"], got, "a duplicate in one clean run")
            got[fields[b"id"]] = fields
        self.assertEqual(set(got), set(sent))
        for mid, (payload, key, n) in sent.items():
            self.assertEqual(got[mid][b"payload"], payload, mid)
            self.assertEqual(got[mid][b"key"], key, mid)
            self.assertEqual(got[mid][b"region"], b"eu", mid)
            self.assertEqual(got[mid][b"n"], n, mid)
        # Acked once the target confirmed: nothing pending in the group.
        self.assertEqual(self.pending("orders"), 0)
        # A second run reads nothing new.
        self.sync(self.config(endpoints, "dst"))
        self.assertEqual(self.dst.call("XLEN", "copy-orders"), len(sent))

    def producer(self, stop: threading.Event, produced: list) -> None:
        with services.Redis(self.a, DB) as r:
            i = 0
            while not stop.is_set():
                commands = [("XADD", "events", "*", "mid", f"m-{i + j}", "payload",
                             bytes([j, 0, 255]) + str(i + j).encode()) for j in range(20)]
                r.pipeline(commands)
                produced.extend(f"m-{i + j}" for j in range(20))
                i += 20
                time.sleep(0.02)

    def test_kill_9_loses_nothing(self):
        seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nredis streams crash test seed: {seed}", file=sys.stderr)
        rng = random.Random(seed)
        endpoints = (self.endpoint("src", self.a, "    streams: [events]\n    id_field: mid\n") +
                     self.endpoint("dst", self.b, "    stream: \"copy-{topic}\"\n"))

        def text(port: int = 0) -> str:
            return self.config(endpoints, "dst", daemon=True, port=port)

        stop = threading.Event()
        produced: list = []
        thread = threading.Thread(target=self.producer, args=(stop, produced))
        self.kill_under_load(text, thread, stop, KILLS, KILL_DELAY, rng)
        expected = set(produced)
        daemon = self.start_daemon(text)

        def ids():
            return collections.Counter(
                fields_of(flat)[b"id"].decode()
                for _, flat in self.dst.call("XRANGE", "copy-events", "-", "+"))
        wait_for(lambda: expected <= set(ids()), TIMEOUT, "every produced id at the target")
        wait_for(lambda: self.pending("events") == 0, TIMEOUT, "no entry left pending")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)
        counts = ids()
        self.assertEqual(set(counts), expected)
        duplicates = sum(c - 1 for c in counts.values())
        print(f"redis streams crash test: {len(expected)} messages, {duplicates} duplicates",
              file=sys.stderr)

    def test_redis_streams_to_nats(self):
        nats = services.Nats()
        suffix = os.path.basename(self.tmp).replace("-", "_").replace(".", "_")
        sent = {}
        for i in range(40):
            payload = bytes([i, 0, 13, 255]) + f"redis {i}".encode()
            entry = self.src.call("XADD", "rs.orders", "*", "payload", payload, "key", f"k{i}",
                                  "X-Index", str(i))
            sent["rs.orders:" + entry.decode()] = (payload, str(i))
        stream = f"RS_{suffix}"
        self.addCleanup(nats.delete_stream, stream)
        endpoints = (self.endpoint("src", self.a, "    streams: [\"rs.*\"]\n") +
                     f"  jet:\n    type: nats\n    url: {nats.url}\n"
                     f"    subject: \"out_{suffix}.{{topic}}\"\n    stream: {stream}\n"
                     f"    create_stream:\n      subjects: [\"out_{suffix}.>\"]\n")
        self.sync(self.config(endpoints, "jet"))
        got = {}
        for m in nats.dump(stream):
            self.assertEqual(m.subject, f"out_{suffix}.rs.orders")
            got[m.header("Nats-Msg-Id")] = m
        self.assertEqual(set(got), set(sent))
        for mid, (payload, index) in sent.items():
            self.assertEqual(got[mid].payload, payload, mid)
            self.assertEqual(got[mid].header("X-Index"), index, mid)
        self.assertEqual(self.pending("rs.orders"), 0)


if __name__ == "__main__":
    unittest.main()
