"""Crash safety of the mqtt connector, as target and as source: while a
publisher keeps sending messages (each with its own message-id), `megasync
run` (a streaming `messages` job) is killed with SIGKILL at random moments and
restarted each time; afterwards every published message id has reached a
test subscriber whose persistent session (QoS 1) exists from before the first
run. Duplicates are allowed (delivery is at-least-once: a kill between the
target's confirmation and the source's ack publishes those messages again)
and counted; none may be lost.

- target: RabbitMQ queue -> MQTT topics;
- source: MQTT topics (the source's persistent session, PUBACKs sent only
  once the target has a message) -> MQTT topics of another tree.

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
        self.mosquitto = services.mosquitto()
        self.run_id = uuid.uuid4().hex[:8]
        self.topic = f"crash{self.run_id}"
        # Subscribed before anything is published: it gets every message.
        self.sub = mh.Subscriber(self.mosquitto, [f"{self.topic}/#"])
        self.addCleanup(self.sub.close)
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nmqtt crash test seed: {self.seed}", file=sys.stderr)
        self.rng = random.Random(self.seed)
        self.published: list = []

    def rabbit_queue(self) -> None:
        self.rabbit = services.rabbitmq()
        self.queue = f"ms_mqtt_crash_{self.run_id}"
        conn = services.amqp_connect(self.rabbit)
        try:
            rh.declare(conn.channel(), self.queue)
        finally:
            conn.close()
        self.addCleanup(self.delete_queue)

    def delete_queue(self) -> None:
        conn = services.amqp_connect(self.rabbit)
        try:
            conn.channel().queue_delete(self.queue)
        finally:
            conn.close()

    def rabbit_publisher(self, stop: threading.Event) -> None:
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

    def rabbit_config(self, port: int) -> str:
        endpoints = (mh.rabbit_endpoint(self.rabbit, [self.queue])
                     + mh.endpoint("mqtt_out", self.mosquitto, topic=f'"{self.topic}/{{topic}}"'))
        return mh.config("crash", "broker_in", endpoints, port, batch_size=100)

    def crash_and_check(self, config, publisher) -> None:
        """Runs `publisher` in a thread while the daemon (`config`) is started
        and SIGKILLed KILLS times, then runs it once more and waits until every
        published id reached the subscriber."""
        stop = threading.Event()
        thread = threading.Thread(target=publisher, args=(stop,))
        self.kill_under_load(config, thread, stop, KILLS, KILL_DELAY, self.rng)
        daemon = self.start_daemon(config)
        expected = list(self.published)
        wait_for(lambda: self.sub.has_all(expected), CONVERGE_TIMEOUT,
                 "every published message id at the MQTT subscriber")
        with self.sub.lock:
            counts = {k: v for k, v in self.sub.counts.items() if not k.startswith("probe-")}
        duplicates = sum(counts.values()) - len(counts)
        print(f"mqtt crash test ({self.id().rsplit('.', 1)[-1]}): {len(expected)} published, "
              f"{duplicates} duplicates, {KILLS} kills", file=sys.stderr)
        self.assertEqual(set(counts), set(expected))
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_rabbitmq_to_mqtt_kill_9_under_load_loses_nothing(self):
        self.rabbit_queue()
        self.crash_and_check(self.rabbit_config, self.rabbit_publisher)

    def mqtt_publisher(self, stop: threading.Event) -> None:
        """About 1000 messages a second, in bursts of 20 (each burst waits for
        its PUBACKs)."""
        pub = mh.Publisher(self.mosquitto)
        try:
            n = 0
            while not stop.is_set():
                mids = [f"q-{i}" for i in range(n, n + 20)]
                pub.publish_many([(f"{self.src}/{i % 3}", mid.encode() * 8,
                                   [("message-id", mid), ("n", str(i))], None)
                                  for i, mid in zip(range(n, n + 20), mids)])
                self.published.extend(mids)  # once the broker has them
                n += 20
                time.sleep(0.02)
        finally:
            pub.close()

    def mqtt_config(self, port: int) -> str:
        endpoints = (mh.endpoint("mqtt_in", self.mosquitto, topics=f"['{self.src}/#']",
                                 client_id=self.source_client)
                     + mh.endpoint("mqtt_out", self.mosquitto, topic=f'"{self.topic}/{{topic}}"'))
        return mh.config("crashmq", "mqtt_in", endpoints, port, batch_size=100)

    def test_mqtt_source_kill_9_under_load_loses_nothing(self):
        self.src = f"crashsrc{self.run_id}"
        self.source_client = f"megasync-crash-{self.run_id}"
        self.addCleanup(mh.end_session, self.mosquitto, self.source_client)
        # The source's persistent session exists before the load starts: a
        # first run subscribes and passes a probe through.
        daemon = self.start_daemon(self.mqtt_config)
        pub = mh.Publisher(self.mosquitto)
        try:
            mh.warm_up(pub, f"{self.src}/probe", self.sub, CONVERGE_TIMEOUT)
        finally:
            pub.close()
        daemon.kill()
        self.crash_and_check(self.mqtt_config, self.mqtt_publisher)

if __name__ == "__main__":
    import unittest
    unittest.main()
