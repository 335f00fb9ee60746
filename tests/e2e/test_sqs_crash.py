"""Crash safety of the sqs source: while a publisher keeps sending messages
(each with its own message-id attribute) to an SQS queue, `megasync run` (a
streaming `messages` job to a RabbitMQ queue) is killed with SIGKILL at random
moments and restarted each time; afterwards every published message id is at
the target queue. Duplicates are allowed (at-least-once: a kill between the
target's confirm and the delete at SQS, or before it, lets SQS deliver those
messages again once their visibility timeout ends) and counted; none may be
lost.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sys
import threading
import time

import rabbitmq_helpers as rh
import services
import sqs_helpers as sh
from megasync_harness import DaemonTestCase, wait_for

KILLS = 10
KILL_DELAY = (0.2, 2.0)  # seconds after the daemon answered /readyz
CONVERGE_TIMEOUT = 180.0
DST = "ms_sqs_crash_out"


class SqsCrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.sqs = sh.Sqs()
        self.src = sh.unique("ms_sqs_crash_in")
        self.sqs.create(self.src)
        self.addCleanup(self.sqs.delete, self.src)
        self.server = services.rabbitmq()
        conn = services.amqp_connect(self.server)
        try:
            rh.declare(conn.channel(), DST)
        finally:
            conn.close()
        self.addCleanup(self.delete_queue)
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nsqs crash test seed: {self.seed}", file=sys.stderr)
        self.rng = random.Random(self.seed)
        self.published: list = []

    def delete_queue(self) -> None:
        conn = services.amqp_connect(self.server)
        try:
            conn.channel().queue_delete(DST)
        finally:
            conn.close()

    def publisher(self, stop: threading.Event) -> None:
        """About 500 messages a second, in batches of 10."""
        n = 0
        while not stop.is_set():
            entries = []
            for _ in range(10):
                mid = f"c-{n}"
                entries.append({"MessageBody": mid * 8, "MessageAttributes": {
                    "message-id": sh.attribute(mid), "n": sh.attribute(str(n))}})
                n += 1
            self.sqs.send_batch(self.src, entries)  # published once SQS answered
            self.published.extend(e["MessageAttributes"]["message-id"]["StringValue"]
                                  for e in entries)
            time.sleep(0.02)

    def config(self, port: int) -> str:
        # A short visibility timeout: what a killed process received comes
        # back soon.
        endpoints = (sh.sqs_endpoint("sqs_in", queues=f"[{self.src}]", visibility_timeout="5s")
                     + sh.rabbit_endpoint(self.server, "broker_out", routing_key=DST))
        return sh.config("crash", "sqs_in", "broker_out", endpoints, port, batch_size=100)

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
        print(f"sqs crash test: {len(expected)} published, {duplicates} duplicates, "
              f"{KILLS} kills", file=sys.stderr)
        self.assertEqual(set(got.counts), set(expected))
        sh.wait_empty(self.sqs, self.src, CONVERGE_TIMEOUT)  # every message deleted at the end
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


if __name__ == "__main__":
    import unittest
    unittest.main()
