"""Helpers of the Kafka tests: librdkafka's mock cluster (Debian has no Kafka
broker) and a client, both the kafka-tool program (tests/tools/kafka_tool.c,
built beside megasync; MEGASYNC_KAFKA_TOOL names another)."""

import os
import subprocess
from typing import Dict, List, Optional, Tuple


def tool() -> str:
    return os.environ.get("MEGASYNC_KAFKA_TOOL") or os.path.join(
        os.path.dirname(os.environ.get("MEGASYNC_BIN", "megasync")), "kafka-tool")


class MockCluster:
    """A librdkafka mock cluster in a kafka-tool process; close() ends it."""

    def __init__(self, brokers: int = 1) -> None:
        self.proc = subprocess.Popen([tool(), "mock", str(brokers)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line:
            self.proc.kill()
            raise RuntimeError("kafka-tool mock printed no bootstrap servers")
        self.bootstrap = line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class Record:
    def __init__(self, partition: int, offset: int, key: str, payload: bytes,
                 headers: List[Tuple[str, bytes]]):
        self.partition = partition
        self.offset = offset
        self.key = key
        self.payload = payload
        self.headers = headers

    def header(self, name: str) -> Optional[str]:
        for n, v in self.headers:
            if n == name:
                return v.decode()
        return None


def produce(bootstrap: str, topic: str,
            messages: List[Tuple[str, str, bytes, Dict[str, str]]]) -> None:
    """Produces (key, id, payload, headers) messages and waits for their delivery."""
    lines = []
    for key, mid, payload, headers in messages:
        fields = [key, mid, payload.hex()] + [f"{k}={v}" for k, v in headers.items()]
        lines.append("\t".join(fields) + "\n")
    result = subprocess.run([tool(), "produce", bootstrap, topic], input="".join(lines),
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kafka-tool produce failed: {result.stderr.strip()}")


def consume(bootstrap: str, topic: str, count: int, timeout_ms: int = 3000) -> List[Record]:
    """Reads `topic` from the beginning: up to `count` messages, or until none
    came for timeout_ms."""
    result = subprocess.run([tool(), "consume", bootstrap, topic, str(count), str(timeout_ms)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kafka-tool consume failed: {result.stderr.strip()}")
    records = []
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        headers = []
        for h in fields[4:]:
            name, _, value = h.partition("=")
            headers.append((name, bytes.fromhex(value)))
        records.append(Record(int(fields[0]), int(fields[1]), fields[2],
                              bytes.fromhex(fields[3]), headers))
    return records
