"""Helpers of the MQTT tests: a subscriber with a persistent session (MQTT v5,
QoS 1) that collects what arrives and survives a broker restart, a publisher,
and megasync configs for `messages` jobs into an mqtt endpoint. The client is
paho-mqtt (Debian's python3-paho-mqtt)."""

import os
import shutil
import socket
import subprocess
import threading
import uuid
from typing import Dict, List, Optional, Tuple

import services
from megasync_harness import wait_for


def paho():
    try:
        import paho.mqtt.client as client  # noqa: F401
    except ImportError:  # a Python other than Debian's: paho is pure Python
        import sys
        sys.path.append("/usr/lib/python3/dist-packages")
        import paho.mqtt.client as client  # noqa: F401
    return client


def _properties(kind: str):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    return Properties(getattr(PacketTypes, kind))


class Received:
    def __init__(self, msg):
        self.topic: str = msg.topic
        self.payload: bytes = msg.payload
        props = getattr(msg, "properties", None)
        self.user_properties: List[Tuple[str, str]] = list(
            getattr(props, "UserProperty", []) or [])
        self.content_type: Optional[str] = getattr(props, "ContentType", None)

    def prop(self, name: str) -> Optional[str]:
        for k, v in self.user_properties:
            if k == name:
                return v
        return None


class Subscriber:
    """Subscribes `filters` with a persistent session (v5, QoS 1, session
    expiry one hour) and keeps every message that arrives, counted by its
    message-id property; reconnects on its own after a broker restart."""

    def __init__(self, server: services.MosquittoServer, filters: List[str],
                 client_id: Optional[str] = None):
        mqtt = paho()
        self.client_id = client_id or f"test-sub-{uuid.uuid4().hex[:8]}"
        self.lock = threading.Lock()
        self.messages: List[Received] = []
        self.counts: Dict[str, int] = {}
        self.subscribed = threading.Event()
        self.client = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(
            [(t, 1) for t in filters])
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        props = _properties("CONNECT")
        props.SessionExpiryInterval = 3600
        self.client.connect(server.host, server.port, keepalive=10, clean_start=False,
                            properties=props)
        self.client.loop_start()
        if not self.subscribed.wait(30):
            raise RuntimeError("the MQTT test subscriber got no SUBACK")

    def _on_message(self, client, userdata, msg) -> None:
        got = Received(msg)
        with self.lock:
            self.messages.append(got)
            mid = got.prop("message-id") or ""
            self.counts[mid] = self.counts.get(mid, 0) + 1

    def has_all(self, ids) -> bool:
        with self.lock:
            return all(i in self.counts for i in ids)

    def by_id(self) -> Dict[str, Received]:
        with self.lock:
            return {m.prop("message-id"): m for m in self.messages}

    def close(self, end_session: bool = True) -> None:
        if end_session:  # the broker drops the session (and its queue)
            props = _properties("DISCONNECT")
            props.SessionExpiryInterval = 0
            self.client.disconnect(properties=props)
        else:
            self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """Publishes at QoS 1 (v5) and waits for each PUBACK."""

    def __init__(self, server, ca_file: Optional[str] = None):
        mqtt = paho()
        self.client = mqtt.Client(client_id=f"test-pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        if ca_file:
            import ssl
            self.client.tls_set(ca_certs=ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.connect(server.host, server.port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, properties: List[Tuple[str, str]] = (),
                content_type: Optional[str] = None) -> None:
        self.publish_many([(topic, payload, properties, content_type)])

    def publish_many(self, messages) -> None:
        """Publishes (topic, payload, properties, content_type) tuples
        pipelined, then waits for every PUBACK."""
        infos = []
        for topic, payload, properties, content_type in messages:
            props = _properties("PUBLISH")
            if properties:
                props.UserProperty = list(properties)
            if content_type:
                props.ContentType = content_type
            infos.append((topic, self.client.publish(topic, payload, qos=1, properties=props)))
        for topic, info in infos:
            info.wait_for_publish(30)
            if not info.is_published():
                raise RuntimeError(f"publish to {topic} not acknowledged")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class TlsBroker:
    """A Mosquitto of the test's own with one TLS listener on a free port of
    127.0.0.1 (no persistence), its CA and server certificate (for 127.0.0.1)
    made with the openssl tool in `folder`. stop() ends it."""

    def __init__(self, folder: str):
        self.host = "127.0.0.1"
        os.makedirs(folder, exist_ok=True)
        self.ca_file = os.path.join(folder, "ca.pem")
        key, csr, cert = (os.path.join(folder, n) for n in ("server.key", "server.csr",
                                                            "server.pem"))
        ext = os.path.join(folder, "san.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        ca_key = os.path.join(folder, "ca.key")
        for cmd in (
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
                 self.ca_file, "-days", "2", "-subj", "/CN=megasync test CA"],
                ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj",
                 "/CN=127.0.0.1"],
                ["x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", ca_key,
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]):
            subprocess.run(["openssl", *cmd], check=True, capture_output=True)
        with socket.socket() as s:  # a free port (the broker binds it right after)
            s.bind((self.host, 0))
            self.port = s.getsockname()[1]
        conf = os.path.join(folder, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} {self.host}\nallow_anonymous true\n"
                    f"cafile {self.ca_file}\ncertfile {cert}\nkeyfile {key}\n"
                    f"log_dest file {folder}/mosquitto.log\n")
            if os.geteuid() == 0:
                f.write("user root\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the TLS Mosquitto exited ({folder}/mosquitto.log)")
            with socket.socket() as s:
                return s.connect_ex((self.host, self.port)) == 0
        wait_for(ready, 30, "the TLS Mosquitto listening")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def warm_up(publisher: Publisher, topic: str, sub: Subscriber, timeout: float) -> None:
    """Publishes probes to `topic` until one arrives at `sub` through
    megasync: the job's source has subscribed (what is published from now on
    is queued for its session)."""
    n = 0

    def probe() -> bool:
        nonlocal n
        publisher.publish(topic, b"probe", [("message-id", f"probe-{n}")])
        n += 1
        return any(k.startswith("probe-") for k in sub.by_id())
    wait_for(probe, timeout, "a probe message through megasync", interval=0.2)


