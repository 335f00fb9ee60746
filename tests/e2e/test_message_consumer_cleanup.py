"""A messages job removed from the configuration leaves what its source keeps
at the broker: a Redis consumer group (with its pending entries) on each
stream, a JetStream durable consumer. The daemon reports it
(source.slot_orphaned, naming the group or consumer) and keeps it; started
with `--drop-slots` it deletes it (source.slot_dropped) and forgets the job's
checkpoints. A `group` or `durable` named in the configuration is the user's
and is never reported or deleted."""

import json
import os
import unittest
import urllib.request

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

DB = 6  # the Redis database these tests use (flushed)
TIMEOUT = 60.0


class ConsumerCleanupTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.suffix = os.path.basename(self.tmp).replace("-", "_").replace(".", "_")
        self.job = f"gone_{self.suffix}"

    def config(self, source: str, port: int = 0, with_job: bool = True) -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        job = f"""\
  {self.job}:
    kind: messages
    source: src
    targets: [dst]
    interval: 1h
""" if with_job else ""
        # A job that stays, so the file is never without jobs.
        return f"""\
state:
  path: state.db
{api}endpoints:
{source}{self.target()}  files_in:
    type: fs
    path: in
    create: true
  files_out:
    type: fs
    path: out
    create: true
jobs:
{job}  stays:
    kind: storage
    source: files_in
    target: files_out
    interval: 1h
"""

    def target(self) -> str:
        raise NotImplementedError

    def first_sync(self, source: str) -> None:
        path = os.path.join(self.tmp, "megasync.yaml")
        with open(path, "w") as f:
            f.write(self.config(source))
        self.assert_exit(run_cli(["sync", "-c", path, self.job], cwd=self.tmp, timeout=120),
                         EXIT_OK)

    def events_of(self, daemon, kind: str) -> list:
        return [e for e in daemon.events() if e["type"] == kind and e["job"] == self.job]

    def checkpoints(self, daemon) -> int:
        return self.state_db(daemon).execute("SELECT count(*) FROM checkpoints WHERE job = ?",
                                             (self.job,)).fetchone()[0]

    def reported_then_dropped(self, source: str, kept, name: str) -> None:
        """`kept()` is true while the broker keeps the job's `name`."""
        self.first_sync(source)
        self.assertTrue(kept())
        d = self.start_daemon(lambda port: self.config(source, port, with_job=False))
        # (Another endpoint on the same server may report it too.)
        orphaned = wait_for(lambda: [e for e in self.events_of(d, "source.slot_orphaned")
                                     if e["endpoint"] == "src"], TIMEOUT,
                            "a source.slot_orphaned event of endpoint src", interval=0.2)
        self.assertIn(name, " ".join(orphaned[0]["data"]["retained"]))
        self.assertIn("--drop-slots", d.stderr())
        self.assertTrue(kept())  # reported, not deleted
        self.assertGreater(self.checkpoints(d), 0)
        self.assertEqual(d.stop(), EXIT_OK)

        d = self.start_daemon(lambda port: self.config(source, port, with_job=False),
                              args=["--drop-slots"])
        dropped = wait_for(lambda: self.events_of(d, "source.slot_dropped"), TIMEOUT,
                           "a source.slot_dropped event", interval=0.2)
        self.assertIn(name, " ".join(x for e in dropped for x in e["data"]["dropped"]))
        self.assertFalse(kept())
        wait_for(lambda: self.checkpoints(d) == 0, 30, "the job's checkpoints forgotten",
                 interval=0.2)
        self.assertEqual(d.stop(), EXIT_OK)
        self.assert_no_sanitizer_report(d)

    def never_reported(self, source: str, kept) -> None:
        self.first_sync(source)
        self.assertTrue(kept())
        d = self.start_daemon(lambda port: self.config(source, port, with_job=False),
                              args=["--drop-slots"])
        # The daemon forgets the job's checkpoints once it looked at every
        # endpoint: by then it would have dropped the consumer.
        wait_for(lambda: self.checkpoints(d) == 0, TIMEOUT, "the job's checkpoints forgotten",
                 interval=0.2)
        self.assertEqual(self.events_of(d, "source.slot_dropped"), [])
        self.assertTrue(kept())
        self.assertEqual(d.stop(), EXIT_OK)


