"""The postgres endpoint against the real test servers (tests/services): a good
endpoint is health-checked up; a wrong password is reported down with a hint
and without the password; `megasync check` accepts the options."""

import unittest

import services
from megasync_harness import EXIT_OK, DaemonTestCase, run_cli, wait_for

WRONG_PASSWORD = "not-the-password-4711"


class PostgresEndpointTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.pg = services.pg_a()

    def config(self, port: int) -> str:
        pg = self.pg
        return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
daemon:
  monitoring_interval: 1s
endpoints:
  primary:
    type: postgres
    host: {pg.host}
    port: {pg.port}
    user: {pg.user}
    password: "{pg.password}"
    database: {pg.dbname}
    sslmode: disable
  by_url:
    type: postgres
    url: "{pg.url}"
  wrong:
    type: postgres
    host: {pg.host}
    port: {pg.port}
    user: {pg.user}
    password: "{WRONG_PASSWORD}"
    database: {pg.dbname}
    sslmode: disable
jobs: {{}}
"""

    def test_health_of_good_and_bad_endpoints(self):
        path = f"{self.tmp}/check.yaml"
        with open(path, "w") as f:
            f.write(self.config(7171))
        self.assert_exit(run_cli(["check", "-c", path], cwd=self.tmp), EXIT_OK)

        d = self.start_daemon(self.config)

        def endpoints():
            status = d.get_json("/api/v1/status")["endpoints"]
            return status if all(status[name]["health"] != "unknown"
                                 for name in ("primary", "by_url", "wrong")) else None

        status = wait_for(endpoints, 30, "every endpoint to be checked")
        self.assertEqual(status["primary"]["health"], "up", status)
        self.assertEqual(status["by_url"]["health"], "up", status)
        self.assertEqual(status["wrong"]["health"], "down", status)
        text = status["wrong"]["error"]
        self.assertIn("check the endpoint's user and password", text)
        self.assertNotIn(WRONG_PASSWORD, text)
        self.assertNotIn(self.pg.password, str(status))
        self.assertNotIn(WRONG_PASSWORD, d.stderr())
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())


if __name__ == "__main__":
    unittest.main()
