"""The redis connector between two real Redis 7 servers (tests/services):
a `cache` job copies every data type with its expiry (snapshot, then keyspace
notifications), maps database 0 to databases 3 and 4 of the other server
(two targets), keeps the index of several databases, honours include/exclude
globs, propagates deletes and
expirations, resumes after a target outage by copying only the keys that
differ, and `megasync verify` names missing, extra and differing keys. With
notifications off and configure_notifications: false, a run fails saying what
to set."""

import json
import os
import time
import unittest

import services
from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli, wait_for

SYNC_TIMEOUT = 60.0
SOURCE_DB = 0
TARGET_DBS = (3, 4)


def populate(r: services.Redis, prefix: str) -> None:
    """One key of each type under `prefix`, small and large encodings, with
    and without expiry."""
    far = int(time.time() * 1000) + 3_600_000
    r.pipeline([
        ("SET", f"{prefix}:str", "hello"),
        ("SET", f"{prefix}:bin", b"\x00\xff\r\n binary"),
        ("SET", f"{prefix}:num", 42),
        ("HSET", f"{prefix}:hash", "f1", "v1", "f2", "v2"),
        ("HSET", f"{prefix}:bighash", *[x for i in range(300) for x in (f"f{i}", f"v{i}")]),
        ("RPUSH", f"{prefix}:list", "a", "b", "c"),
        ("SADD", f"{prefix}:set", "x", "y", "z"),
        ("SADD", f"{prefix}:intset", 1, 2, 3),
        ("SADD", f"{prefix}:bigset", *range(300)),
        ("ZADD", f"{prefix}:zset", 1, "a", 2.5, "b"),
        ("ZADD", f"{prefix}:bigzset", *[x for i in range(300) for x in (i, f"m{i}")]),
        ("XADD", f"{prefix}:stream", "*", "field", "one"),
        ("XADD", f"{prefix}:stream", "*", "field", "two"),
        ("SET", f"{prefix}:ttl", "expires later"),
        ("PEXPIREAT", f"{prefix}:ttl", far),
        ("HSET", f"{prefix}:hash_ttl", "f", "v"),
        ("PEXPIREAT", f"{prefix}:hash_ttl", far + 1),
    ])


class RedisSyncTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.a = services.redis_a()
        self.b = services.redis_b()
        self.src = services.Redis(self.a, SOURCE_DB)
        self.addCleanup(self.src.close)
        self.targets = {db: services.Redis(self.b, db) for db in TARGET_DBS}
        for t in self.targets.values():
            self.addCleanup(t.close)
        self.flush()
        self.addCleanup(self.flush)
        # megasync turns keyspace notifications on itself.
        self.src.call("CONFIG", "SET", "notify-keyspace-events", "")
        self.job = "cache_job"
        self.config = os.path.join(self.tmp, "megasync.yaml")

    def flush(self) -> None:
        with services.Redis(self.a, SOURCE_DB) as r:
            r.call("FLUSHDB")
        for db in TARGET_DBS:
            with services.Redis(self.b, db) as r:
                r.call("FLUSHDB")

    def config_text(self, port: int = 0, stream: bool = False, targets=TARGET_DBS) -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        names = ", ".join(f"replica_{db}" for db in targets)
        replicas = "".join(f"""\
  replica_{db}:
    type: redis
    url: "{self.b.url}"
    db: {db}
""" for db in targets)
        mode = "    stream: true\n    interval: 3s\n    timeout: 1m\n" if stream else ""
        return f"""\
state:
  path: state.db
{api}endpoints:
  cache_a:
    type: redis
    url: "{self.a.url}/{SOURCE_DB}"
    include: ["app:*", "cart:*"]
    exclude: ["app:tmp:*"]
{replicas}jobs:
  {self.job}:
    kind: cache
    source: cache_a
    targets: [{names}]
    verify_interval: 1s
{mode}"""

    def write_config(self, **kwargs) -> None:
        with open(self.config, "w") as f:
            f.write(self.config_text(**kwargs))

    def expected(self) -> dict:
        """The source's keys the job syncs (include app:*, cart:*; exclude app:tmp:*)."""
        state = self.src.state()
        return {k: v for k, v in state.items()
                if (k.startswith(b"app:") or k.startswith(b"cart:"))
                and not k.startswith(b"app:tmp:")}

    def wait_equal(self, dbs=TARGET_DBS, timeout: float = SYNC_TIMEOUT) -> None:
        def equal():
            want = self.expected()
            return all(self.targets[db].state() == want for db in dbs)
        wait_for(equal, timeout, "the targets equal the source")

    def sync(self, expect: int = EXIT_OK):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, expect)
        return result

    def verify_json(self, expect: int) -> dict:
        result = run_cli(["verify", "-c", self.config, self.job, "--json"], cwd=self.tmp,
                         timeout=300)
        self.assert_exit(result, expect)
        return json.loads(result.stdout)

    def test_types_ttls_deletes_and_expiry_in_snapshot_and_stream(self):
        populate(self.src, "app")
        self.src.pipeline([("SET", "app:tmp:1", "excluded"), ("SET", "other:1", "not included"),
                           ("SET", "cart:1", "included too")])
        daemon = self.start_daemon(lambda port: self.config_text(port, stream=True))
        self.wait_equal()
        self.assertEqual(self.src.call("CONFIG", "GET", "notify-keyspace-events")[1].count(b"K"), 1)
        t3 = self.targets[3]
        self.assertEqual(t3.call("GET", "app:bin"), b"\x00\xff\r\n binary")
        self.assertEqual(t3.call("XLEN", "app:stream"), 2)
        self.assertEqual(t3.call("SCARD", "app:bigset"), 300)
        self.assertGreater(t3.call("PEXPIRETIME", "app:ttl"), 0)
        self.assertEqual(t3.call("PEXPIRETIME", "app:ttl"),
                         self.src.call("PEXPIRETIME", "app:ttl"))
        self.assertIsNone(t3.call("GET", "app:tmp:1"))
        self.assertIsNone(t3.call("GET", "other:1"))

        # The stream: new keys of every type, changes, deletes, expiry changes.
        populate(self.src, "app:new")
        soon = int(time.time() * 1000) + 1500
        self.src.pipeline([
            ("HSET", "app:hash", "f3", "v3"),
            ("LPUSH", "app:list", "first"),
            ("ZINCRBY", "app:zset", 10, "a"),
            ("XADD", "app:stream", "*", "field", "three"),
            ("SREM", "app:bigset", 7),
            ("DEL", "app:str"),
            ("PERSIST", "app:hash_ttl"),
            ("SET", "app:short", "gone soon"),
            ("PEXPIREAT", "app:short", soon),
            ("SET", "app:tmp:2", "excluded"),
        ])
        self.wait_equal()
        self.assertEqual(t3.call("PEXPIRETIME", "app:hash_ttl"), -1)
        self.assertIsNone(t3.call("GET", "app:str"))
        # An expired key disappears at the targets, and stays gone.
        wait_for(lambda: self.src.call("EXISTS", "app:short") == 0, SYNC_TIMEOUT,
                 "app:short expired at the source")
        wait_for(lambda: all(t.call("EXISTS", "app:short") == 0
                             for t in self.targets.values()), SYNC_TIMEOUT,
                 "app:short gone at the targets")
        self.wait_equal()
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

        with open(self.config, "w") as f:
            f.write(self.config_text())
        doc = self.verify_json(EXIT_OK)
        self.assertTrue(doc["equal"])
        coll = doc["targets"]["replica_3"]["collections"]["db0"]
        self.assertEqual(coll["method"], "server")
        self.assertEqual(coll["source_rows_read"], 0)

        # Differences at one target: named by kind.
        t3.pipeline([("DEL", "app:list"), ("SET", "app:extra", "x"), ("HSET", "app:hash", "f1", "changed"),
                     ("PEXPIREAT", "app:set", int(time.time() * 1000) + 7_200_000)])
        doc = self.verify_json(EXIT_FAILED)
        self.assertTrue(doc["targets"]["replica_4"]["equal"])
        coll = doc["targets"]["replica_3"]["collections"]["db0"]
        self.assertEqual(coll["missing_keys"], ["['app:list']"])
        self.assertEqual(coll["extra_keys"], ["['app:extra']"])
        self.assertEqual(sorted(coll["differ_keys"]), ["['app:hash']", "['app:set']"])
        self.assertLess(coll["source_rows_read"], 50)

        repaired = run_cli(["verify", "-c", self.config, self.job, "--repair"], cwd=self.tmp,
                           timeout=300)
        self.assert_exit(repaired, EXIT_OK)
        self.wait_equal(timeout=5)

    def test_target_outage_converges_without_full_resync(self):
        self.write_config(targets=(3,))
        pipe = [("SET", f"app:k{i}", f"value {i}") for i in range(2000)]
        self.src.pipeline(pipe)
        populate(self.src, "app:types")
        self.sync()
        self.wait_equal(dbs=(3,), timeout=5)

        # redis-b goes away with its data saved, and comes back with it.
        self.targets[3].call("SAVE")
        self.targets[3].close()
        services.redis_ctl("redis-b", "stop")
        started = False

        def restart():
            if not started:
                services.redis_ctl("redis-b", "start")
        self.addCleanup(restart)
        self.src.pipeline([("SET", f"app:k{i}", "changed") for i in range(10)] +
                          [("DEL", f"app:k{i}") for i in range(10, 13)] +
                          [("SET", "app:added1", "1"), ("SET", "app:added2", "2"),
                           ("HSET", "app:types:hash", "f9", "v9")])
        self.sync(expect=EXIT_FAILED)
        services.redis_ctl("redis-b", "start")
        started = True
        self.targets[3] = services.Redis(self.b, 3)
        self.addCleanup(self.targets[3].close)
        self.assertEqual(self.targets[3].call("DBSIZE"), 2000 + 14)  # the saved copy

        # The resumed run reads no snapshot; the comparison after it copies
        # the 16 keys that differ, not 2014.
        result = self.sync()
        self.assertIn("applied 16 change(s)", result.stderr)
        self.wait_equal(dbs=(3,), timeout=5)

    def test_several_databases_keep_their_index(self):
        dbs = (7, 8)
        conns = {}
        for db in dbs:
            for server in (self.a, self.b):
                r = services.Redis(server, db)
                r.call("FLUSHDB")
                self.addCleanup(r.close)
                self.addCleanup(r.call, "FLUSHDB")
                conns[(server.name, db)] = r
            populate(conns[(self.a.name, db)], f"db{db}")
        with open(self.config, "w") as f:
            f.write(f"""\
state:
  path: state.db
endpoints:
  source:
    type: redis
    url: "{self.a.url}"
    databases: ["7", "8"]
  replica:
    type: redis
    url: "{self.b.url}"
jobs:
  {self.job}:
    kind: cache
    source: source
    targets: [replica]
    tables: [db7, db8]
""")
        self.sync()
        for db in dbs:
            self.assertEqual(conns[(self.b.name, db)].state(), conns[(self.a.name, db)].state())
            self.assertGreater(len(conns[(self.b.name, db)].state()), 10)
        doc = self.verify_json(EXIT_OK)
        self.assertEqual(sorted(doc["targets"]["replica"]["collections"]), ["db7", "db8"])

    def test_notifications_off_and_not_allowed_to_turn_on(self):
        self.write_config(targets=(3,))
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace('    exclude: ["app:tmp:*"]\n',
                                 '    exclude: ["app:tmp:*"]\n    configure_notifications: false\n'))
        result = self.sync(expect=EXIT_FAILED)
        self.assertIn("notify-keyspace-events KA", result.stderr)
        self.assertEqual(self.src.call("CONFIG", "GET", "notify-keyspace-events")[1], b"")


if __name__ == "__main__":
    unittest.main()
