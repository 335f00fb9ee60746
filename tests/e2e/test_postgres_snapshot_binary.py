"""A snapshot is read from the source with a binary COPY when every column's
type has a decoder, and copied straight into a PostgreSQL target's table with
a binary COPY when every column's type has an encoder
(src/connectors/postgres/copy_binary.h). Values at the edges of each such type
arrive exactly as the source holds them, as the real servers' send and
receive functions make them: `edges` is read as text (an enum has no decoder)
and written binary, `plain` (the same rows without the enum) goes binary both
ways, and `mixed` is read binary, but holds values the binary form does not
write (a BC date, a NaN numeric), so it is written as text, and arrives as
exactly."""

import os
import unittest
import uuid

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli

# Every type with a binary encoder, and an enum.
COLUMNS = [
    ("c_smallint", "smallint"), ("c_int", "integer"), ("c_bigint", "bigint"),
    ("c_numeric", "numeric"), ("c_numeric_p", "numeric(40,10)"), ("c_real", "real"),
    ("c_double", "double precision"), ("c_text", "text"), ("c_varchar", "varchar(20)"),
    ("c_char", "char(5)"), ("c_bool", "boolean"), ("c_date", "date"), ("c_time", "time"),
    ("c_timestamp", "timestamp"), ("c_timestamptz", "timestamptz"), ("c_uuid", "uuid"),
    ("c_json", "json"), ("c_jsonb", "jsonb"), ("c_bytea", "bytea"), ("c_mood", "{schema}.mood"),
]

ROWS = [
    ["42", "100000", "10000000000", "'3.14159'", "'2.50'", "1.1", "2.2", "'hello'",
     "'varchar'", "'ab'", "true", "'2024-02-29'", "'13:14:15.5'",
     "'2024-01-02 03:04:05.123456'", "'2024-01-02 05:04:05.123+02'",
     "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'{\"b\": 1, \"a\": [1, 2.50]}'",
     "'{\"b\": 1, \"a\": [1, 2.50]}'", "'\\x0102ff'::bytea", "'happy'"],
    ["-32768", "-2147483648", "-9223372036854775808",
     "'-123456789012345678901234567890.1234567890'", "'0.0000000001'", "'-3.4028235e+38'",
     "'-1.7976931348623157e+308'",
     "E'quote '' dq \" back\\\\slash tab\\t nl\\n cr\\r \u00fcn\u00efc\u00f6de \U0001F600'",
     "''", "'a'", "false", "'0001-01-01'", "'00:00:00'", "'0001-01-01 00:00:00'",
     "'0001-01-01 00:00:00+00'", "'00000000-0000-0000-0000-000000000000'", "'[]'",
     "'{\"\u00e9\": \"\\n\", \"n\": null, \"big\": 12345678901234567890.5}'", "'\\x00'::bytea",
     "'it''s \"ok\"'"],
    ["32767", "2147483647", "9223372036854775807", "'-0.000000000000000000001'",
     "'999999999999999999999999999999.9999999999'", "'1.17549435e-38'", "'5e-324'", "'x'",
     "'12345678901234567890'", "'abcde'", "true", "'9999-12-31'", "'24:00:00'",
     "'9999-12-31 23:59:59.999999'", "'2038-01-19 03:14:08.5+05:30'",
     "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'", "'null'", "'{\"k\": [true, null, 1e-7]}'",
     "''::bytea", "'sad'"],
    ["0", "0", "0", "'0'", "'-0.00'", "'Infinity'", "'NaN'", "'0'", "'0'", "' '", "false",
     "'infinity'", "'23:59:59.999999'", "'-infinity'", "'infinity'",
     "'00000000-0000-0000-0000-000000000001'", "'0'", "'0'", "'\\xff'::bytea", "'happy'"],
    ["NULL"] * len(COLUMNS),
]


class PostgresSnapshotBinaryTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()
        self.pgb = services.pg_b()
        suffix = uuid.uuid4().hex[:10]
        self.schema = s = "bin_" + suffix
        self.job = "binary_" + suffix
        columns = ", ".join(f"{name} {decl.format(schema=s)}" for name, decl in COLUMNS)
        rows = ", ".join(f"({i + 1}, {', '.join(row)})" for i, row in enumerate(ROWS))
        services.cdc_scratch(self, self.pg, self.pgb, s, self.job, f"""
            CREATE TYPE {s}.mood AS ENUM ('happy', 'sad', 'it''s "ok"');
            CREATE TABLE {s}.edges(id int PRIMARY KEY, {columns});
            INSERT INTO {s}.edges VALUES {rows};
            CREATE TABLE {s}.plain AS SELECT * FROM {s}.edges;
            ALTER TABLE {s}.plain ADD PRIMARY KEY (id), DROP COLUMN c_mood;
            -- Binary takes every row but one, which sends the table as text.
            CREATE TABLE {s}.mixed(id int PRIMARY KEY, d date, n numeric, t timestamptz);
            INSERT INTO {s}.mixed SELECT i, date '2000-01-01' + i, i / 7.0,
                timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute'
              FROM generate_series(1, 2000) i;
            INSERT INTO {s}.mixed VALUES (0, '0044-03-15 BC', 'NaN', '0001-01-01 00:00:00+00 BC');
        """)
        self.config = os.path.join(self.tmp, "megasync.yaml")
        services.pg_job_config(self.config, self.job, self.pg, self.pgb,
                               [f"{s}.edges", f"{s}.plain", f"{s}.mixed"])

    def rows(self, conn, table: str) -> list:
        """Each row's text, with the column types of the source (the target's
        enum column is text) and timestamps in UTC."""
        names = {"edges": [name for name, _ in COLUMNS],
                 "plain": [name for name, _ in COLUMNS if name != "c_mood"],
                 "mixed": ["d", "n", "t"]}[table]
        # Hex, so that newlines in values do not split psql's rows.
        casts = ", ".join(f"coalesce(encode(convert_to({name}::text, 'UTF8'), 'hex'), 'NULL')"
                          for name in names)
        return services.psql(conn, f"SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
                                   f"SELECT id, {casts} FROM {self.schema}.{table} ORDER BY id")

    def test_edge_values_arrive_exactly_binary_or_text(self):
        result = run_cli(["sync", "-c", self.config, self.job], cwd=self.tmp, timeout=120)
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        for table in ("edges", "plain", "mixed"):
            source = self.rows(self.pg, table)
            self.assertEqual(len(source), 2001 if table == "mixed" else len(ROWS))
            self.assertEqual(self.rows(self.pgb, table), source, table)
        # The table with a BC date went as text; the other one did not.
        self.assertIn(f"table {self.schema}.mixed: a snapshot value has no binary form",
                      result.stderr)
        self.assertNotIn(f"table {self.schema}.edges: a snapshot value", result.stderr)
        self.assertNotIn(f"table {self.schema}.plain: a snapshot value", result.stderr)


if __name__ == "__main__":
    unittest.main()
