"""Helpers of the SQS tests: a small client of the SQS JSON protocol (urllib;
the emulator, fauxqs, takes unsigned requests), queues created and deleted,
messages sent and drained, and megasync configs for `messages` jobs between
an sqs endpoint and the harness's RabbitMQ node."""

import base64
import json
import urllib.error
import urllib.request
import uuid
from typing import Dict, List, Optional

import services
from megasync_harness import wait_for


class SqsError(AssertionError):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class Sqs:
    def __init__(self, url: Optional[str] = None):
        self.url = url or services.sqs_url()

    def call(self, action: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.url + "/", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/x-amz-json-1.0",
                     "X-Amz-Target": f"AmazonSQS.{action}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read() or b"{}")
            raise SqsError(answer.get("__type", str(e.code)).split("#")[-1],
                           answer.get("message", "")) from None
        return json.loads(text or b"{}")

    def create(self, name: str) -> str:
        attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
        return self.call("CreateQueue", {"QueueName": name, "Attributes": attributes})["QueueUrl"]

    def queue_url(self, name: str) -> str:
        return self.call("GetQueueUrl", {"QueueName": name})["QueueUrl"]

    def delete(self, name: str) -> None:
        try:
            self.call("DeleteQueue", {"QueueUrl": self.queue_url(name)})
        except SqsError:
            pass

    def send_batch(self, name: str, entries: List[dict]) -> None:
        """Sends up to 10 entries ({"MessageBody": ..., ...}; Id added)."""
        for i, e in enumerate(entries):
            e["Id"] = str(i)
        answer = self.call("SendMessageBatch", {"QueueUrl": self.queue_url(name),
                                                "Entries": entries})
        if answer.get("Failed"):
            raise SqsError("Failed", json.dumps(answer["Failed"]))

    def count(self, name: str) -> int:
        """Messages in the queue, visible or in flight."""
        attrs = self.call("GetQueueAttributes", {
            "QueueUrl": self.queue_url(name), "AttributeNames": ["All"]})["Attributes"]
        return (int(attrs.get("ApproximateNumberOfMessages", 0))
                + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)))

    def drain(self, name: str) -> List[dict]:
        """Receives and deletes every message visible now."""
        url = self.queue_url(name)
        out = []
        while True:
            got = self.call("ReceiveMessage", {
                "QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0,
                "MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]})
            messages = got.get("Messages", [])
            if not messages:
                return out
            out.extend(messages)
            self.call("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)]})


def attribute(value: str) -> dict:
    return {"DataType": "String", "StringValue": value}


def attributes_of(message: dict) -> Dict[str, str]:
    return {name: a.get("StringValue", a.get("BinaryValue"))
            for name, a in message.get("MessageAttributes", {}).items()}


def body_of(message: dict) -> bytes:
    """The payload, decoded when megasync sent it as base64."""
    attrs = attributes_of(message)
    if attrs.get("content-transfer-encoding") == "base64":
        return base64.b64decode(message["Body"])
    return message["Body"].encode()


class Collector:
    """Message ids taken from an SQS queue so far (the message-id attribute),
    counted (duplicates kept)."""

    def __init__(self, sqs: Sqs, queue: str):
        self.sqs = sqs
        self.queue = queue
        self.counts: Dict[str, int] = {}
        self.messages: List[dict] = []

    def poll(self) -> None:
        for m in self.sqs.drain(self.queue):
            self.messages.append(m)
            mid = attributes_of(m).get("message-id", m["MessageId"])
            self.counts[mid] = self.counts.get(mid, 0) + 1

    def has_all(self, ids) -> bool:
        self.poll()
        return all(i in self.counts for i in ids)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def sqs_endpoint(name: str, **options: str) -> str:
    lines = "".join(f"    {k}: {v}\n" for k, v in options.items())
    return (f"  {name}:\n    type: sqs\n    endpoint: {services.sqs_url()}\n"
            f"    access_key_id: test\n    secret_access_key: test-secret\n{lines}")


def rabbit_endpoint(server: services.RabbitServer, name: str, **options: str) -> str:
    lines = "".join(f"    {k}: {v}\n" for k, v in options.items())
    return (f"  {name}:\n    type: rabbitmq\n    host: {server.host}\n    port: {server.port}\n"
            f"    user: {server.user}\n    password: {server.password}\n    heartbeat: 10s\n"
            f"{lines}")


def config(job: str, source: str, target: str, endpoints: str, port: int = 0,
           batch_size: int = 100, interval: str = "1s") -> str:
    api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
    return f"""\
state:
  path: state.db
{api}endpoints:
{endpoints}jobs:
  {job}:
    kind: messages
    source: {source}
    targets: [{target}]
    stream: true
    interval: {interval}
    timeout: 10m
    batch_size: {batch_size}
"""


def wait_empty(sqs: Sqs, queue: str, timeout: float) -> None:
    wait_for(lambda: sqs.count(queue) == 0, timeout, f"queue {queue} to be empty", interval=0.2)
