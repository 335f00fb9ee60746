"""The sqs connector against the fauxqs emulator, with the harness's RabbitMQ
node on the other side: SQS -> RabbitMQ and RabbitMQ -> SQS keep payload
(binary too), key, headers and ids; a FIFO queue gets group ids and drops
messages sent twice by their id; a message SQS can never take (too large)
does not hold back the others, becomes a dead letter and is replayed once the
limit allows it; a missing queue is a clear error; RabbitMQ restarted in the
middle of a flow into SQS loses nothing.

fauxqs keeps its queues in memory and cannot be restarted without losing
them, so the restart test restarts RabbitMQ, the other side."""

import os
import unittest

import rabbitmq_helpers as rh
import services
import sqs_helpers as sh
from megasync_harness import EXIT_INVALID, EXIT_OK, DaemonTestCase, run_cli, wait_for

TIMEOUT = 120.0


class SqsMessagesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.sqs = sh.Sqs()
        self.server = services.rabbitmq()
        self.conn = services.amqp_connect(self.server)
        self.addCleanup(lambda: self.conn.is_open and self.conn.close())
        self.ch = self.conn.channel()

    def sqs_queue(self, prefix: str, fifo: bool = False) -> str:
        name = sh.unique(prefix) + (".fifo" if fifo else "")
        self.sqs.create(name)
        self.addCleanup(self.sqs.delete, name)
        return name

    def rabbit_queue(self, name: str, exchange=None, bindings=()) -> str:
        rh.declare(self.ch, name, exchange, bindings[0] if bindings else None)
        for b in bindings[1:]:
            self.ch.queue_bind(name, exchange, routing_key=b)
        self.addCleanup(self.delete_rabbit_queue, name)
        return name

    def delete_rabbit_queue(self, name: str) -> None:
        conn = services.amqp_connect(self.server)
        try:
            conn.channel().queue_delete(name)
        finally:
            conn.close()

    def test_sqs_to_rabbitmq_keeps_payload_key_and_headers(self):
        src = self.sqs_queue("ms_sqs_in")
        keys = ["k-0", "k-1", "k-2"]
        out = self.rabbit_queue("ms_sqs_rb_out", "ms_sqs_rb_x", keys)
        sent = {}
        for start in range(0, 30, 10):
            entries = []
            for i in range(start, start + 10):
                body = f"payload {i} ü €"
                headers = {"region": "eu", "n": str(i)}
                attrs = {"message-id": sh.attribute(f"m-{i}"),
                         "key": sh.attribute(keys[i % 3]),
                         "content-type": sh.attribute("text/plain")}
                attrs.update({k: sh.attribute(v) for k, v in headers.items()})
                entries.append({"MessageBody": body, "MessageAttributes": attrs})
                sent[f"m-{i}"] = (body.encode(), keys[i % 3], headers)
            self.sqs.send_batch(src, entries)
        # Without a message-id attribute the SQS MessageId is the id.
        self.sqs.send_batch(src, [{"MessageBody": "no id",
                                   "MessageAttributes": {"key": sh.attribute("k-0")}}])
        endpoints = (sh.sqs_endpoint("sqs_in", queues=f"[{src}]")
                     + sh.rabbit_endpoint(self.server, "broker_out", exchange="ms_sqs_rb_x",
                                          routing_key='"{key}"'))
        daemon = self.start_daemon(lambda port: sh.config("s2r", "sqs_in", "broker_out",
                                                          endpoints, port))
        got = rh.Collector(self.server, out)
        wait_for(lambda: got.poll() or len(got.messages) >= 31, TIMEOUT,
                 "every message at the RabbitMQ queue")
        by_id = {p.message_id: (m, p, b) for m, p, b in got.messages}
        for mid, (body, key, headers) in sent.items():
            method, props, payload = by_id[mid]
            self.assertEqual(payload, body)
            self.assertEqual(method.routing_key, key)
            self.assertEqual(props.headers, headers)
            self.assertEqual(props.content_type, "text/plain")
        no_id = [p for _, p, b in got.messages if b == b"no id"]
        self.assertEqual(len(no_id), 1)
        self.assertRegex(no_id[0].message_id, r"^[0-9a-f-]{36}$")
        # Deleted at the source once RabbitMQ confirmed them.
        sh.wait_empty(self.sqs, src, TIMEOUT)
        # The monitor's probe reaches the service.
        wait_for(lambda: daemon.get_json("/api/v1/status")["endpoints"]["sqs_in"]["health"]
                 == "up", TIMEOUT, "sqs_in up")
        self.assertEqual(daemon.stop(), 0)
        self.assertNotIn("test-secret", daemon.stderr())
        self.assert_no_sanitizer_report(daemon)

    def test_rabbitmq_to_sqs_keeps_payload_key_and_headers(self):
        src = self.rabbit_queue("ms_rb_sqs_in", "ms_rb_sqs_x", ["rk-a", "rk-b"])
        out = self.sqs_queue("ms_sqs_out")
        sent = {}
        pika = services.pika_module()
        for i in range(40):
            body = bytes([i, 0, 255, 10]) + os.urandom(16) if i % 2 else f"text {i}".encode()
            headers = {"region": "eu", "n": str(i)}
            key = "rk-a" if i % 3 else "rk-b"
            self.ch.basic_publish("ms_rb_sqs_x", key, body, pika.BasicProperties(
                message_id=f"r-{i}", headers=headers, delivery_mode=2))
            sent[f"r-{i}"] = (body, key, headers)
        endpoints = (sh.rabbit_endpoint(self.server, "broker_in", queues=f"[{src}]")
                     + sh.sqs_endpoint("sqs_out", queue=out))
        daemon = self.start_daemon(lambda port: sh.config("r2s", "broker_in", "sqs_out",
                                                          endpoints, port))
        got = sh.Collector(self.sqs, out)
        wait_for(lambda: got.has_all(sent), TIMEOUT, "every message at the SQS queue")
        by_id = {sh.attributes_of(m)["message-id"]: m for m in got.messages}
        for mid, (body, key, headers) in sent.items():
            m = by_id[mid]
            attrs = sh.attributes_of(m)
            self.assertEqual(sh.body_of(m), body)
            self.assertEqual(attrs["key"], key)
            for name, value in headers.items():
                self.assertEqual(attrs[name], value)
            self.assertEqual("content-transfer-encoding" in attrs, bool(int(mid[2:]) % 2))
        wait_for(lambda: self.ch.queue_declare(src, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_fifo_queue_gets_group_ids_and_drops_redeliveries(self):
        src = self.rabbit_queue("ms_rb_sqs_fifo")
        out = sh.unique("ms_sqs_fifo") + ".fifo"  # made by the endpoint (create: true)
        self.addCleanup(self.sqs.delete, out)
        ids = [f"f-{i}" for i in range(10)]
        for mid in ids + ids:  # each sent twice: SQS deduplicates by id
            rh.publish(self.ch, src, mid.encode(), message_id=mid)
        endpoints = (sh.rabbit_endpoint(self.server, "broker_in", queues=f"[{src}]")
                     + sh.sqs_endpoint("sqs_out", queue=f'"{out}"', create="true"))
        daemon = self.start_daemon(lambda port: sh.config("fifo", "broker_in", "sqs_out",
                                                          endpoints, port, batch_size=5))
        wait_for(lambda: self.ch.queue_declare(src, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        got = sh.Collector(self.sqs, out)
        wait_for(lambda: got.has_all(ids), TIMEOUT, "every message at the FIFO queue")
        self.assertEqual(got.counts, {mid: 1 for mid in ids})
        # In order, in the group of their key (the routing key they came with).
        self.assertEqual([sh.attributes_of(m)["message-id"] for m in got.messages], ids)
        self.assertEqual({m["Attributes"]["MessageGroupId"] for m in got.messages}, {src})
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_too_large_message_is_dead_lettered_and_replayed(self):
        src = self.rabbit_queue("ms_rb_sqs_big")
        out = self.sqs_queue("ms_sqs_big_out")
        rh.publish(self.ch, src, b"x" * 3000, message_id="big-0")
        ids = [f"small-{i}" for i in range(20)]
        for mid in ids:
            rh.publish(self.ch, src, b"small", message_id=mid)

        def cfg(port: int, limit: str = "2KiB") -> str:
            return sh.config("big", "broker_in", "sqs_out",
                             sh.rabbit_endpoint(self.server, "broker_in", queues=f"[{src}]")
                             + sh.sqs_endpoint("sqs_out", queue=out, max_message_bytes=limit),
                             port, batch_size=5)
        daemon = self.start_daemon(cfg)
        got = sh.Collector(self.sqs, out)
        wait_for(lambda: got.has_all(ids), TIMEOUT, "the small messages at the SQS queue")
        wait_for(lambda: self.ch.queue_declare(src, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        self.assertNotIn("big-0", got.counts)
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

        config = os.path.join(self.tmp, "dlq.yaml")
        with open(config, "w") as f:
            f.write(cfg(0))
        listed = run_cli(["dlq", "list", "-c", config, "big"], cwd=self.tmp, timeout=60)
        self.assert_exit(listed, EXIT_OK)
        lines = [line for line in listed.stdout.splitlines() if "big-0" in line]
        self.assertEqual(len(lines), 1, listed.stdout)
        shown = run_cli(["dlq", "show", "-c", config, "big", lines[0].split()[0]], cwd=self.tmp,
                        timeout=60)
        self.assert_exit(shown, EXIT_OK)
        self.assertIn("max_message_bytes is 2048", shown.stdout)
        self.assertNotIn("test-secret", shown.stdout + listed.stdout)
        # With a larger limit, the replay delivers it.
        with open(config, "w") as f:
            f.write(cfg(0, "256KiB"))
        replayed = run_cli(["dlq", "replay", "-c", config, "big", "--all"], cwd=self.tmp,
                           timeout=120)
        self.assert_exit(replayed, EXIT_OK)
        wait_for(lambda: got.has_all(["big-0"]), TIMEOUT, "the replayed dead letter")
        big = [m for m in got.messages if sh.attributes_of(m)["message-id"] == "big-0"]
        self.assertEqual(sh.body_of(big[0]), b"x" * 3000)

    def test_invalid_options_are_named(self):
        config = os.path.join(self.tmp, "bad.yaml")
        for option, value, expected in (
                ("endpoint", "ftp://127.0.0.1", "endpoint must be an http:// or https:// URL"),
                ("visibility_timeout", "13h", "visibility_timeout must be between 1s and 12h"),
                ("max_message_bytes", "2MiB", "max_message_bytes must be between 1KiB and 1MiB"),
                ("queue", '"{nope}"', "nope")):
            with self.subTest(option=option):
                endpoint = sh.sqs_endpoint("sqs_in", queues="[q]").replace(
                    f"    endpoint: {services.sqs_url()}\n", "") + f"    {option}: {value}\n"
                with open(config, "w") as f:
                    f.write(sh.config("bad", "sqs_in", "broker_out", endpoint
                                      + sh.rabbit_endpoint(self.server, "broker_out")))
                result = run_cli(["check", "-c", config], cwd=self.tmp, timeout=60)
                self.assert_exit(result, EXIT_INVALID)
                self.assertIn(expected, result.stderr + result.stdout)
                self.assertIn("sqs_in", result.stderr + result.stdout)

    def test_missing_queue_is_a_clear_error(self):
        missing = sh.unique("ms_sqs_missing")
        config = os.path.join(self.tmp, "missing.yaml")
        with open(config, "w") as f:
            f.write(sh.config("miss", "sqs_in", "broker_out",
                              sh.sqs_endpoint("sqs_in", queues=f"[{missing}]")
                              + sh.rabbit_endpoint(self.server, "broker_out")))
        result = run_cli(["sync", "-c", config, "miss"], cwd=self.tmp, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"queue '{missing}' does not exist", result.stderr)
        self.assertIn("create: true", result.stderr)
        self.assertNotIn("test-secret", result.stderr + result.stdout)
        # With create: true the queue is made, and the job runs.
        with open(config, "w") as f:
            f.write(sh.config("miss", "sqs_in", "broker_out",
                              sh.sqs_endpoint("sqs_in", queues=f"[{missing}]", create="true")
                              + sh.rabbit_endpoint(self.server, "broker_out")))
        self.addCleanup(self.sqs.delete, missing)
        result = run_cli(["sync", "-c", config, "miss"], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)
        self.assertTrue(self.sqs.queue_url(missing))

    def test_rabbitmq_restart_mid_flow_into_sqs_loses_nothing(self):
        src = self.rabbit_queue("ms_rb_sqs_rs")
        out = self.sqs_queue("ms_sqs_rs_out")
        ids = [f"r-{i}" for i in range(2000)]
        for mid in ids:
            rh.publish(self.ch, src, mid.encode() * 20, message_id=mid)
        self.conn.close()
        endpoints = (sh.rabbit_endpoint(self.server, "broker_in", queues=f"[{src}]")
                     + sh.sqs_endpoint("sqs_out", queue=out))
        daemon = self.start_daemon(lambda port: sh.config("rs", "broker_in", "sqs_out",
                                                          endpoints, port, batch_size=50))
        got = sh.Collector(self.sqs, out)
        wait_for(lambda: got.poll() or len(got.counts) > 0, TIMEOUT, "a first message moved")
        services.rabbitmq_ctl("restart")
        wait_for(lambda: got.has_all(ids), TIMEOUT, "every message at SQS after a restart")
        print(f"\nrabbitmq restart into sqs: {len(ids)} messages, "
              f"{sum(got.counts.values()) - len(got.counts)} duplicates", flush=True)
        self.assertTrue(daemon.alive())
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)


if __name__ == "__main__":
    unittest.main()
