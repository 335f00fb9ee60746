"""Shared helpers for megasync's end-to-end tests (standard library only).

The tests run the real binary: `MEGASYNC_BIN` names it and `MEGASYNC_SOURCE_DIR`
the repository root (CTest sets both; see CMakeLists.txt). Without them the
defaults are the `ci` preset's build of this checkout.

`Daemon` starts `megasync run` as a child process on a config written into a
temporary directory, with its stderr (the log) captured to a file, waits for
/readyz by polling with a deadline, and offers HTTP helpers. `Daemon.stop()`
sends SIGTERM and returns the exit code; `Daemon.kill()` (registered as a test
cleanup by `start_daemon`) makes sure no daemon outlives its test.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from typing import Any, Callable, Optional

SOURCE_DIR = os.path.abspath(
    os.environ.get("MEGASYNC_SOURCE_DIR")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BINARY = os.path.abspath(
    os.environ.get("MEGASYNC_BIN") or os.path.join(SOURCE_DIR, "build", "ci", "megasync"))

# Exit codes of the CLI (src/app/commands.h).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_UNREACHABLE = 3
EXIT_START_FAILED = 4

# The sanitizer build is slow to start; these are upper bounds, not sleeps.
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# Variables of the test runner's environment that would change a config's
# meaning (config/README.md "Precedence") are not passed to the daemon.
_CONFIG_VARIABLES = ("MONITORING_INTERVAL", "LOG_LEVEL", "MEGASYNC_API_TOKEN", "MEGASYNC_LISTEN")


def child_env(extra: Optional[dict] = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in _CONFIG_VARIABLES and not k.startswith("SYNC_")}
    # Sanitizer reports must fail the test loudly, not hide in a log.
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if extra:
        env.update(extra)
    return env


def run_cli(args: list, *, env: Optional[dict] = None, cwd: Optional[str] = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs `megasync ARGS...` to completion and captures stdout and stderr."""
    return subprocess.run([BINARY, *args], cwd=cwd, env=child_env(env), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def pick_port() -> int:
    """A port in 20000-30000 that is free right now (the daemon may still lose a
    race for it; Daemon.start() retries with another one)."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        if port_is_free(port):
            return port
    raise RuntimeError("no free port found in 20000-30000")


def closed_port() -> int:
    """A loopback port where nothing listens (for 'cannot reach' tests)."""
    return pick_port()


def wait_for(predicate: Callable[[], Any], timeout: float, message: str = "condition",
             interval: float = 0.1) -> Any:
    """Polls `predicate` until it returns something truthy; returns that value.
    Raises AssertionError after `timeout` seconds with `message`."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as e:
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {message}{detail}")
        time.sleep(interval)


def processes_in_session(session: int) -> list:
    """(pid, argv) of the live processes of a session (the daemon leads its own,
    and the commands of its jobs stay in it)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # After the command name: state, ppid, pgrp, session.
            if int(fields[3]) != session or fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            found.append((int(entry), argv))
        except (OSError, IndexError, ValueError):
            continue
    return found


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.text[:500]!r})"


def http(method: str, url: str, *, token: Optional[str] = None, body: Optional[bytes] = None,
         timeout: float = 10.0) -> Response:
    """One HTTP request; any status (4xx/5xx included) is returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()},
                            answer.read())
    except urllib.error.HTTPError as e:
        payload = e.read()
        return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, payload)


