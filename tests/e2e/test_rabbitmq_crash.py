"""Crash safety of the rabbitmq connector: while a publisher keeps sending
messages (each with its own message-id) to a source queue, `megasync run` (a
streaming `messages` job to another queue) is killed with SIGKILL at random
moments and restarted each time; afterwards every published message id is at
the target queue. Duplicates are allowed (delivery is at-least-once: a kill
between the target's confirm and the source's ack sends those messages
again) and counted; none may be lost.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sys
import threading
import time

import rabbitmq_helpers as rh
import services
from megasync_harness import DaemonTestCase, wait_for

KILLS = 10
KILL_DELAY = (0.2, 2.0)  # seconds after the daemon answered /readyz
CONVERGE_TIMEOUT = 180.0
SRC = "ms_crash_in"
DST = "ms_crash_out"


class RabbitCrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.server = services.rabbitmq()
        conn = services.amqp_connect(self.server)
        try:
            ch = conn.channel()
            rh.declare(ch, SRC)
            rh.declare(ch, DST)
        finally:
            conn.close()
        self.addCleanup(self.delete_queues)
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nrabbitmq crash test seed: {self.seed}", file=sys.stderr)
        self.rng = random.Random(self.seed)
        self.published: list = []

    def delete_queues(self) -> None:
        conn = services.amqp_connect(self.server)
        try:
            ch = conn.channel()
            ch.queue_delete(SRC)
            ch.queue_delete(DST)
        finally:
            conn.close()

    def publisher(self, stop: threading.Event) -> None:
        """About 1000 messages a second, in bursts of 20."""
        conn = services.amqp_connect(self.server)
        try:
            ch = conn.channel()
            ch.confirm_delivery()  # a message counts as published once the broker has it
            n = 0
            while not stop.is_set():
                for _ in range(20):
                    mid = f"c-{n}"
                    rh.publish(ch, SRC, mid.encode() * 8, message_id=mid,
                               headers={"n": str(n)})
                    self.published.append(mid)
                    n += 1
                time.sleep(0.02)
        finally:
            conn.close()

    def config(self, port: int) -> str:
        return rh.config(self.server, "crash", [SRC], {"routing_key": DST}, port, batch_size=100)

    def test_kill_9_under_load_loses_nothing(self):
        stop = threading.Event()
        thread = threading.Thread(target=self.publisher, args=(stop,))
        self.kill_under_load(self.config, thread, stop, KILLS, KILL_DELAY, self.rng)
        daemon = self.start_daemon(self.config)
        got = rh.Collector(self.server, DST)
        expected = list(self.published)
        wait_for(lambda: got.has_all(expected), CONVERGE_TIMEOUT,
                 "every published message id at the target queue")
        duplicates = sum(got.counts.values()) - len(got.counts)
        print(f"rabbitmq crash test: {len(expected)} published, {duplicates} duplicates, "
              f"{KILLS} kills", file=sys.stderr)
        self.assertEqual(set(got.counts), set(expected))
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


if __name__ == "__main__":
    import unittest
    unittest.main()
