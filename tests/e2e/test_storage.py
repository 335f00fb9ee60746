"""End-to-end tests of object sync: `megasync sync` of a `storage` job between two
fs endpoints (src/sync/objects, src/connectors/fs)."""

import os
import textwrap
import unittest

from megasync_harness import EXIT_FAILED, EXIT_OK, DaemonTestCase, run_cli


def read_tree(root: str) -> dict:
    """Relative path -> bytes of every file under `root`, versions aside."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root and ".megasync-versions" in dirnames:
            dirnames.remove(".megasync-versions")
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


class StorageTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.source = os.path.join(self.tmp, "source")
        self.mirror = os.path.join(self.tmp, "mirror")
        for i in range(40):
            self.put(f"d{i % 4}/sub{i % 3}/f{i}.dat", os.urandom(i * 97))
        self.put("big.bin", os.urandom(3 * 1024 * 1024 + 11))

    def put(self, relative: str, data: bytes) -> None:
        path = os.path.join(self.source, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def config(self, **options: str) -> str:
        extra = "".join(f"\n{key}: {value}" for key, value in options.items())
        text = textwrap.dedent("""\
            state:
              path: state.db
            endpoints:
              local:
                type: fs
                path: source
                read_only: true
              backup:
                type: fs
                path: mirror
                create: true
            jobs:
              files:
                kind: storage
                source: local
                target: backup""") + textwrap.indent(extra, "    ") + "\n"
        path = os.path.join(self.tmp, "storage.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def sync(self, config: str, *flags: str):
        return run_cli(["sync", "-c", config, *flags, "files"], cwd=self.tmp, timeout=120)

    def test_mirror_follows_adds_modifies_and_deletes(self):
        config = self.config(delete="true")
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 41 records", result.stdout)
        self.assertEqual(read_tree(self.mirror), read_tree(self.source))

        self.put("d1/sub1/f1.dat", b"modified, and of another size")
        self.put("new/added.txt", b"new file")
        os.remove(os.path.join(self.source, "d2/sub2/f2.dat"))
        result = self.sync(config)
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 3 records", result.stdout)
        self.assertEqual(read_tree(self.mirror), read_tree(self.source))
        # The emptied directory went with its last file; no temp files remain.
        self.assertFalse(any(".megasync-tmp-" in p for p in read_tree(self.mirror)))

        result = self.sync(config)  # nothing changed
        self.assert_exit(result, EXIT_OK)
        self.assertIn(": 0 records", result.stdout)

    def test_dry_run_changes_nothing(self):
        config = self.config()
        result = self.sync(config, "--dry-run")
        self.assert_exit(result, EXIT_OK)
        self.assertIn("(dry run)", result.stdout)
        self.assertEqual(read_tree(self.mirror) if os.path.isdir(self.mirror) else {}, {})
        self.assertIn("41 to copy", result.stderr)

        self.assert_exit(self.sync(config), EXIT_OK)
        self.put("d0/sub0/f0.dat", b"changed")
        before = read_tree(self.mirror)
        self.assert_exit(self.sync(config, "--dry-run"), EXIT_OK)
        self.assertEqual(read_tree(self.mirror), before)

    def test_keep_versions_keeps_old_contents(self):
        config = self.config(keep_versions="2", delete="true")
        self.assert_exit(self.sync(config), EXIT_OK)
        for n in range(3):
            self.put("d3/sub0/f3.dat", f"version {n} {'x' * n}".encode())
            self.assert_exit(self.sync(config), EXIT_OK)
        versions = os.path.join(self.mirror, ".megasync-versions", "d3", "sub0", "f3.dat")
        kept = sorted(os.listdir(versions), reverse=True)
        self.assertEqual(len(kept), 2)  # pruned to keep_versions
        with open(os.path.join(versions, kept[0]), "rb") as f:
            self.assertEqual(f.read(), b"version 1 x")
        with open(os.path.join(self.mirror, "d3/sub0/f3.dat"), "rb") as f:
            self.assertEqual(f.read(), b"version 2 xx")
        self.assertEqual(read_tree(self.mirror), read_tree(self.source))

    def test_mass_delete_is_refused_unless_forced(self):
        config = self.config(delete="true")
        self.assert_exit(self.sync(config), EXIT_OK)
        for i in range(30):
            os.remove(os.path.join(self.source, f"d{i % 4}/sub{i % 3}/f{i}.dat"))
        result = self.sync(config)
        self.assert_exit(result, EXIT_FAILED)
        self.assertIn("refusing to delete 30 of the target's 41 objects", result.stderr)
        self.assertEqual(len(read_tree(self.mirror)), 41)

        self.assert_exit(self.sync(self.config(delete="true", force="true")), EXIT_OK)
        self.assertEqual(read_tree(self.mirror), read_tree(self.source))


if __name__ == "__main__":
    unittest.main()