class Daemon:
    """`megasync run` on a config generated for a port.

    `config` is a function of the port that returns the YAML text, so that the
    daemon can be restarted on another port if it loses the race for one.
    """

    def __init__(self, workdir: str, config: Callable[[int], str], *,
                 env: Optional[dict] = None, config_name: str = "megasync.yaml",
                 args: Optional[list] = None):
        self.workdir = workdir
        self.args = list(args or [])  # more arguments of `megasync run`
        self.config_fn = config
        self.env = env
        self.config_path = os.path.join(workdir, config_name)
        self.stderr_path = os.path.join(workdir, "daemon.stderr.log")
        self.stdout_path = os.path.join(workdir, "daemon.stdout.log")
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.exit_code: Optional[int] = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, attempts: int = 5) -> "Daemon":
        for _ in range(attempts):
            self.port = pick_port()
            self.write_config(self.config_fn(self.port))
            self._spawn()
            if self._wait_ready():
                return self
            log = self.stderr()
            if self.exit_code == EXIT_START_FAILED and "cannot listen" in log:
                continue  # lost the port to someone else: try another one
            raise AssertionError(
                f"megasync run exited with {self.exit_code} before it was ready; log:\n{log}")
        raise AssertionError("megasync run could not get a free port")

    def _spawn(self) -> None:
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(
                [BINARY, "run", "-c", self.config_path, *self.args], cwd=self.workdir, env=child_env(self.env),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        self.exit_code = None

    def _wait_ready(self) -> bool:
        """True when /readyz answers 200; False when the process exited first."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.exit_code = code
                return False
            try:
                if self.get("/readyz", timeout=2).status == 200:
                    return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"/readyz did not answer 200 within {READY_TIMEOUT} s; log:\n{self.stderr()}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def sighup(self) -> None:
        self.signal(signal.SIGHUP)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then waits for the exit; returns the exit code."""
        if self.proc is None:
            raise AssertionError("the daemon was not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the daemon did not exit within {timeout} s of SIGTERM; log:\n{self.stderr()}")
        return self.exit_code

    def kill(self) -> None:
        """SIGKILL the daemon and its process group (job commands) if still alive."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Job commands run in their own process groups; a killed daemon could
        # leave them behind. They are children of ours only through the daemon,
        # so they are found by their parent pid.
        self._kill_orphans()

    def _kill_orphans(self) -> None:
        # Job commands run in process groups of their own, which a killed daemon
        # could leave behind; they stay in the daemon's session.
        if self.proc is None:
            return
        for pid, _ in processes_in_session(self.proc.pid):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- files ---------------------------------------------------------------

    def write_config(self, text: str) -> None:
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)  # never let a reload read half a file

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def path(self, *parts: str) -> str:
        return os.path.join(self.workdir, *parts)

    # -- HTTP ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, *, token: Optional[str] = None,
                body: Optional[bytes] = None, timeout: float = 10.0) -> Response:
        return http(method, self.base_url + path, token=token, body=body, timeout=timeout)

    def get(self, path: str, *, token: Optional[str] = None, timeout: float = 10.0) -> Response:
        return self.request("GET", path, token=token, timeout=timeout)

    def get_json(self, path: str, *, token: Optional[str] = None) -> Any:
        answer = self.get(path, token=token)
        if answer.status != 200:
            raise AssertionError(f"GET {path}: expected 200, got {answer!r}")
        return answer.json()

    def post(self, path: str, *, token: Optional[str] = None, body: bytes = b"") -> Response:
        return self.request("POST", path, token=token, body=body)

    def runs(self, job: str, token: Optional[str] = None, limit: int = 1000) -> list:
        return self.get_json(f"/api/v1/jobs/{job}/runs?limit={limit}", token=token)["runs"]

    def job(self, job: str, token: Optional[str] = None) -> dict:
        return self.get_json(f"/api/v1/jobs/{job}", token=token)

    def events(self, token: Optional[str] = None, **query: str) -> list:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        return self.get_json("/api/v1/events" + (f"?{params}" if params else ""),
                             token=token)["events"]


class DaemonTestCase(unittest.TestCase):
    """A test case with a temporary directory and daemons that never outlive it."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="megasync-e2e-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name

    def start_daemon(self, config: Callable[[int], str], **kwargs: Any) -> Daemon:
        daemon = Daemon(self.tmp, config, **kwargs)
        # Cleanups run last-in first-out: kill, then read the log, then remove
        # the directory.
        self.addCleanup(self.assert_no_sanitizer_report, daemon)
        self.addCleanup(daemon.kill)
        daemon.start()
        return daemon

    def kill_under_load(self, config: Callable[[int], str], load: "threading.Thread",
                        stop: Optional["threading.Event"], kills: int,
                        delay: tuple, rng: random.Random) -> None:
        """The crash tests' loop: starts `load` (a thread writing to the source),
        then starts the daemon on `config` and kills it with SIGKILL `kills`
        times, each after a random delay drawn from `delay`; at the end sets
        `stop` (when given) and waits for the load to end."""
        load.start()
        try:
            for _ in range(kills):
                daemon = self.start_daemon(config)
                time.sleep(rng.uniform(*delay))  # the kill moment (not a wait)
                daemon.kill()
        finally:
            if stop is not None:
                stop.set()
            load.join()

    def assert_no_sanitizer_report(self, daemon: Daemon) -> None:
        log = daemon.stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer"):
            if marker in log:
                start = log.index(marker)
                self.fail(f"the daemon's log has a sanitizer report:\n{log[max(0, start - 200):start + 4000]}")

    def assert_exit(self, result: subprocess.CompletedProcess, code: int) -> None:
        self.assertEqual(
            result.returncode, code,
            f"expected exit {code}, got {result.returncode}\n--- stdout:\n{result.stdout}"
            f"\n--- stderr:\n{result.stderr}")
        self.assertNotIn("Sanitizer", result.stderr)
        self.assertNotIn("runtime error:", result.stderr)

    def state_db(self, daemon: Daemon, name: str = "state.db") -> sqlite3.Connection:
        """The daemon's state file, opened read-only."""
        path = daemon.path(name)
        self.assertTrue(os.path.exists(path), f"no state file at {path}")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.addCleanup(db.close)
        return db
