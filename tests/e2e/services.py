"""The real database servers of the tests (standard library only).

tests/services/start.sh starts two PostgreSQL 15 servers (pg-a, pg-b) and one
MariaDB on loopback and writes their settings, as MEGASYNC_PG_A_URL and the
like, to an env file (build/services/env, or $MEGASYNC_SERVICES_DIR/env);
tests/services/run-with-services.sh (which `make test` uses) puts them in the
environment. This module reads the environment, falling back to that file.

    from services import pg_a, psql
    rows = psql(pg_a(), "SELECT 1")          # [['1']]

Tests are never skipped: without the servers, pg_a()/pg_b()/mariadb() and
require_services() raise ServicesNotRunning, naming the script to run.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from typing import Dict, List, Optional, Tuple

SOURCE_DIR = os.path.abspath(
    os.environ.get("MEGASYNC_SOURCE_DIR")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Upper bound for one client call; not a sleep.
CLIENT_TIMEOUT = 60.0


class ServicesNotRunning(RuntimeError):
    """The test servers' settings are missing or a server does not answer."""


@dataclasses.dataclass(frozen=True)
class Conn:
    """How to reach one server as one user."""
    name: str          # "pg-a", "pg-b" or "mariadb"
    kind: str          # "postgresql" or "mariadb"
    host: str
    port: int
    user: str
    password: str
    dbname: str
    url: str
    limited_user: str = ""
    limited_password: str = ""

    def limited(self) -> "Conn":
        """The same server as megasync_limited (no superuser, no REPLICATION)."""
        scheme = "postgresql" if self.kind == "postgresql" else "mysql"
        return dataclasses.replace(
            self, user=self.limited_user, password=self.limited_password,
            url=f"{scheme}://{self.limited_user}:{self.limited_password}"
                f"@{self.host}:{self.port}/{self.dbname}")

    def with_password(self, password: str) -> "Conn":
        """A copy with another password (for authentication-failure tests)."""
        return dataclasses.replace(self, password=password)


def env_file() -> str:
    state = os.environ.get("MEGASYNC_SERVICES_DIR") or os.path.join(SOURCE_DIR, "build", "services")
    return os.path.join(state, "env")


def _read_env_file(path: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    values[key] = value
    except FileNotFoundError:
        pass
    return values


def _settings() -> Dict[str, str]:
    """The env file's values, overridden by the environment's."""
    values = _read_env_file(env_file())
    values.update({k: v for k, v in os.environ.items() if k.startswith("MEGASYNC_")})
    return values


def _conn(name: str, prefix: str, kind: str) -> Conn:
    values = _settings()
    keys = ["HOST", "PORT", "USER", "PASSWORD", "DB", "URL", "LIMITED_USER", "LIMITED_PASSWORD"]
    missing = [f"{prefix}_{k}" for k in keys if not values.get(f"{prefix}_{k}")]
    if missing:
        raise ServicesNotRunning(
            f"tests/services/start.sh was not run: {', '.join(missing)} not set in the "
            f"environment nor in {env_file()}. Run the tests with "
            f"tests/services/run-with-services.sh (as `make test` does), or run "
            f"tests/services/start.sh first.")
    return Conn(name=name, kind=kind, host=values[f"{prefix}_HOST"],
                port=int(values[f"{prefix}_PORT"]), user=values[f"{prefix}_USER"],
                password=values[f"{prefix}_PASSWORD"], dbname=values[f"{prefix}_DB"],
                url=values[f"{prefix}_URL"], limited_user=values[f"{prefix}_LIMITED_USER"],
                limited_password=values[f"{prefix}_LIMITED_PASSWORD"])


def pg_a() -> Conn:
    """PostgreSQL server A (the usual CDC source)."""
    return _conn("pg-a", "MEGASYNC_PG_A", "postgresql")


def pg_b() -> Conn:
    """PostgreSQL server B (a second source, or a PostgreSQL destination)."""
    return _conn("pg-b", "MEGASYNC_PG_B", "postgresql")


def pg_c() -> Conn:
    """PostgreSQL server C, the one a test may stop and start (pg_ctl()): one
    test at a time uses it (test_postgres_outage)."""
    return _conn("pg-c", "MEGASYNC_PG_C", "postgresql")


def psql_background(conn: Conn, sql: str, statement_timeout: str = "600s") -> subprocess.Popen:
    """Starts psql running `sql` (a long statement, such as a writer procedure's
    CALL) and returns at once; the caller waits for it or kills it. The
    statement ends by itself after `statement_timeout`."""
    env = _base_env()
    env.update(PGPASSWORD=conn.password, PGSSLMODE="disable",
               PGOPTIONS=f"-c statement_timeout={statement_timeout}")
    return subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", conn.host, "-p", str(conn.port),
         "-U", conn.user, "-d", conn.dbname, "-c", sql],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cdc_scratch(test, source: Conn, target: Conn, schema: str, job: str,
                source_sql: str) -> None:
    """Sets up what a CDC test of `job` from `source` to `target` needs, and
    registers its removal with `test`: `schema` at the source, filled by
    `source_sql` (run after CREATE SCHEMA); the job's slot dropped at the end;
    an empty `schema` at the target, with the job's checkpoint rows removed."""
    psql(source, f"CREATE SCHEMA {schema};\n{source_sql}")
    test.addCleanup(psql, source, f"DROP SCHEMA {schema} CASCADE")
    test.addCleanup(drop_slot, source, "megasync_" + job)
    psql(target, f"CREATE SCHEMA {schema}")
    test.addCleanup(psql, target, f"DROP SCHEMA {schema} CASCADE; DELETE FROM "
                    f"_megasync_checkpoints WHERE job = '{job}'")