class RedisStreamsCleanupTest(ConsumerCleanupTest):

    def setUp(self) -> None:
        super().setUp()
        self.redis = services.Redis(services.redis_a(), DB)
        self.addCleanup(self.redis.close)
        self.redis.call("FLUSHDB")
        self.addCleanup(self.redis.call, "FLUSHDB")
        for stream in ("orders:1", "orders:2"):
            self.redis.call("XADD", stream, "*", "payload", "x")

    def source(self, group: str = "") -> str:
        line = f"    group: {group}\n" if group else ""
        return (f"  src:\n    type: redis_streams\n    url: \"{services.redis_a().url}/{DB}\"\n"
                f"    streams: [\"orders:*\"]\n{line}")

    def target(self) -> str:
        return (f"  dst:\n    type: redis_streams\n    url: \"{services.redis_a().url}/{DB}\"\n"
                f"    stream: \"copy-{{topic}}\"\n")

    def groups(self, stream: str) -> list:
        return [dict(zip(g[::2], g[1::2]))[b"name"].decode()
                for g in self.redis.call("XINFO", "GROUPS", stream)]

    def test_the_jobs_group_is_reported_then_destroyed_with_the_flag(self):
        group = f"megasync-{self.job}"
        self.reported_then_dropped(
            self.source(),
            lambda: all(group in self.groups(s) for s in ("orders:1", "orders:2")), group)
        self.assertEqual(self.groups("orders:1") + self.groups("orders:2"), [])

    def test_a_configured_group_is_the_users(self):
        self.never_reported(self.source("shared"),
                            lambda: self.groups("orders:1") == ["shared"])


class NatsCleanupTest(ConsumerCleanupTest):

    def setUp(self) -> None:
        super().setUp()
        self.nats = services.Nats()
        self.stream = f"CLEAN_{self.suffix}"
        self.nats.add_stream(self.stream, f"clean_{self.suffix}.>")
        self.addCleanup(self.nats.delete_stream, self.stream)
        self.nats.publish([(f"clean_{self.suffix}.a", "m-1", b"x", ())])

    def source(self, durable: str = "") -> str:
        line = f"    durable: {durable}\n" if durable else ""
        return (f"  src:\n    type: nats\n    url: {self.nats.url}\n"
                f"    stream: {self.stream}\n{line}")

    def target(self) -> str:
        return (f"  dst:\n    type: nats\n    url: {self.nats.url}\n    jetstream: false\n"
                f"    subject: \"copied_{self.suffix}.{{topic.1}}\"\n")

    def consumers(self) -> list:
        port = os.environ.get("MEGASYNC_NATS_MONITOR_PORT", "28222")
        url = f"http://127.0.0.1:{port}/jsz?accounts=true&streams=true&consumers=true"
        with urllib.request.urlopen(url, timeout=10) as response:
            jsz = json.load(response)
        return [c["name"]
                for account in jsz.get("account_details", [])
                for stream in account.get("stream_detail", []) if stream["name"] == self.stream
                for c in stream.get("consumer_detail", [])]

    def test_the_jobs_durable_is_reported_then_deleted_with_the_flag(self):
        durable = f"megasync-{self.job}"
        self.reported_then_dropped(self.source(), lambda: durable in self.consumers(), durable)

    def test_a_configured_durable_is_the_users(self):
        self.never_reported(self.source(f"mine_{self.suffix}"),
                            lambda: self.consumers() == [f"mine_{self.suffix}"])


if __name__ == "__main__":
    unittest.main()
