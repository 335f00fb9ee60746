"""End-to-end test of the quickstart: examples/quickstart.yaml on the data that
scripts/quickstart-seed.sh generates — the `orders-replica` database job (with
its email mask) and the `assets-mirror` storage job (with kept versions), once
through `megasync sync` and once through the running daemon."""

import hashlib
import hmac
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from megasync_harness import EXIT_OK, SOURCE_DIR, DaemonTestCase, run_cli, wait_for

CONFIG = os.path.join(SOURCE_DIR, "examples", "quickstart.yaml")
SEED = os.path.join(SOURCE_DIR, "scripts", "quickstart-seed.sh")

# The config's `${MASK_KEY:-quickstart-demo-key}`, as the daemon will read it.
MASK_KEY = os.environ.get("MASK_KEY") or "quickstart-demo-key"

TABLES = {
    "customers": "id",
    "products": "sku",
    "orders": "id",
    "order_lines": "order_id, line",
}


def masked(email):
    if email is None:
        return None
    return hmac.new(MASK_KEY.encode(), email.encode(), hashlib.sha256).hexdigest()


def rows(path, table):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}").fetchall()
    finally:
        db.close()


def value_in(path, sql):
    """The first column of the first row, or None while the database or the
    table is not there yet or is busy (the daemon writes it meanwhile)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.OperationalError:
        return None
    try:
        row = db.execute(sql).fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def read_tree(root):
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


def seed(data_dir):
    return subprocess.run([SEED, data_dir], capture_output=True, text=True, timeout=120,
                          check=True, stdin=subprocess.DEVNULL)


class QuickstartTest(DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        # Seeded once; each test works on its own copy.
        cls._seeded = tempfile.TemporaryDirectory(prefix="megasync-e2e-seed-")
        cls.seeded = os.path.join(cls._seeded.name, "quickstart-data")
        seed(cls.seeded)

    @classmethod
    def tearDownClass(cls):
        cls._seeded.cleanup()

    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "quickstart-data")
        shutil.copytree(self.seeded, self.data)
        self.config = os.path.join(self.tmp, "quickstart.yaml")
        shutil.copyfile(CONFIG, self.config)
        self.orders = os.path.join(self.data, "orders.db")
        self.replica = os.path.join(self.data, "replica.db")
        self.assets = os.path.join(self.data, "assets")
        self.mirror = os.path.join(self.data, "mirror")

    def sync(self, job):
        result = run_cli(["sync", "-c", self.config, job], cwd=self.tmp, timeout=120)
        self.assert_exit(result, EXIT_OK)
        return result

    def put(self, relative, data):
        path = os.path.join(self.assets, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def execute(self, sql):
        db = sqlite3.connect(self.orders)
        try:
            with db:
                db.execute(sql)
        finally:
            db.close()

    def test_seed_makes_the_data_once(self):
        counts = {table: len(rows(self.orders, table)) for table in TABLES}
        self.assertEqual(counts["customers"], 500)
        self.assertEqual(counts["products"], 50)
        self.assertEqual(counts["orders"], 2000)
        self.assertGreater(sum(counts.values()), 5000)
        files = read_tree(self.assets)
        self.assertGreaterEqual(len(files), 40)
        self.assertGreaterEqual(len({os.path.dirname(p) for p in files}), 3)

        # Seeding again changes nothing.
        before = read_tree(self.data)
        self.assertEqual(seed(self.data).stdout, "")
        self.assertEqual(read_tree(self.data), before)

    def test_sync_replicates_masks_and_mirrors(self):
        self.assert_exit(run_cli(["check", "-c", self.config], cwd=self.tmp), EXIT_OK)
        self.sync("orders-replica")
        self.sync("assets-mirror")

        for table in TABLES:
            expected = rows(self.orders, table)
            if table == "customers":
                # id, name, email, country, created_at: the email masked.
                expected = [(r[0], r[1], masked(r[2]), *r[3:]) for r in expected]
            self.assertEqual(rows(self.replica, table), expected, table)
        email = rows(self.replica, "customers")[0][2]
        self.assertNotIn("@", email)
        self.assertRegex(email, "^[0-9a-f]{64}$")

        self.assertEqual(read_tree(self.mirror), read_tree(self.assets))

        # A replaced file: the mirror has the new bytes, its versions the old.
        old = read_tree(self.assets)["css/site.css"]
        self.put("css/site.css", b"body { color: rebeccapurple; }\n")
        self.sync("assets-mirror")
        self.assertEqual(read_tree(self.mirror), read_tree(self.assets))
        versions = os.path.join(self.mirror, ".megasync-versions", "css", "site.css")
        kept = os.listdir(versions)
        self.assertEqual(len(kept), 1)
        with open(os.path.join(versions, kept[0]), "rb") as f:
            self.assertEqual(f.read(), old)

    def test_daemon_carries_a_changed_row_and_file(self):
        env = {}

        def config(port):
            # The harness picks the port; the config reads it from MEGASYNC_LISTEN.
            env["MEGASYNC_LISTEN"] = f"127.0.0.1:{port}"
            with open(CONFIG) as f:
                return f.read()

        daemon = self.start_daemon(config, env=env, config_name="quickstart.yaml")
        # The first run (at start) takes the snapshot; the change goes through
        # the change log on a later run, within the 10 s interval.
        wait_for(lambda: value_in(self.replica, "SELECT count(*) FROM orders") == 2000,
                 timeout=30, message="the snapshot in replica.db")
        self.execute("UPDATE orders SET status = 'quickstart-test' WHERE id = 1")
        self.put("css/added.css", b"p { margin: 0; }\n")

        wait_for(lambda: value_in(self.replica, "SELECT status FROM orders WHERE id = 1")
                 == "quickstart-test", timeout=25, message="the changed order in replica.db")
        wait_for(lambda: read_tree(self.mirror) == read_tree(self.assets), timeout=25,
                 message="the added file in the mirror")
        self.assertEqual(daemon.stop(), EXIT_OK)


if __name__ == "__main__":
    unittest.main()