def pg_job_config(path: str, job: str, source: Conn, target: Conn, tables: List[str],
                  job_lines: str = "", source_lines: str = "", target_lines: str = "") -> None:
    """Writes to `path` a configuration with one `database` job `job` from the
    postgres endpoint `app` (`source`) to `pgb` (`target`) over `tables`,
    without periodic verification, plus `job_lines` (YAML under the job, each
    line indented by four spaces), `source_lines` (under `app`, likewise) and
    `target_lines` (under `pgb`)."""
    with open(path, "w") as f:
        f.write(f"""\
state:
  path: state.db
endpoints:
  app:
    type: postgres
    url: "{source.url}"
{source_lines}  pgb:
    type: postgres
    url: "{target.url}"
{target_lines}jobs:
  {job}:
    kind: database
    source: app
    targets: [pgb]
    tables: [{", ".join(tables)}]
    verify_interval: 0s
{job_lines}""")


def drop_slot(conn: Conn, slot: str, publication: bool = True) -> None:
    """Drops a replication slot (and the publication of the same name) if it
    exists, first ending the walsender still holding it (a killed client's
    server side can outlive it by a moment); retries for up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            psql(conn, f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                       f"WHERE slot_name = '{slot}' AND active_pid IS NOT NULL; "
                       f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       f"WHERE slot_name = '{slot}'")
            break
        except SqlError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    if publication:
        psql(conn, f"DROP PUBLICATION IF EXISTS {slot}")


def pg_ctl(name: str, action: str) -> None:
    """Stops, starts or restarts one of the harness's PostgreSQL servers
    (tests/services/pg-ctl.sh); raises on failure."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services",
                          "pg-ctl.sh")
    result = subprocess.run([script, name, action], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise SqlError(f"pg-ctl.sh {name} {action} failed: {result.stderr.strip()}",
                       result.stderr)


def mariadb() -> Conn:
    """The MariaDB server."""
    return _conn("mariadb", "MEGASYNC_MARIADB", "mariadb")


def require_services() -> List[Conn]:
    """Fails loudly unless every server's settings are known and each accepts
    TCP connections. Call it from setUpClass (or setUpModule)."""
    conns = [pg_a(), pg_b(), pg_c(), mariadb()]
    for c in conns:
        try:
            socket.create_connection((c.host, c.port), timeout=5).close()
        except OSError as e:
            raise ServicesNotRunning(
                f"{c.name} at {c.host}:{c.port} does not accept connections ({e}): "
                f"tests/services/start.sh was not run, or the servers were stopped "
                f"(tests/services/stop.sh). Settings came from the environment or "
                f"{env_file()}.") from None
    return conns


class SqlError(AssertionError):
    """A client call failed; carries the client's stderr."""

    def __init__(self, message: str, stderr: str):
        super().__init__(message)
        self.stderr = stderr


def _run(cmd: List[str], env: Dict[str, str], what: str) -> List[List[str]]:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ServicesNotRunning(f"{cmd[0]} not found: run scripts/install-deps.sh") from None
    if proc.returncode != 0:
        raise SqlError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()}",
                       proc.stderr)
    return [line.split("\t") for line in proc.stdout.splitlines()]


