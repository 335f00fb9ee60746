"""End-to-end tests of the s3 endpoint as a target: `megasync sync` of a
`storage` job from an fs tree into a bucket of a real S3 server (s3rver), with
rclone as the judge (`rclone check` must find 0 differences after every sync)
(src/connectors/s3, src/sync/objects)."""

import os
import textwrap
import time
import unittest

from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli
from object_stores import (new_bucket_name, open_uploads, rclone, rclone_check, rclone_list,
                           s3)

MIB = 1024 * 1024

# Names that need encoding in URLs and in SigV4's canonical request.
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


class S3TargetTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.server = s3()
        self.bucket = new_bucket_name("tgt")
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
        """A job `files` from fs `local` to s3 `bucket`; `endpoint` adds lines to
        the s3 endpoint, `job` options to the job."""
        extra = "".join(f"\n{key}: {value}" for key, value in job.items())
        text = textwrap.dedent(f"""\
            state:
              path: state.db
            endpoints:
              local:
                type: fs
                path: source
                read_only: true
              bucket:
                type: s3
                bucket: {self.bucket}
                endpoint: {self.server.url}
                access_key_id: {self.server.access_key_id}
                secret_access_key: ${{S3_TEST_SECRET}}
                create: true""") + textwrap.indent(endpoint, "    ") + textwrap.dedent("""
            jobs:
              files:
                kind: storage
                source: local
                target: bucket""") + textwrap.indent(extra, "    ") + "\n"
        path = os.path.join(self.tmp, "s3.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def sync(self, config: str, *flags: str):
        return run_cli(["sync", "-c", config, *flags, "files"], cwd=self.tmp, timeout=300,
                       env={"S3_TEST_SECRET": self.server.secret_access_key})

    def check(self, remote_path: str = "") -> None:
        rclone_check(self.server, self.source, f"s3r:{self.bucket}{remote_path}")
        self.assertEqual(open_uploads(self.server, self.bucket), [])

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

        # A new process knows nothing cached: the comparison uses the
        # metadata megasync stored (x-amz-meta-mtime), so nothing is copied.
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120,
                         env={"S3_TEST_SECRET": self.server.secret_access_key})
        self.assert_exit(verify, EXIT_OK)

    def test_dry_run_changes_nothing(self):
        config = self.config()
        result = self.sync(config, "--dry-run")
        self.assert_exit(result, EXIT_OK)
        self.assertIn("31 to copy", result.stderr)
        # Not even the bucket was created.
        listing = rclone(self.server, "lsf", "s3r:")
        self.assertNotIn(self.bucket, listing.stdout)

        self.assert_exit(self.sync(config), EXIT_OK)
        self.put("d0/sub0/f0.dat", b"changed")
        before = rclone_list(self.server, f"s3r:{self.bucket}")
        result = self.sync(config, "--dry-run")
        self.assert_exit(result, EXIT_OK)
        self.assertIn("1 to replace", result.stderr)
        self.assertEqual(rclone_list(self.server, f"s3r:{self.bucket}"), before)
        with self.assertRaises(AssertionError):
            self.check()

    def test_include_exclude_and_prefix(self):
        self.put("skip/me.tmp", b"temporary")
        self.put("d0/also.tmp", b"temporary")
        config = self.config("\nprefix: backups/daily", exclude='["**/*.tmp"]')
        self.assert_exit(self.sync(config), EXIT_OK)
        objects = rclone_list(self.server, f"s3r:{self.bucket}")
        self.assertTrue(all(o.startswith("backups/daily/") for o in objects), objects)
        self.assertFalse(any(o.endswith(".tmp") for o in objects), objects)
        self.assertEqual(len(objects), 31)
        rclone_check(self.server, self.source, f"s3r:{self.bucket}/backups/daily",
                     "--exclude", "*.tmp")

    def test_multipart_upload_above_the_threshold(self):
        # 3 parts of at most 5 MiB; one streamed PUT (above the 8 MiB held in
        # memory, below the threshold); one PUT from memory.
        big = os.urandom(12 * MIB + 12345)
        self.put("large/big.bin", big)
        self.put("large/streamed.bin", os.urandom(9 * MIB - 7))
        self.put("large/small.bin", os.urandom(3 * MIB))
        config = self.config("\nmultipart_threshold: 10MiB\npart_size: 5MiB\npart_concurrency: 2")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.check()
        got = os.path.join(self.tmp, "big.copy")
        copy = rclone(self.server, "copyto", f"s3r:{self.bucket}/large/big.bin", got)
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
        objects = set(rclone_list(self.server, f"s3r:{self.bucket}"))
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
        kept = rclone_list(self.server, f"s3r:{self.bucket}/.megasync-versions/d1/sub1/f1.dat")
        self.assertEqual(len(kept), 2, kept)  # pruned to keep_versions
        newest = rclone(self.server, "cat",
                        f"s3r:{self.bucket}/.megasync-versions/d1/sub1/f1.dat/{max(kept)}")
        self.assertEqual(newest.stdout, "version 1 x")
        # The versions are not objects of the store: the check ignores them.
        rclone_check(self.server, self.source, f"s3r:{self.bucket}",
                     "--exclude", ".megasync-versions/**")

    def test_missing_bucket_and_bad_credentials_are_clear_permanent_errors(self):
        config = self.config()
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("    create: true\n", ""))
        result = self.sync(config)
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn(f"bucket '{self.bucket}' does not exist", result.stderr)
        self.assertIn("create: true", result.stderr)

        with open(config, "w") as f:
            f.write(text.replace(f"access_key_id: {self.server.access_key_id}",
                                 "access_key_id: AKIAWRONGKEY"))
        started = time.monotonic()
        result = run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=120,
                         env={"S3_TEST_SECRET": "a-very-secret-value"})
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn("access denied", result.stderr)
        self.assertIn(self.server.url, result.stderr)
        self.assertNotIn("a-very-secret-value", result.stdout + result.stderr)
        self.assertLess(time.monotonic() - started, 30)  # no retry storm


if __name__ == "__main__":
    unittest.main()
