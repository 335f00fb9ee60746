"""The rabbitmq connector against a real RabbitMQ node: a `messages` job
moves messages from one queue to another through an exchange and a routing
key template, with payload, key, headers, content type and ids intact; a
message no queue takes does not hold back the ones behind it (it becomes a
dead letter, replayed by `megasync dlq replay` once a queue takes it); the broker
restarted in the middle of a flow loses nothing; a `sync` run ends only once
the queue holds no ready message (and does not hang on messages another
consumer holds)."""

import os
import subprocess
import time
import unittest

import rabbitmq_helpers as rh
import services
from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for

TIMEOUT = 120.0
WRONG_PASSWORD = "not-the-rabbit-pw"


class RabbitMessagesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.server = services.rabbitmq()
        self.conn = services.amqp_connect(self.server)
        self.addCleanup(lambda: self.conn.is_open and self.conn.close())
        self.ch = self.conn.channel()
        self.queues = []

    def queue(self, name: str, exchange=None, binding=None) -> str:
        rh.declare(self.ch, name, exchange, binding)
        self.queues.append(name)
        self.addCleanup(self.delete_queue, name)
        return name

    def delete_queue(self, name: str) -> None:
        conn = services.amqp_connect(self.server)
        try:
            conn.channel().queue_delete(name)
        finally:
            conn.close()

    def test_queue_to_queue_through_exchange_keeps_everything(self):
        src = self.queue("ms_rt_in")
        out = self.queue("ms_rt_out", "ms_rt_x", "copy.ms_rt_in")
        sent = {}
        for i in range(50):
            body = bytes([i, 0, 255, 10]) + os.urandom(32)  # binary, with NUL and newline
            headers = {"region": "eu", "n": str(i)}
            rh.publish(self.ch, src, body, message_id=f"m-{i}", headers=headers,
                       content_type="application/octet-stream", timestamp=1700000000 + i)
            sent[f"m-{i}"] = (body, headers, 1700000000 + i)
        # A message without a message-id gets a stable one (README).
        rh.publish(self.ch, src, b"no id", content_type="text/plain")
        bad = (f"  broker_bad:\n    type: rabbitmq\n    host: {self.server.host}\n"
               f"    port: {self.server.port}\n    user: {self.server.user}\n"
               f"    password: {WRONG_PASSWORD}\n")
        daemon = self.start_daemon(lambda port: rh.config(
            self.server, "rt", [src], {"exchange": "ms_rt_x", "routing_key": '"copy.{topic}"'},
            port, extra_endpoints=bad))
        got = rh.Collector(self.server, out)
        wait_for(lambda: len(got.messages) >= 51 or got.poll(), TIMEOUT,
                 "every message at the target queue")
        by_id = {p.message_id: (m, p, b) for m, p, b in got.messages}
        for mid, (body, headers, ts) in sent.items():
            method, props, payload = by_id[mid]
            self.assertEqual(payload, body)
            self.assertEqual(props.headers, headers)
            self.assertEqual(props.content_type, "application/octet-stream")
            self.assertEqual(props.timestamp, ts)
            self.assertEqual(props.delivery_mode, 2)
            self.assertEqual(method.routing_key, "copy.ms_rt_in")
        no_id = [p for _, p, b in got.messages if b == b"no id"]
        self.assertEqual(len(no_id), 1)
        self.assertTrue(no_id[0].message_id.startswith("xxh3-"), no_id[0].message_id)
        # The source acked everything once the target confirmed it.
        wait_for(lambda: self.ch.queue_declare(src, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        # The monitor's probes: up with the right password, down with a wrong
        # one, which no status or log shows.
        endpoints = lambda: daemon.get_json("/api/v1/status")["endpoints"]  # noqa: E731
        wait_for(lambda: endpoints()["broker_in"]["health"] == "up", TIMEOUT, "broker_in up")
        wait_for(lambda: endpoints()["broker_bad"]["health"] not in ("up", "unknown", None),
                 TIMEOUT, "broker_bad reported down")
        status_text = daemon.get("/api/v1/status").text
        self.assertNotIn(WRONG_PASSWORD, status_text)
        self.assertEqual(daemon.stop(), 0)
        self.assertNotIn(self.server.password, daemon.stderr())
        self.assertNotIn(WRONG_PASSWORD, daemon.stderr())
        self.assert_no_sanitizer_report(daemon)

    def test_unroutable_message_does_not_block_the_others(self):
        src = self.queue("ms_nr_in")
        out = self.queue("ms_nr_out", "ms_nr_x", "good")
        rh.publish(self.ch, src, b"nowhere", message_id="bad-0", headers={"route": "nowhere"})
        for i in range(20):
            rh.publish(self.ch, src, b"x", message_id=f"good-{i}", headers={"route": "good"})
        daemon = self.start_daemon(lambda port: rh.config(
            self.server, "nr", [src], {"exchange": "ms_nr_x", "routing_key": '"{header.route}"'},
            port, batch_size=5))
        got = rh.Collector(self.server, out)
        first = [f"good-{i}" for i in range(20)]
        wait_for(lambda: got.has_all(first), TIMEOUT, "the routable messages at the target")
        # The job keeps going: messages published afterwards arrive too.
        later = [f"later-{i}" for i in range(10)]
        for mid in later:
            rh.publish(self.ch, src, b"y", message_id=mid, headers={"route": "good"})
        wait_for(lambda: got.has_all(later), TIMEOUT, "later messages at the target")
        self.assertNotIn("bad-0", got.counts)
        wait_for(lambda: self.ch.queue_declare(src, passive=True).method.message_count == 0,
                 TIMEOUT, "the source queue empty (acked)")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

        # The unroutable message is a dead letter, with its error and payload;
        # once a queue takes its routing key, a replay delivers it.
        config = os.path.join(self.tmp, "dlq.yaml")
        with open(config, "w") as f:
            f.write(rh.config(self.server, "nr", [src],
                              {"exchange": "ms_nr_x", "routing_key": '"{header.route}"'}))
        listed = run_cli(["dlq", "list", "-c", config, "nr"], cwd=self.tmp, timeout=60)
        self.assert_exit(listed, EXIT_OK)
        lines = [line for line in listed.stdout.splitlines() if "bad-0" in line]
        self.assertEqual(len(lines), 1, listed.stdout)
        dead_id = lines[0].split()[0]
        shown = run_cli(["dlq", "show", "-c", config, "nr", dead_id], cwd=self.tmp, timeout=60)
        self.assert_exit(shown, EXIT_OK)
        self.assertIn("nowhere", shown.stdout)
        self.assertNotIn(self.server.password, shown.stdout + listed.stdout)
        self.ch.queue_bind(out, "ms_nr_x", routing_key="nowhere")
        replayed = run_cli(["dlq", "replay", "-c", config, "nr", "--all"], cwd=self.tmp,
                           timeout=120)
        self.assert_exit(replayed, EXIT_OK)
        wait_for(lambda: got.has_all(["bad-0"]), TIMEOUT, "the replayed dead letter")
        listed = run_cli(["dlq", "list", "-c", config, "nr"], cwd=self.tmp, timeout=60)
        self.assert_exit(listed, EXIT_OK)
        self.assertNotIn("bad-0", listed.stdout)

    def test_target_idle_past_its_heartbeats_connects_again(self):
        src = self.queue("ms_hb_in")
        out = self.queue("ms_hb_out")
        daemon = self.start_daemon(lambda port: rh.config(
            self.server, "hb", [src], {"routing_key": "ms_hb_out", "heartbeat": "1s"}, port,
            interval="5m"))  # one run: the same target connection throughout
        got = rh.Collector(self.server, out)
        rh.publish(self.ch, src, b"1", message_id="hb-1")
        wait_for(lambda: got.has_all(["hb-1"]), TIMEOUT, "the first message at the target")
        # The target's connection idles past two heartbeats: the broker closes it.
        time.sleep(4)  # the idle period (not a wait)
        rh.publish(self.ch, src, b"2", message_id="hb-2")
        wait_for(lambda: got.has_all(["hb-2"]), TIMEOUT, "the second message at the target")
        self.assertIn("connecting again", daemon.stderr())
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_broker_restart_mid_flow_loses_nothing(self):
        src = self.queue("ms_rs_in")
        out = self.queue("ms_rs_out")
        ids = [f"r-{i}" for i in range(3000)]
        for mid in ids:
            rh.publish(self.ch, src, mid.encode() * 20, message_id=mid)
        self.conn.close()
        daemon = self.start_daemon(lambda port: rh.config(
            self.server, "rs", [src], {"routing_key": "ms_rs_out"}, port, batch_size=50))
        got = rh.Collector(self.server, out)
        wait_for(lambda: got.poll() or len(got.counts) > 0, TIMEOUT, "a first message moved")
        services.rabbitmq_ctl("restart")
        wait_for(lambda: got.has_all(ids), TIMEOUT, "every message at the target after a restart")
        print(f"\nbroker restart: {len(ids)} messages, "
              f"{sum(got.counts.values()) - len(got.counts)} duplicates", flush=True)
        self.assertTrue(daemon.alive())
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_sync_run_ends_only_when_no_message_is_ready(self):
        # A single-active-consumer queue that another consumer holds: its
        # messages are ready, but the broker delivers them to that consumer
        # only, the way a queue on disk may take a while to push them.
        src = "ms_sac_in"
        self.ch.queue_delete(src)
        self.ch.queue_declare(src, durable=True, arguments={"x-single-active-consumer": True})
        self.addCleanup(self.delete_queue, src)
        out = self.queue("ms_sac_out")
        ids = [f"s-{i}" for i in range(30)]
        for mid in ids:
            rh.publish(self.ch, src, b"sac", message_id=mid)
        holder = services.amqp_connect(self.server)
        self.addCleanup(lambda: holder.is_open and holder.close())
        held = holder.channel()
        held.basic_qos(prefetch_count=1)
        held.basic_consume(src, lambda *args: None)
        config = os.path.join(self.tmp, "sac.yaml")
        with open(config, "w") as f:
            f.write(rh.config(self.server, "sac", [src], {"routing_key": "ms_sac_out"},
                              stream=False))

        # Held for good: the run calls it caught up after a while, with a
        # warning, instead of hanging.
        started = time.monotonic()
        result = run_cli(["sync", "-c", config, "sac"], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)
        self.assertIn("delivers none", result.stderr)
        self.assertLess(time.monotonic() - started, 90)
        self.assertEqual(rh.drain(self.server, out), [])

        # Released while a run waits: that same run relays every message.
        process = subprocess.Popen([BINARY, "sync", "-c", config, "sac"], cwd=self.tmp,
                                   env=child_env(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        consumers = lambda: self.ch.queue_declare(  # noqa: E731
            src, passive=True).method.consumer_count
        wait_for(lambda: consumers() == 2 or process.poll() is not None, TIMEOUT,
                 "megasync's consumer beside the holder")
        holder.close()
        _, stderr = process.communicate(timeout=120)
        self.assertEqual(process.returncode, EXIT_OK, stderr)
        self.assertNotIn("delivers none", stderr)
        got = rh.Collector(self.server, out)
        self.assertTrue(got.has_all(ids), sorted(got.counts))  # confirmed before the run ended
        self.assertEqual(self.ch.queue_declare(src, passive=True).method.message_count, 0)


if __name__ == "__main__":
    unittest.main()