def _base_env() -> Dict[str, str]:
    # The caller's PG*/MYSQL_* variables (PGSSLMODE, PGHOST, ...) must not
    # change where or how the clients connect.
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PG") and not k.startswith("MYSQL")}


def psql(conn: Conn, sql: str, dbname: Optional[str] = None) -> List[List[str]]:
    """Runs SQL (one or more statements) with psql over TCP with password
    authentication; returns the rows of every result, in order, each a list
    of column texts (NULL reads as 'NULL'). Raises SqlError on any error."""
    env = _base_env()
    env.update(PGPASSWORD=conn.password, PGCONNECT_TIMEOUT="10", PGSSLMODE="disable")
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-P", "null=NULL",
           "-v", "ON_ERROR_STOP=1", "-h", conn.host, "-p", str(conn.port),
           "-U", conn.user, "-d", dbname or conn.dbname, "-c", sql]
    return _run(cmd, env, f"psql on {conn.name} as {conn.user}: {sql!r}")


def mariadb_sql(conn: Conn, sql: str, dbname: Optional[str] = None) -> List[List[str]]:
    """Runs SQL with the mariadb client over TCP; returns the rows of every
    result (no headers), each a list of column texts in the client's batch escaping (NULL reads as
    'NULL', a tab as '\\t'). Raises SqlError on any error."""
    env = _base_env()
    env.update(MYSQL_PWD=conn.password)
    cmd = ["mariadb", "--no-defaults", "--protocol=TCP", "-h", conn.host, "-P", str(conn.port),
           "-u", conn.user, "--batch", "--skip-column-names", "--connect-timeout=10",
           "-D", dbname or conn.dbname, "-e", sql]
    return _run(cmd, env, f"mariadb on {conn.name} as {conn.user}: {sql!r}")


# --- Redis (redis-a, redis-b) ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RedisServer:
    """One of the harness's Redis servers (no password)."""
    name: str  # "redis-a" or "redis-b"
    host: str
    port: int
    url: str


def _redis(name: str, prefix: str) -> RedisServer:
    values = _settings()
    try:
        return RedisServer(name=name, host=values[f"{prefix}_HOST"],
                           port=int(values[f"{prefix}_PORT"]), url=values[f"{prefix}_URL"])
    except KeyError:
        raise ServicesNotRunning(
            f"no settings for {name} ({prefix}_URL): run tests/services/start.sh "
            f"(settings come from the environment or {env_file()})") from None


def redis_a() -> RedisServer:
    """The first Redis server (the tests' source)."""
    return _redis("redis-a", "MEGASYNC_REDIS_A")


def redis_b() -> RedisServer:
    """The second Redis server (the tests' targets, one database each); the one
    a test may stop and start (redis_ctl)."""
    return _redis("redis-b", "MEGASYNC_REDIS_B")


class RedisError(AssertionError):
    """An error reply."""


