"""Crash safety of the mqtt target: while a publisher keeps sending messages
(each with its own message-id) to a RabbitMQ queue, `megasync run` (a
streaming `messages` job from that queue to MQTT topics) is killed with
SIGKILL at random moments and restarted each time; afterwards every
published message id has reached a test subscriber whose persistent session
(QoS 1) exists from before the first run. Duplicates are allowed (delivery is
at-least-once: a kill between the PUBACKs and the source's ack publishes
those messages again) and counted; none may be lost.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sys
import threading
import time
import uuid

import mqtt_helpers as mh
import rabbitmq_helpers as rh
import services
from megasync_harness import DaemonTestCase, wait_for

KILLS = 10
KILL_DELAY = (0.2, 2.0)  # seconds after the daemon answered /readyz
CONVERGE_TIMEOUT = 180.0


class MqttCrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.rabbit = services.rabbitmq()
        self.mosquitto = services.mosquitto()
        run_id = uuid.uuid4().hex[:8]
        self.queue = f"ms_mqtt_crash_{run_id}"
        self.topic = f"crash{run_id}"
        conn = services.amqp_connect(self.rabbit)
        try:
            rh.declare(conn.channel(), self.queue)
        finally:
            conn.close()
        self.addCleanup(self.delete_queue)
        # Subscribed before anything is published: it gets every message.
        self.sub = mh.Subscriber(self.mosquitto, [f"{self.topic}/#"])
        self.addCleanup(self.sub.close)
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nmqtt crash test seed: {self.seed}", file=sys.stderr)
        self.rng = random.Random(self.seed)
        self.published: list = []

    def delete_queue(self) -> None:
        conn = services.amqp_connect(self.rabbit)
        try:
            conn.channel().queue_delete(self.queue)
        finally:
            conn.close()

    def publisher(self, stop: threading.Event) -> None:
        """About 1000 messages a second, in bursts of 20."""
        conn = services.amqp_connect(self.rabbit)
        try:
            ch = conn.channel()
            ch.confirm_delivery()  # a message counts as published once the broker has it
            n = 0
            while not stop.is_set():
                for _ in range(20):
                    mid = f"c-{n}"
                    rh.publish(ch, self.queue, mid.encode() * 8, message_id=mid,
                               headers={"n": str(n)})
                    self.published.append(mid)
                    n += 1
                time.sleep(0.02)
        finally:
            conn.close()

    def config(self, port: int) -> str:
        endpoints = (mh.rabbit_endpoint(self.rabbit, [self.queue])
                     + mh.endpoint("mqtt_out", self.mosquitto, topic=f'"{self.topic}/{{topic}}"'))
        return mh.config("crash", "broker_in", endpoints, port, batch_size=100)

    def test_kill_9_under_load_loses_nothing(self):
        stop = threading.Event()
        thread = threading.Thread(target=self.publisher, args=(stop,))
        thread.start()
        try:
            for _ in range(KILLS):
                daemon = self.start_daemon(self.config)
                time.sleep(self.rng.uniform(*KILL_DELAY))  # the kill moment (not a wait)
                daemon.kill()
        finally:
            stop.set()
            thread.join()
        daemon = self.start_daemon(self.config)
        expected = list(self.published)
        wait_for(lambda: self.sub.has_all(expected), CONVERGE_TIMEOUT,
                 "every published message id at the MQTT subscriber")
        with self.sub.lock:
            counts = dict(self.sub.counts)
        duplicates = sum(counts.values()) - len(counts)
        print(f"mqtt crash test: {len(expected)} published, {duplicates} duplicates, "
              f"{KILLS} kills", file=sys.stderr)
        self.assertEqual(set(counts), set(expected))
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


if __name__ == "__main__":
    import unittest
    unittest.main()
