"""Crash test of the azure_blob target: `megasync sync` killed with SIGKILL while
a block upload is open (blocks uploaded, the block list not yet committed), then
run again. The rerun must make the container equal to the source (`megasync
verify` and `rclone check`); the killed upload must never be visible as a blob,
and the rerun's commit discards its blocks, so no block upload is left open
(src/connectors/azure_blob, src/sync/objects)."""

import os
import signal
import subprocess
import textwrap
import unittest

from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for
from object_stores import (azure_blob_names, azurite, new_container_name, open_block_uploads,
                           rclone_check)

MIB = 1024 * 1024
DEADLINE = 120.0  # upper bound for a block upload to begin; not a sleep


class AzureCrashTest(DaemonTestCase):

    def test_kill_during_block_upload_then_rerun(self):
        server = azurite()
        container = new_container_name("crash")
        source = os.path.join(self.tmp, "source")
        for i in range(150):
            path = os.path.join(source, f"small/{i % 10}/f{i}.txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(os.urandom(100 + i))
        os.makedirs(os.path.join(source, "large"), exist_ok=True)
        large = [f"large/l{i}.bin" for i in range(3)]
        for i, name in enumerate(large):
            with open(os.path.join(source, name), "wb") as f:
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
                  blobs:
                    type: azure_blob
                    account: {server.account}
                    key: {server.key}
                    container: {container}
                    endpoint: {server.url}
                    create: true
                    block_threshold: 1MiB
                    block_size: 1MiB
                    block_concurrency: 1
                jobs:
                  files:
                    kind: storage
                    source: local
                    target: blobs
                    delete: true
                    transfers: 2
                """))

        process = subprocess.Popen([BINARY, "sync", "-c", config, "files"], cwd=self.tmp,
                                   env=child_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: process.poll() is None and process.kill())

        def upload_open() -> bool:
            self.assertIsNone(process.poll(), "the sync ended before any block upload began")
            return bool(open_block_uploads(server, container))

        wait_for(upload_open, DEADLINE, "a block upload to begin", interval=0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        cut_short = open_block_uploads(server, container)
        self.assertTrue(cut_short)
        # Uncommitted blocks are no blob: nothing partial is visible.
        visible = set(azure_blob_names(server, container))
        self.assertFalse(visible & set(cut_short), cut_short)

        result = run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)
        rclone_check(server, source, f"azr:{container}")
        self.assertEqual(open_block_uploads(server, container), [])


if __name__ == "__main__":
    unittest.main()