class Redis:
    """A minimal RESP2 client over one socket (standard library only): enough
    for the tests to write every data type and read keys back. Arguments are
    str, bytes or numbers; replies are bytes, int, None or lists of them."""

    def __init__(self, server: RedisServer, db: int = 0):
        self.server = server
        self.sock = socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT)
        self.buf = b""
        if db:
            self.call("SELECT", db)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Redis":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _encode(args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, (int, float)):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.server.name} closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.server.name} closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line!r}")

    def pipeline(self, commands):
        """Sends every command, then reads every reply; raises the first error."""
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        replies = [self._reply() for _ in commands]
        for r in replies:
            if isinstance(r, RedisError):
                raise r
        return replies

    def call(self, *args):
        return self.pipeline([args])[0]

    def state(self, pattern: str = "*") -> Dict[bytes, tuple]:
        """Every key matching `pattern`: (type, DEBUG DIGEST-VALUE, PEXPIRETIME)."""
        keys, cursor = [], b"0"
        while True:
            cursor, batch = self.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys.extend(batch)
            if cursor == b"0":
                break
        out = {}
        replies = self.pipeline([c for k in keys for c in
                                 (("TYPE", k), ("DEBUG", "DIGEST-VALUE", k), ("PEXPIRETIME", k))])
        for i, k in enumerate(keys):
            kind, digest, expire = replies[3 * i:3 * i + 3]
            if expire != -2:
                out[k] = (kind, digest[0] if isinstance(digest, list) else digest, expire)
        return out


def redis_ctl(name: str, action: str) -> None:
    """Stops or starts one of the harness's Redis servers
    (tests/services/redis-ctl.sh); raises on failure."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services",
                          "redis-ctl.sh")
    result = subprocess.run([script, name, action], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise SqlError(f"redis-ctl.sh {name} {action} failed: {result.stderr.strip()}",
                       result.stderr)


# --- NATS (tests/services: nats-server with JetStream) --------------------------

def nats_url() -> str:
    """The test NATS server's URL (nats://host:port)."""
    url = _settings().get("MEGASYNC_NATS_URL")
    if not url:
        raise ServicesNotRunning(
            f"no settings for nats (MEGASYNC_NATS_URL): run tests/services/start.sh "
            f"(settings come from the environment or {env_file()})")
    return url


def nats_ctl(action: str) -> None:
    """Stops or starts the harness's nats-server (tests/services/nats-ctl.sh);
    its JetStream store stays. Raises on failure."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services",
                          "nats-ctl.sh")
    result = subprocess.run([script, action], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SqlError(f"nats-ctl.sh {action} failed: {result.stderr.strip()}", result.stderr)


@dataclasses.dataclass
class NatsMessage:
    subject: str
    payload: bytes
    headers: List[Tuple[str, str]]
    seq: int = 0

    def header(self, name: str) -> Optional[str]:
        return next((v for k, v in self.headers if k == name), None)


def _nats_line(subject: str, msg_id: str, payload: bytes, headers=()) -> str:
    fields = [subject, msg_id, payload.hex()]
    fields += [f"{k}={v.encode().hex()}" for k, v in headers]
    return "\t".join(fields) + "\n"


class Nats:
    """The tests' NATS client: the nats-tool program (tests/tools/nats_tool.c,
    built beside megasync; MEGASYNC_NATS_TOOL names another)."""

    def __init__(self) -> None:
        self.url = nats_url()
        self.tool = os.environ.get("MEGASYNC_NATS_TOOL") or os.path.join(
            os.path.dirname(os.environ.get("MEGASYNC_BIN", "megasync")), "nats-tool")

    def _run(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run([self.tool, self.url, *args], input=stdin, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise SqlError(f"nats-tool {' '.join(args)} failed: {result.stderr.strip()}",
                           result.stderr)
        return result.stdout

    def add_stream(self, name: str, *subjects: str) -> None:
        self._run("add-stream", name, *subjects)

    def delete_stream(self, name: str) -> None:
        self._run("delete-stream", name)

    def publish(self, messages) -> None:
        """Publishes (subject, id, payload, headers) tuples through JetStream;
        raises unless every one was acked."""
        out = self._run("publish", stdin="".join(_nats_line(*m) for m in messages))
        bad = [line for line in out.splitlines() if not line.startswith("ok ")]
        if bad or len(out.splitlines()) != len(messages):
            raise SqlError(f"publish failed: {bad[:3]}", out)

    def publisher(self) -> subprocess.Popen:
        """A running `nats-tool publish`: write lines with publish_line(), read
        "ok ID" lines from its stdout."""
        return subprocess.Popen([self.tool, self.url, "publish"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1)

    @staticmethod
    def line(subject: str, msg_id: str, payload: bytes, headers=()) -> str:
        return _nats_line(subject, msg_id, payload, headers)

    def dump(self, stream: str) -> List[NatsMessage]:
        out = []
        for line in self._run("dump", stream).splitlines():
            fields = line.split("\t")
            headers = []
            for f in fields[3:]:
                k, v = f.split("=", 1)
                headers.append((k, bytes.fromhex(v).decode()))
            out.append(NatsMessage(subject=fields[1], payload=bytes.fromhex(fields[2]),
                                   headers=headers, seq=int(fields[0])))
        return out


# --- SQS (fauxqs) ---------------------------------------------------------------

def sqs_url() -> str:
    """The SQS emulator's URL (fauxqs, tests/services/start.sh)."""
    url = _settings().get("MEGASYNC_SQS_URL")
    if not url:
        raise ServicesNotRunning(
            f"no settings for sqs (MEGASYNC_SQS_URL): run tests/services/start.sh "
            f"(settings come from the environment or {env_file()})")
    return url


