"""Crash safety of the redis source: while a writer keeps setting, changing,
expiring and deleting keys of every kind, `megasync run` (a streaming `cache`
job) is killed with SIGKILL at random moments and restarted each time;
afterwards the target equals the source, compared here and by `megasync
verify`. Each restart resumes from its checkpoint (no second snapshot): what
the notifications missed is repaired by the comparison after runs.

The kill moments come from a seeded random generator; the seed is printed and
MEGASYNC_CRASH_SEED=<seed> replays a run."""

import os
import random
import sys
import threading
import time
import unittest

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

KEYS = 3000
KILLS = 5
KILL_DELAY = (0.3, 2.5)  # seconds after the daemon answered /readyz
CONVERGE_TIMEOUT = 120.0


class RedisCrashTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.a = services.redis_a()
        self.b = services.redis_b()
        self.src = services.Redis(self.a, 1)
        self.dst = services.Redis(self.b, 6)
        self.addCleanup(self.src.close)
        self.addCleanup(self.dst.close)
        self.src.call("FLUSHDB")
        self.dst.call("FLUSHDB")
        self.addCleanup(self.src.call, "FLUSHDB")
        self.addCleanup(self.dst.call, "FLUSHDB")
        self.seed = int(os.environ.get("MEGASYNC_CRASH_SEED", random.randrange(2**32)))
        print(f"\nredis crash test seed: {self.seed}", file=sys.stderr)
        self.rng = random.Random(self.seed)
        self.job = "cache_crash"
        self.config = os.path.join(self.tmp, "megasync.yaml")

    def config_text(self, port: int = 0) -> str:
        api = f"api:\n  listen: 127.0.0.1:{port}\n" if port else ""
        return f"""\
state:
  path: state.db
{api}endpoints:
  source:
    type: redis
    url: "{self.a.url}/1"
  replica:
    type: redis
    url: "{self.b.url}/6"
jobs:
  {self.job}:
    kind: cache
    source: source
    targets: [replica]
    stream: true
    interval: 2s
    timeout: 1m
    batch_size: 200
    verify_interval: 1s
"""

    def writer(self, stop: threading.Event, rng: random.Random) -> None:
        with services.Redis(self.a, 1) as r:
            while not stop.is_set():
                commands = []
                for _ in range(50):
                    k = f"k{rng.randrange(KEYS)}"
                    op = rng.randrange(8)
                    if op == 0:
                        commands.append(("DEL", k))
                    elif op == 1:
                        commands.append(("HSET", k + ":h", "f", rng.randrange(1000)))
                    elif op == 2:
                        commands.append(("RPUSH", k + ":l", rng.randrange(1000)))
                    elif op == 3:
                        commands.append(("SET", k, "short", "PX", rng.randrange(200, 3000)))
                    elif op == 4:
                        commands.append(("ZADD", k + ":z", rng.randrange(100), "m"))
                    else:
                        commands.append(("SET", k, rng.randrange(10**6)))
                r.pipeline(commands)
                time.sleep(0.01)

    def test_kill_9_under_writes_then_equal(self):
        self.src.pipeline([("SET", f"k{i}", i) for i in range(KEYS)])
        stop = threading.Event()
        thread = threading.Thread(target=self.writer, args=(stop, random.Random(self.seed)))
        self.kill_under_load(self.config_text, thread, stop, KILLS, KILL_DELAY, self.rng)
        daemon = self.start_daemon(self.config_text)

        def equal():
            return self.dst.state() == self.src.state()
        wait_for(equal, CONVERGE_TIMEOUT, "the target equals the source")
        self.assertEqual(daemon.stop(), 0)
        self.assert_no_sanitizer_report(daemon)
        with open(self.config, "w") as f:
            f.write(self.config_text())
        result = run_cli(["verify", "-c", self.config, self.job], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)


if __name__ == "__main__":
    unittest.main()