def end_session(server: services.MosquittoServer, client_id: str) -> None:
    """Ends the broker's persistent session `client_id` (a clean start, then
    a disconnect with session expiry 0)."""
    mqtt = paho()
    client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect(server.host, server.port, keepalive=10, clean_start=True)
    client.loop_start()
    props = _properties("DISCONNECT")
    props.SessionExpiryInterval = 0
    client.disconnect(properties=props)
    client.loop_stop()


def endpoint(name: str, server: services.MosquittoServer, **options: str) -> str:
    lines = "".join(f"    {k}: {v}\n" for k, v in options.items())
    return (f"  {name}:\n    type: mqtt\n    host: {server.host}\n    port: {server.port}\n"
            f"    keepalive: 10s\n{lines}")


def config(job: str, source: str, endpoints: str, port: int = 0, batch_size: int = 100,
           interval: str = "1s", stream: bool = True) -> str:
    """A `messages` job (streaming unless `stream` is false) from endpoint
    `source` to endpoint `mqtt_out`."""
    api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
    return f"""\
state:
  path: state.db
{api}endpoints:
{endpoints}jobs:
  {job}:
    kind: messages
    source: {source}
    targets: [mqtt_out]
    stream: {"true" if stream else "false"}
    interval: {interval}
    timeout: 10m
    batch_size: {batch_size}
"""


def rabbit_endpoint(server: services.RabbitServer, queues: List[str]) -> str:
    return (f"  broker_in:\n    type: rabbitmq\n    host: {server.host}\n    port: {server.port}\n"
            f"    user: {server.user}\n    password: {server.password}\n    heartbeat: 10s\n"
            f"    queues: [{', '.join(queues)}]\n")
