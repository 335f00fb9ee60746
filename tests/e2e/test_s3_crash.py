"""Crash test of the s3 target: `megasync sync` killed with SIGKILL while a
multipart upload is open, then run again. The rerun must make the bucket equal to
the source (`megasync verify` and `rclone check`), and leave no upload of its own
open (src/connectors/s3, src/sync/objects).

The killed process cannot abort its upload: on S3 a lifecycle rule
(AbortIncompleteMultipartUpload) removes such leftovers; s3rver has none, so the
test only checks that the rerun adds no open upload to the ones the kill left."""

import os
import signal
import subprocess
import textwrap
import unittest

from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for
from object_stores import new_bucket_name, open_uploads, rclone_check, s3

MIB = 1024 * 1024
DEADLINE = 120.0  # upper bound for the upload to begin; not a sleep


class S3CrashTest(DaemonTestCase):

    def test_kill_during_multipart_upload_then_rerun(self):
        server = s3()
        bucket = new_bucket_name("crash")
        source = os.path.join(self.tmp, "source")
        for i in range(150):
            path = os.path.join(source, f"small/{i % 10}/f{i}.txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(os.urandom(100 + i))
        os.makedirs(os.path.join(source, "large"), exist_ok=True)
        for i in range(3):
            with open(os.path.join(source, f"large/l{i}.bin"), "wb") as f:
                f.write(os.urandom(16 * MIB + i))
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
                    part_concurrency: 1
                jobs:
                  files:
                    kind: storage
                    source: local
                    target: bucket
                    delete: true
                    transfers: 2
                """))

        process = subprocess.Popen([BINARY, "sync", "-c", config, "files"], cwd=self.tmp,
                                   env=child_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: process.poll() is None and process.kill())

        def upload_open() -> bool:
            self.assertIsNone(process.poll(), "the sync ended before any multipart upload began")
            return bool(open_uploads(server, bucket))

        wait_for(upload_open, DEADLINE, "a multipart upload to begin", interval=0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        left_by_kill = open_uploads(server, bucket)

        result = run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)
        rclone_check(server, source, f"s3r:{bucket}")
        self.assertEqual(open_uploads(server, bucket), left_by_kill)


if __name__ == "__main__":
    unittest.main()
