"""Smoke test of the test servers started by tests/services/start.sh: both
PostgreSQL servers decode logically, the users have the intended rights,
MariaDB takes DDL from the megasync user, s3rver serves rclone and Azurite
demands signed requests. Needs no megasync binary."""

import os
import unittest
import urllib.error
import urllib.request
import uuid

from object_stores import new_bucket_name, rclone, s3

from services import (SqlError, _settings, mariadb, mariadb_sql, pg_a, pg_b, psql,
                      require_services)


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


class PostgresServicesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_services()

    def test_two_distinct_servers(self):
        ids = {psql(c, "SELECT system_identifier FROM pg_control_system()")[0][0]
               for c in (pg_a(), pg_b())}
        self.assertEqual(len(ids), 2, "pg-a and pg-b must be separate clusters")
        for c in (pg_a(), pg_b()):
            with self.subTest(server=c.name):
                version = int(psql(c, "SHOW server_version_num")[0][0])
                self.assertEqual(version // 10000, 15)

    def test_wal_level_logical(self):
        for c in (pg_a(), pg_b()):
            with self.subTest(server=c.name):
                self.assertEqual(psql(c, "SHOW wal_level"), [["logical"]])
                self.assertGreaterEqual(int(psql(c, "SHOW max_replication_slots")[0][0]), 10)
                self.assertGreaterEqual(int(psql(c, "SHOW max_wal_senders")[0][0]), 10)

    def test_megasync_creates_a_pgoutput_slot(self):
        for c in (pg_a(), pg_b()):
            with self.subTest(server=c.name):
                slot = unique("smoke_slot")
                self.addCleanup(psql, c, "SELECT pg_drop_replication_slot(slot_name) "
                                         f"FROM pg_replication_slots WHERE slot_name = '{slot}'")
                psql(c, f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
                self.assertEqual(
                    psql(c, "SELECT plugin, slot_type, database FROM pg_replication_slots "
                            f"WHERE slot_name = '{slot}'"),
                    [["pgoutput", "logical", c.dbname]])
                psql(c, f"SELECT pg_drop_replication_slot('{slot}')")
                self.assertEqual(psql(c, "SELECT count(*) FROM pg_replication_slots "
                                         f"WHERE slot_name = '{slot}'"), [["0"]])

    def test_user_attributes(self):
        for c in (pg_a(), pg_b()):
            with self.subTest(server=c.name):
                rows = psql(c, "SELECT rolname, rolsuper, rolreplication, rolcanlogin FROM pg_roles "
                               "WHERE rolname IN ('megasync', 'megasync_limited') ORDER BY rolname")
                self.assertEqual(rows, [["megasync", "t", "t", "t"],
                                        ["megasync_limited", "f", "f", "t"]])

    def test_limited_user_cannot_replicate(self):
        for c in (pg_a(), pg_b()):
            with self.subTest(server=c.name):
                limited = c.limited()
                self.assertEqual(psql(limited, "SELECT current_user"), [["megasync_limited"]])
                # It may create tables (for negative tests on its own tables) ...
                table = unique("smoke_limited")
                self.addCleanup(psql, c, f"DROP TABLE IF EXISTS {table}")
                psql(limited, f"CREATE TABLE {table} (id int PRIMARY KEY)")
                # ... but not a replication slot.
                slot = unique("smoke_denied")
                self.addCleanup(psql, c, "SELECT pg_drop_replication_slot(slot_name) "
                                         f"FROM pg_replication_slots WHERE slot_name = '{slot}'")
                with self.assertRaises(SqlError) as ctx:
                    psql(limited, f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
                self.assertIn("must be superuser or replication role", ctx.exception.stderr)

    def test_password_authentication(self):
        for c in (pg_a(), pg_b()):
            with self.subTest(server=c.name):
                with self.assertRaises(SqlError) as ctx:
                    psql(c.with_password("wrong"), "SELECT 1")
                self.assertIn("password authentication failed", ctx.exception.stderr)


class MariaDbServicesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_services()

    def test_version(self):
        rows = mariadb_sql(mariadb(), "SELECT VERSION()")
        self.assertEqual(len(rows), 1)
        self.assertIn("MariaDB", rows[0][0])

    def test_megasync_creates_a_table(self):
        c = mariadb()
        table = unique("smoke")
        self.addCleanup(mariadb_sql, c, f"DROP TABLE IF EXISTS {table}")
        mariadb_sql(c, f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(40))")
        mariadb_sql(c, f"INSERT INTO {table} VALUES (1, 'gr\u00fc\u00dfe')")
        self.assertEqual(mariadb_sql(c, f"SELECT id, name FROM {table}"), [["1", "gr\u00fc\u00dfe"]])

    def test_limited_user(self):
        c = mariadb()
        limited = c.limited()
        self.assertEqual(mariadb_sql(limited, "SELECT DATABASE()"), [[c.dbname]])
        grants = " ".join(row[0] for row in mariadb_sql(limited, "SHOW GRANTS"))
        self.assertNotIn("REPLICATION", grants)
        self.assertNotIn("SUPER", grants)
        with self.assertRaises(SqlError):
            mariadb_sql(limited, "CREATE DATABASE megasync_denied")

    def test_password_authentication(self):
        with self.assertRaises(SqlError) as ctx:
            mariadb_sql(mariadb().with_password("wrong"), "SELECT 1")
        self.assertIn("Access denied", ctx.exception.stderr)


class ObjectStoreServicesTest(unittest.TestCase):

    def test_s3rver_serves_rclone(self):
        server = s3()
        bucket = new_bucket_name("svc")
        made = rclone(server, "mkdir", f"s3r:{bucket}")
        self.assertEqual(made.returncode, 0, made.stderr)
        listed = rclone(server, "lsf", "s3r:")
        self.assertIn(f"{bucket}/", listed.stdout.split())
        self.assertEqual(rclone(server, "rmdir", f"s3r:{bucket}").returncode, 0)

    def test_azurite_demands_signed_requests(self):
        url = _settings().get("MEGASYNC_AZURITE_URL")
        self.assertTrue(url, "MEGASYNC_AZURITE_URL not set: run tests/services/start.sh")
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{url}?comp=list", timeout=30)
        self.assertEqual(caught.exception.code, 403)
        self.assertIn(b"AuthorizationFailure", caught.exception.read())

    def test_fauxqs_speaks_the_sqs_json_protocol(self):
        import sqs_helpers
        sqs = sqs_helpers.Sqs()
        name = sqs_helpers.unique("svc")
        sqs.create(name)
        try:
            sqs.send_batch(name, [{"MessageBody": "hello"}])
            got = sqs.drain(name)
            self.assertEqual([m["Body"] for m in got], ["hello"])
        finally:
            sqs.delete(name)
        with self.assertRaises(sqs_helpers.SqsError) as caught:
            sqs.queue_url(name)
        self.assertEqual(caught.exception.code, "QueueDoesNotExist")


if __name__ == "__main__":
    unittest.main()
