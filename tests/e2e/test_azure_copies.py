"""End-to-end tests of the azure_blob endpoint as a source and between object
stores: container -> folder, bucket -> container and container -> bucket
`storage` jobs against Azurite and s3rver, judged by `rclone check`
(src/connectors/azure_blob, src/connectors/s3, src/sync/objects)."""

import os
import textwrap
import unittest

from megasync_harness import EXIT_OK, DaemonTestCase, run_cli
from object_stores import (azurite, new_bucket_name, new_container_name, open_uploads, rclone,
                           rclone_check, s3)

MIB = 1024 * 1024


class AzureCopiesTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.azure = azurite()
        self.s3 = s3()
        self.seed = os.path.join(self.tmp, "seed")
        self.files = {f"dir{i % 4}/file {i}+#{i}.bin": os.urandom(i * 211) for i in range(25)}
        self.files["ünï/ço dé?.txt"] = b"unicode"
        self.files["100%/deep/er/than/that.txt"] = b"percent"
        self.files["big/large.bin"] = os.urandom(11 * MIB + 3)
        for relative, data in self.files.items():
            path = os.path.join(self.seed, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    def seed_remote(self, remote: str) -> None:
        """Fills `remote` with rclone, so megasync reads objects it did not write
        (rclone's own metadata, its own block layout)."""
        result = rclone(self.s3, "copy", self.seed, remote)
        self.assertEqual(result.returncode, 0, result.stderr)

    def azure_endpoint(self, name: str, container: str) -> str:
        return textwrap.dedent(f"""\
            {name}:
              type: azure_blob
              account: {self.azure.account}
              key: {self.azure.key}
              container: {container}
              endpoint: {self.azure.url}
              create: true
              block_threshold: 4MiB
              block_size: 2MiB
            """)

    def s3_endpoint(self, name: str, bucket: str) -> str:
        return textwrap.dedent(f"""\
            {name}:
              type: s3
              bucket: {bucket}
              endpoint: {self.s3.url}
              access_key_id: {self.s3.access_key_id}
              secret_access_key: {self.s3.secret_access_key}
              create: true
              multipart_threshold: 5MiB
              part_size: 5MiB
            """)

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

    def sync(self, config: str):
        return run_cli(["sync", "-c", config, "files"], cwd=self.tmp, timeout=300)

    def test_container_to_folder(self):
        container = new_container_name("src")
        self.seed_remote(f"azr:{container}")
        mirror = os.path.join(self.tmp, "mirror")
        endpoints = self.azure_endpoint("remote", container) + textwrap.dedent("""\
            local:
              type: fs
              path: mirror
              create: true
            """)
        config = self.write_config(endpoints, "remote", "local")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f": {len(self.files)} records", result.stdout)
        rclone_check(self.azure, f"azr:{container}", mirror)
        for relative, data in self.files.items():
            with open(os.path.join(mirror, relative), "rb") as f:
                self.assertEqual(f.read(), data, relative)

        # Deleted and changed in the container -> deleted and changed in the folder.
        rclone(self.azure, "deletefile", f"azr:{container}/dir1/file 1+#1.bin")
        changed = os.path.join(self.seed, "dir2/file 2+#2.bin")
        with open(changed, "wb") as f:
            f.write(b"changed in the container")
        self.assertEqual(rclone(self.azure, "copyto", changed,
                                f"azr:{container}/dir2/file 2+#2.bin").returncode, 0)
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 2 records", result.stdout)
        rclone_check(self.azure, f"azr:{container}", mirror)
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

    def test_bucket_to_container(self):
        bucket = new_bucket_name("s3a")
        container = new_container_name("aza")
        self.seed_remote(f"s3r:{bucket}")
        endpoints = self.s3_endpoint("bucket", bucket) + self.azure_endpoint("blobs", container)
        config = self.write_config(endpoints, "bucket", "blobs")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f": {len(self.files)} records", result.stdout)
        rclone_check(self.s3, f"s3r:{bucket}", f"azr:{container}")

        rclone(self.s3, "deletefile", f"s3r:{bucket}/dir3/file 3+#3.bin")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 1 records", result.stdout)
        rclone_check(self.s3, f"s3r:{bucket}", f"azr:{container}")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

    def test_container_to_bucket(self):
        container = new_container_name("azb")
        bucket = new_bucket_name("s3b")
        self.seed_remote(f"azr:{container}")
        endpoints = self.azure_endpoint("blobs", container) + self.s3_endpoint("bucket", bucket)
        config = self.write_config(endpoints, "blobs", "bucket")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f": {len(self.files)} records", result.stdout)
        rclone_check(self.s3, f"azr:{container}", f"s3r:{bucket}")
        self.assertEqual(open_uploads(self.s3, bucket), [])

        changed = os.path.join(self.seed, "dir0/file 0+#0.bin")
        with open(changed, "wb") as f:
            f.write(b"changed in the container")
        self.assertEqual(rclone(self.azure, "copyto", changed,
                                f"azr:{container}/dir0/file 0+#0.bin").returncode, 0)
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 1 records", result.stdout)
        rclone_check(self.s3, f"azr:{container}", f"s3r:{bucket}")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)


if __name__ == "__main__":
    unittest.main()