# --- RabbitMQ -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RabbitServer:
    """The harness's RabbitMQ node (tests/services/start.sh)."""
    host: str
    port: int
    user: str
    password: str


def rabbitmq() -> RabbitServer:
    values = _settings()
    try:
        return RabbitServer(host=values["MEGASYNC_RABBITMQ_HOST"],
                            port=int(values["MEGASYNC_RABBITMQ_PORT"]),
                            user=values["MEGASYNC_RABBITMQ_USER"],
                            password=values["MEGASYNC_RABBITMQ_PASSWORD"])
    except KeyError:
        raise ServicesNotRunning(
            "no settings for rabbitmq (MEGASYNC_RABBITMQ_PORT): run tests/services/start.sh "
            f"(settings come from the environment or {env_file()})") from None


def pika_module():
    """Debian's python3-pika (scripts/install-deps.sh). A Python other than
    Debian's (pyenv, a venv) finds it in Debian's dist-packages: pika is pure
    Python."""
    try:
        import pika  # noqa: F401
    except ImportError:
        import sys
        sys.path.append("/usr/lib/python3/dist-packages")
        import pika  # noqa: F401
    return pika


def amqp_connect(server: RabbitServer):
    """A pika BlockingConnection to the node; the caller closes it."""
    pika = pika_module()
    params = pika.ConnectionParameters(
        host=server.host, port=server.port, virtual_host="/",
        credentials=pika.PlainCredentials(server.user, server.password),
        connection_attempts=30, retry_delay=0.5, heartbeat=0)
    return pika.BlockingConnection(params)


def rabbitmq_ctl(action: str) -> None:
    """Stops, starts or restarts the node (tests/services/rabbitmq-ctl.sh);
    raises on failure."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services",
                          "rabbitmq-ctl.sh")
    result = subprocess.run([script, action], capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise SqlError(f"rabbitmq-ctl.sh {action} failed: {result.stderr.strip()}",
                       result.stderr)

# --- Mosquitto (MQTT) -------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MosquittoServer:
    """The harness's Mosquitto broker (tests/services/start.sh)."""
    host: str
    port: int
    message_size_limit: int


def mosquitto() -> MosquittoServer:
    values = _settings()
    try:
        return MosquittoServer(host=values["MEGASYNC_MOSQUITTO_HOST"],
                               port=int(values["MEGASYNC_MOSQUITTO_PORT"]),
                               message_size_limit=int(
                                   values["MEGASYNC_MOSQUITTO_MESSAGE_SIZE_LIMIT"]))
    except KeyError:
        raise ServicesNotRunning(
            "no settings for mosquitto (MEGASYNC_MOSQUITTO_PORT): run tests/services/start.sh "
            f"(settings come from the environment or {env_file()})") from None


def mosquitto_ctl(action: str) -> None:
    """Stops, starts or restarts the broker (tests/services/mosquitto-ctl.sh);
    raises on failure."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services",
                          "mosquitto-ctl.sh")
    result = subprocess.run([script, action], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SqlError(f"mosquitto-ctl.sh {action} failed: {result.stderr.strip()}",
                       result.stderr)
