"""Outages of an object store in the middle of a sync: `megasync sync` of a
folder into s3rver, and separately into Azurite, with the server stopped
(tests/services/node-ctl.sh) after the first objects arrived and started again
once the job reported the outage. The job must report it (the failed attempt's
transfer errors and "retrying" in its log), retry, and complete: the store
then equals the source by `rclone check` and `megasync verify`
(src/connectors/http, src/connectors/s3, src/connectors/azure_blob,
src/engine/job_runner.cc).

The servers serve every object store test: ctest runs these under the
`object_servers` resource lock (CMakeLists.txt)."""

import os
import re
import subprocess
import textwrap
import unittest

from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for
from object_stores import (azure_blob_names, azurite, new_bucket_name, new_container_name,
                           node_ctl, rclone_check, s3)

MIB = 1024 * 1024
BEGIN_TIMEOUT = 120.0  # upper bounds, not sleeps
REPORT_TIMEOUT = 240.0
FINISH_TIMEOUT = 300.0


class ObjectOutageTest(DaemonTestCase):

    def make_source(self) -> str:
        """Files that each take several requests (blocks, parts), so that the
        sync is still busy when the server goes away."""
        source = os.path.join(self.tmp, "source")
        for i in range(5):
            path = os.path.join(source, f"big/b{i}.bin")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(os.urandom(11 * MIB + i))
        for i in range(3):
            path = os.path.join(source, f"small/s{i}.txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(os.urandom(500 + i))
        return source

    def write_config(self, target: str) -> str:
        text = textwrap.dedent("""\
            state:
              path: state.db
            endpoints:
              local:
                type: fs
                path: source
                read_only: true
            """) + textwrap.indent(target, "  ") + textwrap.dedent("""\
            jobs:
              files:
                kind: storage
                source: local
                target: store
                delete: true
                transfers: 1
                retry:
                  max_attempts: 20
                  initial_backoff: 1s
                  max_backoff: 3s
            """)
        path = os.path.join(self.tmp, "outage.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def sync_through_outage(self, server_name: str, store: str, config: str, arrived) -> None:
        """Runs the sync, stops `server_name` once `arrived()` is true, starts it
        again when the job has reported the outage and waits for the sync to
        succeed. `store` is how the endpoint's errors name it."""
        log_path = os.path.join(self.tmp, "sync.log")
        log = open(log_path, "w")
        self.addCleanup(log.close)
        # Whatever happens, the server is up again for the next test.
        self.addCleanup(node_ctl, server_name, "start")
        process = subprocess.Popen([BINARY, "sync", "-c", config, "files"], cwd=self.tmp,
                                   env=child_env(), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: process.poll() is None and process.kill())

        def text() -> str:
            with open(log_path) as f:
                return f.read()

        def begun() -> bool:
            self.assertIsNone(process.poll(), f"the sync ended before the outage:\n{text()}")
            return arrived()

        wait_for(begun, BEGIN_TIMEOUT, "the first objects to arrive", interval=0.02)
        node_ctl(server_name, "stop")
        wait_for(lambda: "retrying in" in text() or process.poll() is not None, REPORT_TIMEOUT,
                 "the job to report the outage and retry", interval=0.2)
        self.assertIsNone(process.poll(), f"the sync gave up during the outage:\n{text()}")
        node_ctl(server_name, "start")
        self.assertEqual(process.wait(timeout=FINISH_TIMEOUT), EXIT_OK, text())
        report = text()
        # Each transfer the outage broke is logged, naming the store; then the
        # attempt is retried, and the run succeeds.
        self.assertRegex(report, rf"warning +job files: copy [^\n]*: write: {re.escape(store)}")
        self.assertRegex(report, r"job files: run 1 attempt [2-9]")
        self.assertIn("job files: run 1 succeeded", report)

    def test_s3_server_stopped_mid_sync(self):
        server = s3()
        bucket = new_bucket_name("outage")
        source = self.make_source()
        config = self.write_config(textwrap.dedent(f"""\
            store:
              type: s3
              bucket: {bucket}
              endpoint: {server.url}
              access_key_id: {server.access_key_id}
              secret_access_key: {server.secret_access_key}
              create: true
              multipart_threshold: 5MiB
              part_size: 5MiB
              part_concurrency: 1
            """))
        objects = os.path.join(server.data_dir, bucket)

        def arrived() -> bool:
            return os.path.isdir(objects) and any(
                name.endswith("._S3rver_object") for _, _, names in os.walk(objects)
                for name in names)

        self.sync_through_outage("s3rver", f"s3 {server.url}/{bucket}", config, arrived)
        rclone_check(server, source, f"s3r:{bucket}")
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)

    def test_azurite_stopped_mid_sync(self):
        server = azurite()
        container = new_container_name("outage")
        source = self.make_source()
        config = self.write_config(textwrap.dedent(f"""\
            store:
              type: azure_blob
              account: {server.account}
              key: {server.key}
              container: {container}
              endpoint: {server.url}
              create: true
              block_threshold: 1MiB
              block_size: 1MiB
              block_concurrency: 1
            """))
        self.sync_through_outage("azurite", f"azure_blob {server.url}/{container}", config,
                                 lambda: bool(azure_blob_names(server, container)))
        rclone_check(server, source, f"azr:{container}")
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)


if __name__ == "__main__":
    unittest.main()
