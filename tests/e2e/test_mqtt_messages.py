"""The mqtt connector against a real Mosquitto broker: a `messages` job from
MQTT topics (persistent session) to MQTT topics named by a template, and from
RabbitMQ to MQTT, with payload, key, headers (v5 user properties), content
type and ids intact; a message the broker refuses (larger than its
message_size_limit) or that cannot be published (a wildcard in its topic)
does not hold back the others: it becomes a dead letter, and the one with
the bad topic is replayed once the template is fixed; the broker restarted
in the middle of a flow loses nothing; the source reads a TLS listener."""

import os
import uuid

import mqtt_helpers as mh
import rabbitmq_helpers as rh
import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

TIMEOUT = 120.0


class MqttMessagesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.server = services.mosquitto()
        self.run_id = uuid.uuid4().hex[:8]  # topics of this run only
        self.publisher = mh.Publisher(self.server)
        self.addCleanup(self.publisher.close)

    def subscriber(self, filters) -> mh.Subscriber:
        sub = mh.Subscriber(self.server, filters)
        self.addCleanup(sub.close)
        return sub

    def fresh_session(self, job: str) -> None:
        """No persistent session of the job's mqtt source from an earlier run,
        now nor after the test."""
        mh.end_session(self.server, f"megasync-{job}")
        self.addCleanup(mh.end_session, self.server, f"megasync-{job}")

    def test_mqtt_to_mqtt_through_a_topic_template_keeps_everything(self):
        src = f"ms{self.run_id}/in"
        self.fresh_session("rt")
        sub = self.subscriber([f"copy{self.run_id}/#"])
        endpoints = (mh.endpoint("mqtt_in", self.server, topics=f"['{src}/#']")
                     + mh.endpoint("mqtt_out", self.server, topic=f'"copy{self.run_id}/{{topic}}"'))
        daemon = self.start_daemon(lambda port: mh.config("rt", "mqtt_in", endpoints, port))
        mh.warm_up(self.publisher, f"{src}/probe", sub, TIMEOUT)
        sent = {}
        for i in range(50):
            body = bytes([i, 0, 255, 10]) + os.urandom(32)  # binary, with NUL and newline
            props = [("region", "eu"), ("message-id", f"m-{i}"), ("key", f"k-{i % 3}"),
                     ("n", str(i)), ("timestamp", str(1700000000000 + i))]
            self.publisher.publish(f"{src}/eu/{i % 2}", body, props,
                                   content_type="application/octet-stream")
            sent[f"m-{i}"] = (body, i)
        # A message without a message-id gets a stable one (README).
        self.publisher.publish(f"{src}/noid", b"no id", content_type="text/plain")
        wait_for(lambda: sub.has_all(sent), TIMEOUT, "every message at the target topics")
        got = sub.by_id()
        for mid, (body, i) in sent.items():
            m = got[mid]
            self.assertEqual(m.topic, f"copy{self.run_id}/{src}/eu/{i % 2}")
            self.assertEqual(m.payload, body)
            self.assertEqual(m.content_type, "application/octet-stream")
            self.assertEqual(m.prop("key"), f"k-{i % 3}")
            self.assertEqual(m.prop("region"), "eu")
            self.assertEqual(m.prop("n"), str(i))
            self.assertEqual(m.prop("timestamp"), str(1700000000000 + i))
            self.assertEqual(m.prop("message-id"), mid)
        wait_for(lambda: any(m.payload == b"no id" for m in sub.messages), TIMEOUT,
                 "the message without an id")
        noid = [m for m in sub.messages if m.payload == b"no id"][0]
        self.assertTrue(noid.prop("message-id").startswith("xxh3-"), noid.user_properties)
        self.assertEqual(noid.content_type, "text/plain")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_one_sync_run_reads_everything_the_session_queued(self):
        # MQTT 3.1.1: Mosquitto lets the session have 20 unacknowledged
        # messages, and sends the next ones only for the acks release() sends.
        src = f"sq{self.run_id}/in"
        self.fresh_session("sq")
        sub = self.subscriber([f"copy{self.run_id}/#"])
        endpoints = (mh.endpoint("mqtt_in", self.server, topics=f"['{src}/#']", protocol="v311")
                     + mh.endpoint("mqtt_out", self.server, topic=f'"copy{self.run_id}/{{topic}}"'))
        config = os.path.join(self.tmp, "sq.yaml")
        with open(config, "w") as f:
            f.write(mh.config("sq", "mqtt_in", endpoints, stream=False))
        # The first run makes the session and its subscription.
        self.assert_exit(run_cli(["sync", "-c", config, "sq"], cwd=self.tmp, timeout=120),
                         EXIT_OK)
        ids = [f"q-{i}" for i in range(200)]
        # (A 3.1.1 message has no properties: the payload is the id here.)
        self.publisher.publish_many([(f"{src}/{i % 3}", mid.encode(), [], None)
                                     for i, mid in enumerate(ids)])
        self.assert_exit(run_cli(["sync", "-c", config, "sq"], cwd=self.tmp, timeout=120),
                         EXIT_OK)
        # The run ended once the target confirmed every message; the
        # subscriber's client takes them in its own time.
        payloads = lambda: {m.payload.decode() for m in list(sub.messages)}  # noqa: E731
        wait_for(lambda: set(ids) <= payloads(), TIMEOUT, "every queued message after one run")

    def test_rabbitmq_to_mqtt_keeps_payload_key_and_headers(self):
        rabbit = services.rabbitmq()
        conn = services.amqp_connect(rabbit)
        self.addCleanup(lambda: conn.is_open and conn.close())
        ch = conn.channel()
        queue = f"ms_mqtt_{self.run_id}"
        rh.declare(ch, queue)
        self.addCleanup(lambda: ch.queue_delete(queue))
        sub = self.subscriber([f"amqp{self.run_id}/#"])
        sent = {}
        for i in range(50):
            body = bytes([i, 0, 255, 10]) + os.urandom(32)
            headers = {"region": "eu", "n": str(i)}
            rh.publish(ch, queue, body, message_id=f"r-{i}", headers=headers,
                       content_type="application/json", timestamp=1700000000 + i)
            sent[f"r-{i}"] = (body, headers, 1700000000 + i)
        endpoints = (mh.rabbit_endpoint(rabbit, [queue])
                     + mh.endpoint("mqtt_out", self.server, topic=f'"amqp{self.run_id}/{{topic}}"'))
        daemon = self.start_daemon(lambda port: mh.config("r2m", "broker_in", endpoints, port))
        wait_for(lambda: sub.has_all(sent), TIMEOUT, "every RabbitMQ message at the MQTT topic")
        got = sub.by_id()
        for mid, (body, headers, ts) in sent.items():
            m = got[mid]
            self.assertEqual(m.topic, f"amqp{self.run_id}/{queue}")
            self.assertEqual(m.payload, body)
            self.assertEqual(m.content_type, "application/json")
            self.assertEqual(m.prop("key"), queue)  # the routing key
            for k, v in headers.items():
                self.assertEqual(m.prop(k), v)
            self.assertEqual(m.prop("timestamp"), str(ts * 1000))
        wait_for(lambda: ch.queue_declare(queue, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_refused_messages_become_dead_letters(self):
        rabbit = services.rabbitmq()
        conn = services.amqp_connect(rabbit)
        self.addCleanup(lambda: conn.is_open and conn.close())
        ch = conn.channel()
        queue = f"ms_mqtt_dl_{self.run_id}"
        rh.declare(ch, queue)
        self.addCleanup(lambda: ch.queue_delete(queue))
        sub = self.subscriber([f"dl{self.run_id}/#", f"fixed{self.run_id}/#"])
        rh.publish(ch, queue, b"wild", message_id="bad-topic", headers={"route": "a/+"})
        rh.publish(ch, queue, b"x" * (self.server.message_size_limit + 1000),
                   message_id="too-large", headers={"route": "big"})
        good = [f"good-{i}" for i in range(20)]
        for mid in good:
            rh.publish(ch, queue, b"ok", message_id=mid, headers={"route": "good"})

        def text(template: str, port: int = 0) -> str:
            endpoints = (mh.rabbit_endpoint(rabbit, [queue])
                         + mh.endpoint("mqtt_out", self.server, topic=f'"{template}"'))
            return mh.config("dl", "broker_in", endpoints, port, batch_size=5)
        template = f"dl{self.run_id}/{{header.route}}"
        daemon = self.start_daemon(lambda port: text(template, port))
        wait_for(lambda: sub.has_all(good), TIMEOUT, "the publishable messages at the target")
        wait_for(lambda: ch.queue_declare(queue, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        self.assertNotIn("bad-topic", sub.counts)
        self.assertNotIn("too-large", sub.counts)
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

        config = os.path.join(self.tmp, "dlq.yaml")
        with open(config, "w") as f:
            f.write(text(template))
        listed = run_cli(["dlq", "list", "-c", config, "dl"], cwd=self.tmp, timeout=60)
        self.assert_exit(listed, EXIT_OK)
        wild = [line for line in listed.stdout.splitlines() if "bad-topic" in line]
        large = [line for line in listed.stdout.splitlines() if "too-large" in line]
        self.assertEqual(len(wild), 1, listed.stdout)
        self.assertEqual(len(large), 1, listed.stdout)
        self.assertIn("wildcard", wild[0])
        self.assertIn("0x95", large[0])  # the broker's PUBACK: packet too large
        # The topic template fixed, a replay delivers the message with the bad topic.
        with open(config, "w") as f:
            f.write(text(f"fixed{self.run_id}/{{id}}"))
        replayed = run_cli(["dlq", "replay", "-c", config, "dl", wild[0].split()[0]],
                           cwd=self.tmp, timeout=120)
        self.assert_exit(replayed, EXIT_OK)
        wait_for(lambda: sub.has_all(["bad-topic"]), TIMEOUT, "the replayed dead letter")
        self.assertEqual(sub.by_id()["bad-topic"].topic, f"fixed{self.run_id}/bad-topic")
        listed = run_cli(["dlq", "list", "-c", config, "dl"], cwd=self.tmp, timeout=60)
        self.assertNotIn("bad-topic", listed.stdout)
        self.assertIn("too-large", listed.stdout)

    def test_broker_restarted_mid_flow_loses_nothing(self):
        src = f"rs{self.run_id}/in"
        self.fresh_session("rs")
        sub = self.subscriber([f"rsout{self.run_id}/#"])
        endpoints = (mh.endpoint("mqtt_in", self.server, topics=f"['{src}/#']")
                     + mh.endpoint("mqtt_out", self.server,
                                   topic=f'"rsout{self.run_id}/{{topic.2}}"'))
        daemon = self.start_daemon(lambda port: mh.config("rs", "mqtt_in", endpoints, port,
                                                          batch_size=20))
        mh.warm_up(self.publisher, f"{src}/probe", sub, TIMEOUT)
        first = [f"a-{i}" for i in range(300)]
        for mid in first:
            self.publisher.publish(f"{src}/a", mid.encode(), [("message-id", mid)])
        self.publisher.close()
        services.mosquitto_ctl("restart")  # while megasync moves them
        publisher = mh.Publisher(self.server)
        self.addCleanup(publisher.close)
        second = [f"b-{i}" for i in range(300)]
        for mid in second:
            publisher.publish(f"{src}/b", mid.encode(), [("message-id", mid)])
        wait_for(lambda: sub.has_all(first + second), TIMEOUT,
                 "every message, from before and after the restart")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


    def test_source_over_tls(self):
        """The source's own client speaks TLS (ca_file): a broker of the test's
        own with a TLS listener, its messages copied to the shared broker."""
        tls = mh.TlsBroker(os.path.join(self.tmp, "tls"))
        self.addCleanup(tls.stop)
        src = f"tls{self.run_id}"
        sub = self.subscriber([f"copy{self.run_id}/#"])
        endpoints = (mh.endpoint("mqtt_in", tls, topics=f"['{src}/#']", ca_file=tls.ca_file)
                     + mh.endpoint("mqtt_out", self.server, topic=f'"copy{self.run_id}/{{topic}}"'))
        self.start_daemon(lambda port: mh.config("tls", "mqtt_in", endpoints, port))
        pub = mh.Publisher(tls, ca_file=tls.ca_file)
        self.addCleanup(pub.close)
        mh.warm_up(pub, f"{src}/probe", sub, TIMEOUT)
        ids = [f"t-{i}" for i in range(200)]
        pub.publish_many([(f"{src}/x", os.urandom(100 + i), [("message-id", mid)], None)
                          for i, mid in enumerate(ids)])
        wait_for(lambda: sub.has_all(ids), TIMEOUT, "every message from the TLS broker")

    def test_source_over_tls_refuses_a_certificate_of_another_ca(self):
        tls = mh.TlsBroker(os.path.join(self.tmp, "tls"))
        self.addCleanup(tls.stop)
        other = mh.TlsBroker(os.path.join(self.tmp, "other"))  # only its CA is used
        other.stop()
        endpoints = (mh.endpoint("mqtt_in", tls, topics=f"['tls{self.run_id}/#']",
                                 ca_file=other.ca_file)
                     + mh.endpoint("mqtt_out", self.server))
        daemon = self.start_daemon(lambda port: mh.config("tlsbad", "mqtt_in", endpoints, port))
        wait_for(lambda: "its TLS certificate is refused" in daemon.stderr(), TIMEOUT,
                 "the source's error about the broker's certificate")
        self.assertIn("endpoint mqtt_in", daemon.stderr())

if __name__ == "__main__":
    import unittest
    unittest.main()
