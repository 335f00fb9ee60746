"""Crash safety of the nats connector: while a publisher keeps adding
messages to stream SRC (each with its own Nats-Msg-Id), `megasync run` (a
streaming `messages` job to stream DST) is killed with SIGKILL at 10 random
moments and restarted each time; afterwards every published id is at the
target. Messages fetched and not acked when a kill came are redelivered after
ack_wait (5 s here); the target's duplicate window drops the copies, and any
duplicate that still got through is counted and reported, not a failure.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sys
import threading
import time
import unittest

import services
from megasync_harness import DaemonTestCase, wait_for

KILLS = 10
KILL_DELAY = (0.3, 2.5)  # seconds after the daemon answered /readyz
CONVERGE_TIMEOUT = 180.0


class NatsCrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.nats = services.Nats()
        suffix = os.path.basename(self.tmp).replace("-", "_").replace(".", "_")
        self.src = f"CSRC_{suffix}"
        self.dst = f"CDST_{suffix}"
        self.in_prefix = f"cin_{suffix}"
        self.out_prefix = f"cout_{suffix}"
        self.nats.add_stream(self.src, f"{self.in_prefix}.>")
        self.addCleanup(self.nats.delete_stream, self.src)
        self.addCleanup(self.nats.delete_stream, self.dst)
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nnats crash test seed: {self.seed}", file=sys.stderr)
        self.rng = random.Random(self.seed)

    def config(self, port: int) -> str:
        return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
endpoints:
  source:
    type: nats
    url: {self.nats.url}
    stream: {self.src}
    ack_wait: 5s
  copy:
    type: nats
    url: {self.nats.url}
    subject: "{self.out_prefix}.{{topic.1}}"
    stream: {self.dst}
    create_stream:
      subjects: ["{self.out_prefix}.>"]
jobs:
  bridge:
    kind: messages
    source: source
    targets: [copy]
    stream: true
    interval: 1s
    batch_size: 50
"""

    def publisher(self, stop: threading.Event, acked: list) -> None:
        """Publishes a steady load (about 500 messages a second) until `stop`;
        records the ids the server acked."""
        proc = self.nats.publisher()
        reader = threading.Thread(
            target=lambda: acked.extend(line.split()[1] for line in proc.stdout
                                        if line.startswith("ok ")))
        reader.start()
        i = 0
        while not stop.is_set():
            for _ in range(25):
                payload = f"crash payload {i}".encode() + bytes([i % 256])
                proc.stdin.write(self.nats.line(f"{self.in_prefix}.p{i % 3}", f"c-{i}", payload,
                                                [("X-N", str(i))]))
                i += 1
            proc.stdin.flush()
            time.sleep(0.05)  # the load's pace (not a wait for a condition)
        proc.stdin.close()
        reader.join()
        proc.stdout.close()
        proc.wait(timeout=60)

    def target_ids(self):
        try:
            messages = self.nats.dump(self.dst)
        except services.SqlError:
            return [], {}
        ids = [m.header("Nats-Msg-Id") for m in messages]
        return ids, {m.header("Nats-Msg-Id"): m for m in messages}

    def test_kill_9_under_load_loses_nothing(self):
        stop = threading.Event()
        acked: list = []
        thread = threading.Thread(target=self.publisher, args=(stop, acked))
        self.kill_under_load(self.config, thread, stop, KILLS, KILL_DELAY, self.rng)
        self.assertGreater(len(acked), 1000)
        daemon = self.start_daemon(self.config)
        want = set(acked)
        wait_for(lambda: want <= set(self.target_ids()[0]), CONVERGE_TIMEOUT,
                 "every published id at the target")
        ids, by_id = self.target_ids()
        duplicates = len(ids) - len(set(ids))
        print(f"\npublished {len(want)}, at the target {len(ids)}, duplicates {duplicates}",
              file=sys.stderr)
        for msg_id in list(want)[:50]:
            n = msg_id.split("-")[1]
            self.assertEqual(by_id[msg_id].header("X-N"), n)
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


if __name__ == "__main__":
    unittest.main()
