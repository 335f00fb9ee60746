"""The nats endpoint's health checks: against a nats-server with a user and
password (started here, as a child of the test), the right credentials (as
options, and in the URL) are up; a wrong password is down, with a hint and
without the password anywhere (status, log); on the test server (JetStream) a
stream that does not exist is down, naming it and what to do."""

import shutil
import socket
import subprocess
import unittest

import services
from megasync_harness import EXIT_OK, DaemonTestCase, pick_port, run_cli, wait_for

PASSWORD = "nats-pw-8812"
WRONG_PASSWORD = "not-the-password-4711"


class NatsEndpointTest(DaemonTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.nats = services.Nats()
        self.port = pick_port()
        server = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.server = subprocess.Popen(
            [server, "-a", "127.0.0.1", "-p", str(self.port), "--user", "megasync", "--pass",
             PASSWORD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop() -> None:
            self.server.terminate()
            self.server.wait(timeout=30)
        self.addCleanup(stop)

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, 30, "the authenticating nats-server")

    def config(self, port: int) -> str:
        return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
daemon:
  monitoring_interval: 1s
endpoints:
  good:
    type: nats
    host: 127.0.0.1
    port: {self.port}
    user: megasync
    password: "{PASSWORD}"
  by_url:
    type: nats
    url: "nats://megasync:{PASSWORD}@127.0.0.1:{self.port}"
  wrong:
    type: nats
    host: 127.0.0.1
    port: {self.port}
    user: megasync
    password: "{WRONG_PASSWORD}"
  no_stream:
    type: nats
    url: {self.nats.url}
    stream: NO_SUCH_STREAM_{self.port}
jobs: {{}}
"""

    def test_health_of_good_and_bad_endpoints(self):
        path = f"{self.tmp}/check.yaml"
        with open(path, "w") as f:
            f.write(self.config(7171))
        self.assert_exit(run_cli(["check", "-c", path], cwd=self.tmp), EXIT_OK)

        d = self.start_daemon(self.config)
        names = ("good", "by_url", "wrong", "no_stream")

        def endpoints():
            status = d.get_json("/api/v1/status")["endpoints"]
            return status if all(status[n]["health"] != "unknown" for n in names) else None

        status = wait_for(endpoints, 60, "every endpoint to be checked")
        self.assertEqual(status["good"]["health"], "up", status)
        self.assertEqual(status["by_url"]["health"], "up", status)
        self.assertEqual(status["wrong"]["health"], "down", status)
        self.assertIn("check user/password or token", status["wrong"]["error"])
        self.assertEqual(status["no_stream"]["health"], "down", status)
        self.assertIn(f"no stream \"NO_SUCH_STREAM_{self.port}\"", status["no_stream"]["error"])
        self.assertIn("create_stream", status["no_stream"]["error"])
        self.assertNotIn(WRONG_PASSWORD, str(status))
        self.assertNotIn(PASSWORD, str(status))
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())
        self.assertNotIn(WRONG_PASSWORD, d.stderr())
        self.assertNotIn(PASSWORD, d.stderr())


if __name__ == "__main__":
    unittest.main()
