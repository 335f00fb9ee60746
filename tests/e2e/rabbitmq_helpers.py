"""Helpers of the RabbitMQ tests: queues set up and torn down with pika
(Debian's python3-pika), messages published and drained, and megasync configs
for a `messages` job between two rabbitmq endpoints of the harness's node."""

import time
from typing import Dict, List, Optional, Tuple

import services


def declare(channel, queue: str, exchange: Optional[str] = None,
            binding: Optional[str] = None) -> None:
    channel.queue_delete(queue)
    channel.queue_declare(queue, durable=True)
    if exchange:
        channel.exchange_declare(exchange, exchange_type="direct", durable=True)
        channel.queue_bind(queue, exchange, routing_key=binding)


def publish(channel, queue: str, body: bytes, *, message_id: Optional[str] = None,
            headers: Optional[Dict[str, str]] = None, content_type: Optional[str] = None,
            timestamp: Optional[int] = None) -> None:
    pika = services.pika_module()
    props = pika.BasicProperties(message_id=message_id, headers=headers,
                                 content_type=content_type, timestamp=timestamp,
                                 delivery_mode=2)
    channel.basic_publish("", queue, body, props)


def drain(server: services.RabbitServer, queue: str) -> List[Tuple[object, object, bytes]]:
    """Takes every message ready in `queue` now: (method, properties, body)."""
    out = []
    conn = services.amqp_connect(server)
    try:
        ch = conn.channel()
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((method, props, body))
    finally:
        conn.close()


class Collector:
    """Message ids taken from a queue so far, counted (duplicates kept);
    survives a broker restart (a failed drain is tried again)."""

    def __init__(self, server: services.RabbitServer, queue: str):
        self.server = server
        self.queue = queue
        self.counts: Dict[str, int] = {}
        self.messages: List[Tuple[object, object, bytes]] = []

    def poll(self) -> None:
        try:
            got = drain(self.server, self.queue)
        except Exception:  # broker restarting: poll again later
            time.sleep(0.2)
            return
        for item in got:
            self.messages.append(item)
            mid = item[1].message_id
            self.counts[mid] = self.counts.get(mid, 0) + 1

    def has_all(self, ids) -> bool:
        self.poll()
        return all(i in self.counts for i in ids)


def config(server: services.RabbitServer, job: str, queues: List[str], target: Dict[str, str],
           port: int = 0, batch_size: int = 100, interval: str = "1s",
           extra_endpoints: str = "", stream: bool = True) -> str:
    api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
    target_lines = "".join(f"    {k}: {v}\n" for k, v in target.items())
    return f"""\
state:
  path: state.db
{api}endpoints:
  broker_in:
    type: rabbitmq
    host: {server.host}
    port: {server.port}
    user: {server.user}
    password: {server.password}
    heartbeat: 10s
    queues: [{", ".join(queues)}]
  broker_out:
    type: rabbitmq
    host: {server.host}
    port: {server.port}
    user: {server.user}
    password: {server.password}
{target_lines}{extra_endpoints}jobs:
  {job}:
    kind: messages
    source: broker_in
    targets: [broker_out]
    stream: {"true" if stream else "false"}
    interval: {interval}
    timeout: 10m
    batch_size: {batch_size}
"""
