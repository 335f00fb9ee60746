"""Messages across two message systems, each a real server (tests/services):
RabbitMQ -> NATS JetStream and NATS JetStream -> RabbitMQ `messages` jobs, with
binary payloads, message ids and headers intact (the conversions are in
src/connectors/rabbitmq/README.md and src/connectors/nats/README.md)."""

import os
import unittest

import rabbitmq_helpers as rh
import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

TIMEOUT = 90.0


class MessageBridgesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.rabbit = services.rabbitmq()
        self.nats = services.Nats()
        self.suffix = os.path.basename(self.tmp).replace("-", "_").replace(".", "_")
        self.conn = services.amqp_connect(self.rabbit)
        self.addCleanup(lambda: self.conn.is_open and self.conn.close())
        self.ch = self.conn.channel()

    def rabbit_queue(self, name: str) -> str:
        rh.declare(self.ch, name)
        self.addCleanup(lambda: self.ch.is_open and self.ch.queue_delete(name))
        return name

    def rabbit_endpoint(self, name: str, extra: str) -> str:
        return (f"  {name}:\n    type: rabbitmq\n    host: {self.rabbit.host}\n"
                f"    port: {self.rabbit.port}\n    user: {self.rabbit.user}\n"
                f"    password: {self.rabbit.password}\n{extra}")

    def write_config(self, endpoints: str, source: str, target: str) -> str:
        path = os.path.join(self.tmp, "bridge.yaml")
        with open(path, "w") as f:
            f.write("state:\n  path: state.db\nendpoints:\n" + endpoints +
                    f"jobs:\n  bridge:\n    kind: messages\n    source: {source}\n"
                    f"    targets: [{target}]\n    batch_size: 25\n")
        return path

    def sync(self, config: str) -> None:
        result = run_cli(["sync", "-c", config, "bridge"], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)

    def test_rabbitmq_to_nats(self):
        queue = self.rabbit_queue(f"ms_br_{self.suffix}")
        sent = {}
        for i in range(40):
            body = bytes([i, 0, 255, 10]) + os.urandom(16)
            headers = {"region": "eu", "n": str(i)}
            rh.publish(self.ch, queue, body, message_id=f"r-{i}", headers=headers,
                       content_type="application/octet-stream")
            sent[f"r-{i}"] = (body, headers)
        stream = f"BR_{self.suffix}"
        self.addCleanup(self.nats.delete_stream, stream)
        endpoints = (self.rabbit_endpoint("rabbit", f"    queues: [{queue}]\n") +
                     f"  jet:\n    type: nats\n    url: {self.nats.url}\n"
                     f"    subject: \"out_{self.suffix}.{{topic}}\"\n    stream: {stream}\n"
                     f"    create_stream:\n      subjects: [\"out_{self.suffix}.>\"]\n")
        config = self.write_config(endpoints, "rabbit", "jet")
        self.sync(config)
        got = {}
        for m in self.nats.dump(stream):
            self.assertEqual(m.subject, f"out_{self.suffix}.{queue}")
            got[m.header("Nats-Msg-Id")] = m
        self.assertEqual(set(got), set(sent))
        for mid, (body, headers) in sent.items():
            self.assertEqual(got[mid].payload, body, mid)
            for name, value in headers.items():
                self.assertEqual(got[mid].header(name), value, (mid, name))
        # Acked at the source once NATS confirmed: the queue is empty.
        self.assertEqual(self.ch.queue_declare(queue, passive=True).method.message_count, 0)

    def test_nats_to_rabbitmq(self):
        stream = f"BS_{self.suffix}"
        prefix = f"in_{self.suffix}"
        self.nats.add_stream(stream, f"{prefix}.>")
        self.addCleanup(self.nats.delete_stream, stream)
        out = self.rabbit_queue(f"ms_bs_{self.suffix}")
        sent = {}
        batch = []
        for i in range(30):
            payload = bytes([i, 0, 13, 255]) + f"nats {i}".encode()
            headers = [("X-Index", str(i)), ("X-Kind", "even" if i % 2 == 0 else "odd")]
            batch.append((f"{prefix}.orders", f"n-{i}", payload, headers))
            sent[f"n-{i}"] = (payload, dict(headers))
        self.nats.publish(batch)
        endpoints = (f"  jet:\n    type: nats\n    url: {self.nats.url}\n    stream: {stream}\n" +
                     self.rabbit_endpoint("rabbit", f"    routing_key: {out}\n"))
        config = self.write_config(endpoints, "jet", "rabbit")
        self.sync(config)
        got = rh.Collector(self.rabbit, out)
        wait_for(lambda: got.has_all(sent), TIMEOUT, "every message in the RabbitMQ queue")
        by_id = {props.message_id: (props, body) for _, props, body in got.messages}
        for mid, (payload, headers) in sent.items():
            props, body = by_id[mid]
            self.assertEqual(body, payload, mid)
            for name, value in headers.items():
                self.assertEqual((props.headers or {}).get(name), value, (mid, name))
        self.assertEqual(sum(got.counts.values()), len(sent))  # no duplicate in one clean run


if __name__ == "__main__":
    unittest.main()
