"""The nats connector against a real nats-server with JetStream
(tests/services): a `messages` job reads stream SRC through a durable pull
consumer and publishes every message to stream DST through a subject template
("in.<x>" -> "copy.<x>"); binary payloads, headers and ids arrive intact (the
id is the source's Nats-Msg-Id header, else "SRC:<stream sequence>"). The
server restarted mid-flow (while a publisher keeps adding messages and the job
streams them) loses nothing. A subject no stream takes is refused
for good (named in the log): the refused messages become dead letters, which
`megasync dlq replay` delivers once a stream takes the subject."""

import os
import threading
import time
import unittest

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

SYNC_TIMEOUT = 90.0


class NatsMessagesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.nats = services.Nats()
        # Unique names: a rerun does not meet the streams or consumer of the last.
        self.suffix = os.path.basename(self.tmp).replace("-", "_").replace(".", "_")
        self.src = f"SRC_{self.suffix}"
        self.dst = f"DST_{self.suffix}"
        self.in_prefix = f"in_{self.suffix}"
        self.out_prefix = f"copy_{self.suffix}"
        self.nats.add_stream(self.src, f"{self.in_prefix}.>")
        self.addCleanup(self.nats.delete_stream, self.src)
        self.addCleanup(self.nats.delete_stream, self.dst)

    def config(self, port: int, jetstream: bool = True) -> str:
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
  copy:
    type: nats
    url: {self.nats.url}
    subject: "{self.out_prefix}.{{topic.1}}"
    jetstream: {"true" if jetstream else "false"}
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

    def messages(self, start: int, count: int):
        out = []
        for i in range(start, start + count):
            payload = bytes([i % 256, 0, 255, 10, 13]) + f"payload {i}".encode() + b"\x00"
            headers = [("X-Index", str(i)), ("X-Kind", "even" if i % 2 == 0 else "odd")]
            msg_id = f"m-{i}" if i % 3 else ""  # every third without Nats-Msg-Id
            out.append((f"{self.in_prefix}.part{i % 4}", msg_id, payload, headers))
        return out

    def dst_messages(self):
        try:
            return self.nats.dump(self.dst)
        except services.SqlError:
            return []  # not created yet

    def expected(self, sent):
        """id -> (subject, payload, headers) as the target must have them."""
        by_seq = {m.seq: m for m in self.nats.dump(self.src)}
        want = {}
        for m in by_seq.values():
            msg_id = m.header("Nats-Msg-Id") or f"{self.src}:{m.seq}"
            part = m.subject.split(".")[1]
            headers = sorted((k, v) for k, v in m.headers if k != "Nats-Msg-Id")
            want[msg_id] = (f"{self.out_prefix}.{part}", m.payload, headers)
        self.assertEqual(len(want), len(sent))
        return want

    def got(self):
        have = {}
        duplicates = 0
        for m in self.dst_messages():
            msg_id = m.header("Nats-Msg-Id")
            headers = sorted((k, v) for k, v in m.headers if k != "Nats-Msg-Id")
            if msg_id in have:
                duplicates += 1
            have[msg_id] = (m.subject, m.payload, headers)
        return have, duplicates

    def test_stream_to_stream_through_a_subject_template(self):
        sent = self.messages(0, 120)
        self.nats.publish(sent)
        daemon = self.start_daemon(self.config)
        want = self.expected(sent)
        wait_for(lambda: len(self.got()[0]) >= len(want), SYNC_TIMEOUT,
                 "every message at the target stream")
        have, duplicates = self.got()
        self.assertEqual(have, want)
        self.assertEqual(duplicates, 0)
        # More while it runs: streamed, too.
        more = self.messages(120, 30)
        self.nats.publish(more)
        want = self.expected(sent + more)
        wait_for(lambda: len(self.got()[0]) >= len(want), SYNC_TIMEOUT, "the later messages")
        self.assertEqual(self.got()[0], want)
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_core_nats_publish(self):
        """jetstream: false publishes with core NATS (no Nats-Msg-Id added, no
        PubAck); the stream DST, created by the endpoint, captures them."""
        sent = self.messages(0, 40)
        self.nats.publish(sent)
        daemon = self.start_daemon(lambda port: self.config(port, jetstream=False))
        wait_for(lambda: len(self.dst_messages()) >= len(sent), SYNC_TIMEOUT,
                 "every message at the target stream")
        got = {m.header("X-Index"): m for m in self.dst_messages()}
        self.assertEqual(len(got), len(sent))
        for subject, msg_id, payload, headers in sent:
            m = got[dict(headers)["X-Index"]]
            self.assertEqual(m.payload, payload)
            self.assertEqual(m.subject, f"{self.out_prefix}.{subject.split('.')[1]}")
            self.assertEqual(m.header("Nats-Msg-Id"), msg_id or None)
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def publish_steadily(self, stop: threading.Event, acked: list) -> None:
        """Publishes about 500 messages a second until `stop` (through the
        restart: a publish the server does not ack is reported, not retried);
        records the ids acked."""
        proc = self.nats.publisher()
        reader = threading.Thread(
            target=lambda: acked.extend(line.split()[1] for line in proc.stdout
                                        if line.startswith("ok ")))
        reader.start()
        i = 0
        while not stop.is_set():
            for _ in range(25):
                proc.stdin.write(self.nats.line(f"{self.in_prefix}.part{i % 4}", f"r-{i}",
                                                bytes([i % 256, 0]) + b"steady",
                                                [("X-Index", str(i))]))
                i += 1
            proc.stdin.flush()
            time.sleep(0.05)  # the load's pace (not a wait for a condition)
        proc.stdin.close()
        reader.join()
        proc.stdout.close()
        proc.wait(timeout=60)

    def test_server_restarted_mid_flow_loses_nothing(self):
        stop = threading.Event()
        acked: list = []
        publisher = threading.Thread(target=self.publish_steadily, args=(stop, acked))
        publisher.start()
        try:
            daemon = self.start_daemon(self.config)
            wait_for(lambda: len(self.dst_messages()) > 0, SYNC_TIMEOUT, "the flow started")
            self.addCleanup(services.nats_ctl, "start")  # whatever happens below
            services.nats_ctl("stop")
            services.nats_ctl("start")
            restarted_at = len(acked)
            wait_for(lambda: len(acked) >= restarted_at + 500, SYNC_TIMEOUT,
                     "publishing to resume after the restart")
        finally:
            stop.set()
            publisher.join()
        # Every message the source stream holds (acked or not), with its id.
        want = {}
        for m in self.nats.dump(self.src):
            part = m.subject.split(".")[1]
            headers = sorted((k, v) for k, v in m.headers if k != "Nats-Msg-Id")
            want[m.header("Nats-Msg-Id")] = (f"{self.out_prefix}.{part}", m.payload, headers)
        self.assertLessEqual(set(acked), set(want))
        wait_for(lambda: len(self.got()[0]) >= len(want), SYNC_TIMEOUT,
                 "every message at the target after the restart")
        have, duplicates = self.got()
        self.assertEqual(have, want)
        print(f"\npublished {len(want)} across the restart; duplicates at the target: "
              f"{duplicates}")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)

    def test_refused_messages_are_dead_lettered_and_replayed(self):
        """A subject no stream takes is refused for good: the messages go to
        the dead letters (they do not block the job), and `megasync dlq replay`
        delivers them once a stream takes the subject."""
        self.nats.publish(self.messages(0, 5))
        config = os.path.join(self.tmp, "megasync.yaml")
        nowhere = f"nowhere_{self.suffix}"
        with open(config, "w") as f:
            f.write(self.config(0).replace("api:\n  listen: 127.0.0.1:0\n", "")
                    .replace(f'subject: "{self.out_prefix}.', f'subject: "{nowhere}.'))
        result = run_cli(["sync", "-c", config, "bridge"], cwd=self.tmp, timeout=120)
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        self.assertIn(f"no JetStream stream takes subject \"{nowhere}.", result.stderr)
        listed = run_cli(["dlq", "list", "-c", config, "bridge"], cwd=self.tmp, timeout=60)
        self.assertEqual(listed.returncode, EXIT_OK, listed.stderr)
        lines = [line for line in listed.stdout.splitlines() if "no JetStream stream" in line]
        self.assertEqual(len(lines), 5, listed.stdout)
        # Acked at the source: a second run moves nothing and refuses nothing more.
        result = run_cli(["sync", "-c", config, "bridge"], cwd=self.tmp, timeout=120)
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        self.assertNotIn("dead-lettered", result.stderr)

        self.nats.add_stream(f"NOWHERE_{self.suffix}", f"{nowhere}.>")
        self.addCleanup(self.nats.delete_stream, f"NOWHERE_{self.suffix}")
        replayed = run_cli(["dlq", "replay", "-c", config, "bridge", "--all"], cwd=self.tmp,
                           timeout=120)
        self.assertEqual(replayed.returncode, EXIT_OK, replayed.stderr + replayed.stdout)
        wait_for(lambda: len(self.nats.dump(f"NOWHERE_{self.suffix}")) == 5, SYNC_TIMEOUT,
                 "the dead letters delivered by the replay")
        listed = run_cli(["dlq", "list", "-c", config, "bridge"], cwd=self.tmp, timeout=60)
        self.assertEqual(listed.returncode, EXIT_OK, listed.stderr)
        self.assertNotIn("no JetStream stream", listed.stdout)

if __name__ == "__main__":
    unittest.main()
