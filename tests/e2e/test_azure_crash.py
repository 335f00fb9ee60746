"""Crash test of the azure_blob target: `megasync sync` of many small files and a
few large ones (block uploads) killed with SIGKILL at 10 random moments — the
first while a block upload is open (blocks uploaded, the block list not yet
committed), the others when a random number of blobs has arrived — and run
again after each. After every kill each visible blob equals its source file (no
partial blob: `rclone check --one-way` from the container); in the end the
container equals the source (`megasync verify` and `rclone check`) and no block
upload is left open, the commits having discarded the blocks of the killed
uploads (src/connectors/azure_blob, src/sync/objects)."""

import os
import random
import signal
import subprocess
import textwrap
import unittest

from megasync_harness import BINARY, EXIT_OK, DaemonTestCase, child_env, run_cli, wait_for
from object_stores import (azure_blob_names, azurite, new_container_name, open_block_uploads,
                           rclone_check)

MIB = 1024 * 1024
DEADLINE = 120.0  # upper bound for a kill moment to come; not a sleep
KILLS = 10
FILES = 153


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

        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        context = f"(random seed {seed})"
        killed = 0
        for n in range(KILLS):
            process = subprocess.Popen([BINARY, "sync", "-c", config, "files"], cwd=self.tmp,
                                       env=child_env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            self.addCleanup(lambda p=process: p.poll() is None and p.kill())
            if n == 0:
                def moment() -> bool:
                    return bool(open_block_uploads(server, container))
            else:
                have = len(azure_blob_names(server, container))
                want = have + rng.randint(1, max(1, (FILES - have) // 4))

                def moment() -> bool:
                    return len(azure_blob_names(server, container)) >= want

            wait_for(lambda: process.poll() is not None or moment(), DEADLINE,
                     f"kill moment {n + 1} {context}", interval=0.02)
            if process.poll() is not None:
                # The sync finished before this moment came: nothing left to cut.
                self.assertEqual(process.returncode, EXIT_OK, context)
                break
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            killed += 1
            if n == 0:
                self.assertTrue(open_block_uploads(server, container), context)
            # Whatever is visible is complete and equal to its source file.
            rclone_check(server, f"azr:{container}", source, "--one-way")
        self.assertGreaterEqual(killed, 2, context)

        result = run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=300)
        self.assert_exit(result, EXIT_OK)
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)
        rclone_check(server, source, f"azr:{container}")
        self.assertEqual(open_block_uploads(server, container), [])


if __name__ == "__main__":
    unittest.main()
