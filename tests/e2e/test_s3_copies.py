"""End-to-end tests of the s3 endpoint as a source: bucket -> folder and bucket ->
bucket `storage` jobs against a real S3 server (s3rver), judged by `rclone
check` (src/connectors/s3, src/sync/objects)."""

import os
import re
import textwrap
import unittest

from megasync_harness import EXIT_OK, DaemonTestCase, run_cli
from object_stores import new_bucket_name, open_uploads, rclone, rclone_check, s3

MIB = 1024 * 1024


class S3SourceTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.server = s3()
        self.seed = os.path.join(self.tmp, "seed")
        self.files = {f"dir{i % 4}/file {i}+#{i}.bin": os.urandom(i * 211) for i in range(25)}
        self.files["ünï/ço dé?.txt"] = b"unicode"
        self.files["big/large.bin"] = os.urandom(11 * MIB + 3)
        for relative, data in self.files.items():
            path = os.path.join(self.seed, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    def seed_bucket(self, bucket: str) -> None:
        """Fills `bucket` with rclone, so megasync reads objects it did not write
        (rclone's own metadata, its own multipart layout)."""
        result = rclone(self.server, "copy", self.seed, f"s3r:{bucket}")
        self.assertEqual(result.returncode, 0, result.stderr)

    def endpoint(self, name: str, bucket: str, credentials: bool = True) -> str:
        lines = [f"{name}:", "  type: s3", f"  bucket: {bucket}", f"  endpoint: {self.server.url}",
                 "  create: true", "  multipart_threshold: 5MiB", "  part_size: 5MiB"]
        if credentials:
            lines += [f"  access_key_id: {self.server.access_key_id}",
                      f"  secret_access_key: {self.server.secret_access_key}"]
        return "\n".join(lines) + "\n"

    def write_config(self, endpoints: str, source: str, target: str) -> str:
        text = ("state:\n  path: state.db\nendpoints:\n" + textwrap.indent(endpoints, "  ") +
                textwrap.dedent(f"""\
                    jobs:
                      files:
                        kind: storage
                        source: {source}
                        target: {target}
                        delete: true
                    """))
        path = os.path.join(self.tmp, "copies.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def sync(self, config: str, env: dict = None):
        return run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=300, env=env)

    def test_bucket_to_folder_with_credentials_from_the_environment(self):
        bucket = new_bucket_name("src")
        self.seed_bucket(bucket)
        mirror = os.path.join(self.tmp, "mirror")
        endpoints = self.endpoint("remote", bucket, credentials=False) + textwrap.dedent("""\
            local:
              type: fs
              path: mirror
              create: true
            """)
        config = self.write_config(endpoints, "remote", "local")
        env = {"AWS_ACCESS_KEY_ID": self.server.access_key_id,
               "AWS_SECRET_ACCESS_KEY": self.server.secret_access_key}
        result = self.sync(config, env)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f": {len(self.files)} records", result.stdout)
        rclone_check(self.server, f"s3r:{bucket}", mirror)
        for relative, data in self.files.items():
            with open(os.path.join(mirror, relative), "rb") as f:
                self.assertEqual(f.read(), data, relative)

        # Deleted and changed in the bucket -> deleted and changed in the folder.
        rclone(self.server, "deletefile", f"s3r:{bucket}/dir1/file 1+#1.bin")
        changed = os.path.join(self.seed, "dir2/file 2+#2.bin")
        with open(changed, "wb") as f:
            f.write(b"changed in the bucket")
        self.assertEqual(rclone(self.server, "copyto", changed,
                                f"s3r:{bucket}/dir2/file 2+#2.bin").returncode, 0)
        result = self.sync(config, env)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 2 records", result.stdout)
        rclone_check(self.server, f"s3r:{bucket}", mirror)
        result = self.sync(config, env)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

    def test_bucket_to_bucket(self):
        first = new_bucket_name("a")
        second = new_bucket_name("b")
        self.seed_bucket(first)
        endpoints = self.endpoint("one", first) + self.endpoint("two", second)
        config = self.write_config(endpoints, "one", "two")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f": {len(self.files)} records", result.stdout)
        # Same server and account: copied inside the service, except names
        # s3rver cannot read in x-amz-copy-source ('#', '+', '?'), streamed.
        inside = re.search(r"(\d+) of (\d+) copies made inside the service", result.stderr)
        self.assertIsNotNone(inside, result.stderr)
        awkward = [name for name in self.files if any(c in name for c in "#+?")]
        self.assertEqual(int(inside.group(1)), len(self.files) - len(awkward))
        self.assertEqual(int(inside.group(2)), len(self.files))
        rclone_check(self.server, f"s3r:{first}", f"s3r:{second}")
        self.assertEqual(open_uploads(self.server, second), [])
        verify = run_cli(["verify", "-c", config, "files"], cwd=self.tmp, timeout=120)
        self.assert_exit(verify, EXIT_OK)

        rclone(self.server, "deletefile", f"s3r:{first}/dir3/file 3+#3.bin")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 1 records", result.stdout)
        rclone_check(self.server, f"s3r:{first}", f"s3r:{second}")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

    def test_bucket_to_bucket_without_server_side_copy(self):
        first = new_bucket_name("a")
        second = new_bucket_name("b")
        self.seed_bucket(first)
        endpoints = (self.endpoint("one", first) + self.endpoint("two", second) +
                     "  server_side_copy: false\n")
        config = self.write_config(endpoints, "one", "two")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f": {len(self.files)} records", result.stdout)
        self.assertNotIn("inside the service", result.stderr)
        rclone_check(self.server, f"s3r:{first}", f"s3r:{second}")


if __name__ == "__main__":
    unittest.main()
