"""Crash tests of the s3 target (src/connectors/s3, src/sync/objects): `megasync
sync` killed with SIGKILL in the middle of copying a tree, then run again. The
last run must make the bucket equal to the source (`megasync verify` and
`rclone check`), leave no partial object and no multipart upload open.

A killed process cannot abort its own uploads: each multipart upload is noted
under `.megasync-uploads/` in the bucket while it is open, and the next process
aborts those its predecessor left before it writes anything. s3rver cannot
abort uploads (it answers 405), so here the tests check that every note is
consumed and that the runs after the kills leave no upload of their own."""

import os
import random
import signal
import subprocess
import textwrap
import time
import unittest

from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for
from object_stores import new_bucket_name, open_uploads, rclone_check, rclone_list, s3

MIB = 1024 * 1024
DEADLINE = 120.0  # upper bound for the upload to begin; not a sleep


class S3CrashTest(DaemonTestCase):

    def write_tree(self, small: int, large: int) -> str:
        source = os.path.join(self.tmp, "source")
        for i in range(small):
            path = os.path.join(source, f"small/{i % 7}/{i % 13}/f{i}.txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(os.urandom(100 + i % 4000))
        os.makedirs(os.path.join(source, "large"), exist_ok=True)
        for i in range(large):
            with open(os.path.join(source, f"large/l{i}.bin"), "wb") as f:
                f.write(os.urandom(16 * MIB + i))
        return source

    def write_config(self, bucket: str) -> str:
        server = s3()
        config = os.path.join(self.tmp, "crash.yaml")
        with open(config, "w") as f:
            f.write(textwrap.dedent(f"""\
                state:
                  path: state.db
                endpoints:
                  local:
                    type: fs
                    path: source
                    read_only: true
                  bucket:
                    type: s3
                    bucket: {bucket}
                    endpoint: {server.url}
                    access_key_id: {server.access_key_id}
                    secret_access_key: {server.secret_access_key}
                    create: true
                    multipart_threshold: 5MiB
                    part_size: 5MiB
                    part_concurrency: 2
                jobs:
                  files:
                    kind: storage
                    source: local
                    target: bucket
                    delete: true
                    transfers: 4
                """))
        return config

    def start_sync(self, config: str) -> subprocess.Popen:
        process = subprocess.Popen([BINARY, "sync", "-c", config, "files"], cwd=self.tmp,
                                   env=child_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process

    def assert_converges(self, config: str, source: str, bucket: str,
                         left_by_kills: set) -> None:
        server = s3()
        result = run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)
        rclone_check(server, source, f"s3r:{bucket}")
        self.assertLessEqual(set(open_uploads(server, bucket)), left_by_kills,
                             "a run that was not killed left an upload open")
        self.assertFalse([p for p in rclone_list(server, f"s3r:{bucket}")
                          if p.startswith(".megasync-uploads/")],
                         "notes of open uploads were left in the bucket")

    def test_kill_during_multipart_upload_then_rerun(self):
        server = s3()
        bucket = new_bucket_name("crash")
        source = self.write_tree(small=150, large=3)
        config = self.write_config(bucket)
        process = self.start_sync(config)

        def upload_open() -> bool:
            self.assertIsNone(process.poll(), "the sync ended before any multipart upload began")
            return bool(open_uploads(server, bucket))

        wait_for(upload_open, DEADLINE, "a multipart upload to begin", interval=0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        left_by_kill = set(open_uploads(server, bucket))
        self.assertTrue(left_by_kill, "the kill left no upload open")

        self.assert_converges(config, source, bucket, left_by_kill)

    def test_killed_at_ten_random_moments(self):
        """Many small files and a few large ones; the sync is killed at 10
        random moments (each after a random share of a run), restarted each
        time, then run to the end."""
        bucket = new_bucket_name("kills")
        source = self.write_tree(small=1500, large=4)
        config = self.write_config(bucket)
        seed = int(os.environ.get("MEGASYNC_TEST_SEED", time.time_ns()))
        rng = random.Random(seed)
        server = s3()
        kills = 0
        left_by_kills = set()
        while kills < 10:
            before = set(open_uploads(server, bucket))
            process = self.start_sync(config)
            # A random moment of the run: not a wait for a condition.
            try:
                process.wait(timeout=rng.uniform(0.2, 2.5))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                kills += 1
                left_by_kills |= set(open_uploads(server, bucket)) - before
                continue
            # It finished before the moment came: start over with a fresh
            # bucket half, so the remaining kills still hit a sync in progress.
            self.assertEqual(process.returncode, EXIT_OK, f"seed {seed}")
            for name in os.listdir(os.path.join(source, "large")):
                with open(os.path.join(source, "large", name), "r+b") as f:
                    f.write(os.urandom(4096))
            for i in range(0, 1500, 3):
                path = os.path.join(source, f"small/{i % 7}/{i % 13}/f{i}.txt")
                with open(path, "ab") as f:
                    f.write(b"+")
        self.assert_converges(config, source, bucket, left_by_kills)


if __name__ == "__main__":
    unittest.main()
