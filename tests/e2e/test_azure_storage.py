"""End-to-end tests of the azure_blob endpoint as a target: `megasync sync` of a
`storage` job from an fs tree into a container of Azurite (which checks every
SharedKey signature), with rclone as the judge (`rclone check` must find 0
differences after every sync) (src/connectors/azure_blob, src/sync/objects)."""

import os
import textwrap
import time
import unittest

from megasync_harness import EXIT_FAILED, EXIT_INVALID, EXIT_OK, DaemonTestCase, run_cli
from object_stores import account_sas, azurite, new_container_name, rclone, rclone_check, rclone_list

MIB = 1024 * 1024

# Names that need encoding in URLs and in the SharedKey canonicalized resource.
AWKWARD = [
    "with space.txt",
    "ünïcödé/日本語.txt",
    "plus+sign.txt",
    "percent%41.txt",
    "hash#tag.txt",
    "question?mark.txt",
    "equals=and&amp.txt",
    "star*paren(1)'quote'.txt",
    "deep/a/b/c/d/e/f/g/h/i/j/leaf.txt",
    "trailing.dots..txt",
]


class AzureTargetTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.server = azurite()
        self.container = new_container_name("tgt")
        self.source = os.path.join(self.tmp, "source")
        for i in range(30):
            self.put(f"d{i % 3}/sub{i % 2}/f{i}.dat", os.urandom(i * 131))
        self.put("empty.txt", b"")

    def put(self, relative: str, data: bytes) -> None:
        path = os.path.join(self.source, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def config(self, endpoint: str = "", **job: str) -> str:
        """A job `files` from fs `local` to azure_blob `blobs`; `endpoint` adds
        lines to the azure_blob endpoint, `job` options to the job."""
        extra = "".join(f"\n{key}: {value}" for key, value in job.items())
        text = textwrap.dedent(f"""\
            state:
              path: state.db
            endpoints:
              local:
                type: fs
                path: source
                read_only: true
              blobs:
                type: azure_blob
                account: {self.server.account}
                container: {self.container}
                endpoint: {self.server.url}
                key: ${{AZ_TEST_KEY}}
                create: true""") + textwrap.indent(endpoint, "    ") + textwrap.dedent("""
            jobs:
              files:
                kind: storage
                source: local
                target: blobs""") + textwrap.indent(extra, "    ") + "\n"
        path = os.path.join(self.tmp, "azure.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def sync(self, config: str, *flags: str, key: str = None):
        return run_cli(["sync", "-c", config, *flags, "files"], cwd=self.tmp, timeout=300,
                       env={"AZ_TEST_KEY": key or self.server.key})

    def check(self, remote_path: str = "") -> None:
        rclone_check(self.server, self.source, f"azr:{self.container}{remote_path}")

    def test_copy_change_delete_and_nothing_left_to_do(self):
        config = self.config(delete="true")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 31 records", result.stdout)
        self.check()

        self.put("d1/sub1/f1.dat", b"modified, and of another size")
        self.put("new/added.txt", b"new file")
        os.remove(os.path.join(self.source, "d2/sub0/f2.dat"))
        # Same size, newer mtime: seen through the mtime kept in the metadata.
        with open(os.path.join(self.source, "d0/sub0/f6.dat"), "r+b") as f:
            data = f.read()
            f.seek(0)
            f.write(bytes(b ^ 0xFF for b in data))
        later = time.time() + 5
        os.utime(os.path.join(self.source, "d0/sub0/f6.dat"), (later, later))
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 4 records", result.stdout)
        self.check()

        # A new process: the comparison uses the metadata megasync stored
        # (x-ms-meta-mtime, listed with the blobs), so nothing is copied.
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120,
                         env={"AZ_TEST_KEY": self.server.key})
        self.assert_exit(verify, EXIT_OK)

    def test_dry_run_changes_nothing(self):
        config = self.config()
        result = self.sync(config, "--dry-run")
        self.assert_exit(result, EXIT_OK)
        self.assertIn("31 to copy", result.stderr)
        # Not even the container was created.
        listing = rclone(self.server, "lsf", "azr:")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertNotIn(self.container, listing.stdout)

        self.assert_exit(self.sync(config), EXIT_OK)
        self.put("d0/sub0/f0.dat", b"changed")
        before = rclone_list(self.server, f"azr:{self.container}")
        result = self.sync(config, "--dry-run")
        self.assert_exit(result, EXIT_OK)
        self.assertIn("1 to replace", result.stderr)
        self.assertEqual(rclone_list(self.server, f"azr:{self.container}"), before)
        with self.assertRaises(AssertionError):
            self.check()

    def test_include_exclude_and_prefix_with_a_sas_token(self):
        self.put("skip/me.tmp", b"temporary")
        self.put("d0/also.tmp", b"temporary")
        config = self.config("\nprefix: backups/daily", exclude='["**/*.tmp"]')
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("key: ${AZ_TEST_KEY}", "sas_token: ${AZ_TEST_KEY}"))
        self.assert_exit(self.sync(config, key=account_sas(self.server)), EXIT_OK)
        objects = rclone_list(self.server, f"azr:{self.container}")
        self.assertTrue(all(o.startswith("backups/daily/") for o in objects), objects)
        self.assertFalse(any(o.endswith(".tmp") for o in objects), objects)
        self.assertEqual(len(objects), 31)
        rclone_check(self.server, self.source, f"azr:{self.container}/backups/daily",
                     "--exclude", "*.tmp")

    def test_block_upload_above_the_threshold(self):
        # 4 blocks of at most 3 MiB (3 at once); one streamed Put Blob (above
        # the 8 MiB held in memory, below the threshold); one from memory.
        big = os.urandom(11 * MIB + 12345)
        self.put("large/big.bin", big)
        self.put("large/streamed.bin", os.urandom(9 * MIB - 7))
        self.put("large/small.bin", os.urandom(3 * MIB))
        config = self.config("\nblock_threshold: 10MiB\nblock_size: 3MiB\nblock_concurrency: 3")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.check()  # compares MD5s: the block blob's Content-MD5 is set at commit
        got = os.path.join(self.tmp, "big.copy")
        copy = rclone(self.server, "copyto", f"azr:{self.container}/large/big.bin", got)
        self.assertEqual(copy.returncode, 0, copy.stderr)
        with open(got, "rb") as f:
            self.assertEqual(f.read(), big)
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

    def test_awkward_names_round_trip(self):
        for name in AWKWARD:
            self.put(name, f"content of {name}".encode())
        config = self.config(delete="true")
        self.assert_exit(self.sync(config), EXIT_OK)
        self.check()
        objects = set(rclone_list(self.server, f"azr:{self.container}"))
        for name in AWKWARD:
            self.assertIn(name, objects)
        for name in AWKWARD[:4]:
            os.remove(os.path.join(self.source, name))
        self.assert_exit(self.sync(config), EXIT_OK)
        self.check()

    def test_keep_versions(self):
        config = self.config(keep_versions="2", delete="true")
        self.assert_exit(self.sync(config), EXIT_OK)
        for n in range(3):
            self.put("d1/sub1/f1.dat", f"version {n} {'x' * n}".encode())
            self.assert_exit(self.sync(config), EXIT_OK)
        kept = rclone_list(self.server, f"azr:{self.container}/.megasync-versions/d1/sub1/f1.dat")
        self.assertEqual(len(kept), 2, kept)  # pruned to keep_versions
        newest = rclone(self.server, "cat",
                        f"azr:{self.container}/.megasync-versions/d1/sub1/f1.dat/{max(kept)}")
        self.assertEqual(newest.stdout, "version 1 x")
        # The versions are not objects of the store: the check ignores them.
        rclone_check(self.server, self.source, f"azr:{self.container}",
                     "--exclude", ".megasync-versions/**")

    def test_missing_container_and_bad_key_are_clear_permanent_errors(self):
        config = self.config()
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("    create: true\n", ""))
        result = self.sync(config)
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn(f"container '{self.container}' does not exist", result.stderr)
        self.assertIn("create: true", result.stderr)

        wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="  # valid base64, not the key
        started = time.monotonic()
        result = self.sync(config, key=wrong)
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn("access denied", result.stderr)
        self.assertIn(self.server.url, result.stderr)
        self.assertNotIn(wrong, result.stdout + result.stderr)
        self.assertLess(time.monotonic() - started, 30)  # no retry storm

        # Not base64 at all: a configuration error, before any request.
        result = self.sync(config, key="not base64 at all")
        self.assert_exit(result, EXIT_INVALID)
        self.assertIn("key: the key is not base64", result.stderr)
        self.assertNotIn("not base64 at all", result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
