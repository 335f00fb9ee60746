"""Deadlines and retries: a hung command is stopped at its timeout without holding
up the other jobs; retryable failures are retried with backoff; a command job's
process starts with a clean signal state, so that SIGTERM stops it promptly."""

import time
import unittest
from datetime import datetime

from megasync_harness import DaemonTestCase, EXIT_OK, processes_in_session, wait_for


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def hang_config(port: int) -> str:
    return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
daemon:
  grace_period: 5s
jobs:
  ticker:
    kind: command
    interval: 1s
    command: [sh, -c, 'echo tick >> ticks.txt']
  hang:
    kind: command
    interval: 1h
    timeout: 1s
    retry:
      max_attempts: 1
    command: [sleep, '30']
  stuck:
    kind: command
    interval: 1h
    timeout: 10s
    retry:
      max_attempts: 1
    command: [sleep, '31']
"""


def retry_config(port: int) -> str:
    return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
jobs:
  flaky:
    kind: command
    interval: 1h
    retry:
      max_attempts: 3
      initial_backoff: 100ms
      max_backoff: 200ms
    command: [sh, -c, 'echo attempt >> flaky-attempts.txt; exit 75']
  recovers:
    kind: command
    interval: 1h
    retry:
      max_attempts: 3
      initial_backoff: 100ms
    command: [sh, -c, 'echo attempt >> recovers-attempts.txt; test $(wc -l < recovers-attempts.txt) -ge 3 || exit 75']
  broken:
    kind: command
    interval: 1h
    retry:
      max_attempts: 3
      initial_backoff: 100ms
    command: [sh, -c, 'echo attempt >> broken-attempts.txt; exit 1']
"""


class DeadlineTest(DaemonTestCase):

    def test_hung_command_times_out_and_the_schedule_goes_on(self):
        d = self.start_daemon(hang_config)
        t0 = time.monotonic()

        # `stuck` hangs for 10 s: meanwhile ticker runs on its 1 s schedule.
        wait_for(lambda: d.job("stuck")["state"] == "running", 10, "stuck to be running")
        ticks_at_start = d.job("ticker")["runs"]
        wait_for(lambda: d.job("ticker")["runs"] >= ticks_at_start + 3, 8.0,
                 "ticker to run 3 more times while stuck hangs")
        self.assertEqual(d.job("stuck")["state"], "running")

        # `hang` hit its 1 s deadline long before.
        hang_runs = d.runs("hang")
        self.assertEqual(len(hang_runs), 1, hang_runs)
        run = hang_runs[0]
        self.assertEqual(run["outcome"], "timed_out", run)
        self.assertEqual(run["attempts"], 1)
        self.assertIn("deadline of 1s exceeded", run["error"])
        took = parse_time(run["finished_at"]) - parse_time(run["started_at"])
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 4.0, run)
        hang = d.job("hang")
        self.assertEqual(hang["state"], "idle")
        self.assertEqual(hang["last_run"]["outcome"], "timed_out")
        self.assertEqual(hang["consecutive_failures"], 1)

        failed = d.events(type="sync.failed", job="hang")
        self.assertEqual(len(failed), 1, failed)
        self.assertEqual(failed[0]["severity"], "error")
        self.assertEqual(failed[0]["data"]["outcome"], "timed_out")
        self.assertEqual(failed[0]["data"]["run_id"], run["id"])
        self.assertIn("deadline", failed[0]["data"]["error"])

        # The command was killed, not left running: no `sleep 30` in the daemon's session.
        wait_for(lambda: not [p for p in processes_in_session(d.proc.pid)
                              if p[1] == ["sleep", "30"]], 5, "hang's sleep to be killed")

        # `stuck` times out at 10 s in turn; ticker never skipped a beat.
        stuck = wait_for(lambda: d.runs("stuck")[0] if d.runs("stuck")
                         and d.runs("stuck")[0]["outcome"] != "running" else None,
                         15, "stuck's run to end")
        self.assertEqual(stuck["outcome"], "timed_out", stuck)
        self.assertIn("deadline of 10s exceeded", stuck["error"])
        # The newest ticker run may be in flight right now.
        ticker_runs = sorted((r for r in d.runs("ticker") if r["outcome"] != "running"),
                             key=lambda r: r["id"])
        self.assertGreaterEqual(len(ticker_runs), 5)
        self.assertTrue(all(r["outcome"] == "succeeded" for r in ticker_runs), ticker_runs)
        starts = [parse_time(r["started_at"]) for r in ticker_runs]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        self.assertLess(max(gaps), 2.0, f"ticker's schedule slipped: gaps {gaps}")
        self.assertEqual(d.get("/readyz").status, 200)
        self.assertLess(time.monotonic() - t0, 40)

        metrics = d.get("/metrics").text
        self.assertIn('megasync_job_runs_total{job="hang",outcome="timed_out"} 1', metrics)

        code = d.stop()
        self.assertEqual(code, EXIT_OK, d.stderr())
        self.assertRegex(d.stderr(), r"job hang: run \d+ timed_out after 1 attempt\(s\): deadline of 1s")
        db = self.state_db(d)
        rows = db.execute("SELECT outcome, attempts FROM runs WHERE job = 'hang'").fetchall()
        self.assertEqual(rows, [("timed_out", 1)])
        self.assertEqual(db.execute(
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running'").fetchone()[0], 0)

    def test_retryable_failures_are_retried(self):
        d = self.start_daemon(retry_config)

        def finished(job):
            runs = d.runs(job)
            return runs[0] if runs and runs[0]["outcome"] != "running" else None

        flaky = wait_for(lambda: finished("flaky"), 15, "flaky's run to end")
        self.assertEqual(flaky["outcome"], "failed", flaky)
        self.assertEqual(flaky["attempts"], 3)
        self.assertIn("exit status 75", flaky["error"])
        with open(d.path("flaky-attempts.txt")) as f:
            self.assertEqual(f.read().count("attempt"), 3)
        # Two waits of 100-200 ms between the three attempts.
        took = parse_time(flaky["finished_at"]) - parse_time(flaky["started_at"])
        self.assertGreaterEqual(took, 0.15, flaky)
        self.assertLess(took, 5, flaky)

        recovers = wait_for(lambda: finished("recovers"), 15, "recovers' run to end")
        self.assertEqual(recovers["outcome"], "succeeded", recovers)
        self.assertEqual(recovers["attempts"], 3)

        # A permanent failure (exit 1) is not retried.
        broken = wait_for(lambda: finished("broken"), 15, "broken's run to end")
        self.assertEqual(broken["outcome"], "failed", broken)
        self.assertEqual(broken["attempts"], 1)
        with open(d.path("broken-attempts.txt")) as f:
            self.assertEqual(f.read().count("attempt"), 1)

        metrics = d.get("/metrics").text
        self.assertIn('megasync_job_retries_total{job="flaky"} 2', metrics)
        self.assertIn('megasync_job_retries_total{job="recovers"} 2', metrics)
        self.assertIn('megasync_job_runs_total{job="flaky",outcome="failed"} 1', metrics)
        events = d.events(type="sync.failed", job="flaky")
        self.assertEqual(len(events), 1, events)
        self.assertEqual(events[0]["data"]["attempts"], 3)

        self.assertEqual(d.stop(), EXIT_OK, d.stderr())
        db = self.state_db(d)
        rows = dict((job, (outcome, attempts)) for job, outcome, attempts in db.execute(
            "SELECT job, outcome, attempts FROM runs"))
        self.assertEqual(rows, {"flaky": ("failed", 3), "recovers": ("succeeded", 3),
                                "broken": ("failed", 1)})



def signal_state_config(port: int) -> str:
    return f"""\
state:
  path: state.db
api:
  listen: 127.0.0.1:{port}
jobs:
  status:
    kind: command
    interval: 1h
    command: [dd, if=/proc/self/status, of=child-status.txt, status=none]
  sleeper:
    kind: command
    interval: 1h
    timeout: 3s
    retry:
      max_attempts: 1
    command: [sleep, '30']
  stubborn:
    kind: command
    interval: 1h
    timeout: 1s
    retry:
      max_attempts: 1
    command: [sh, -c, 'trap "" TERM; sleep 20']
"""


def signal_set(mask_hex: str) -> set:
    mask = int(mask_hex, 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


class CommandTerminationTest(DaemonTestCase):
    """How a command job's process is started and stopped."""

    def test_commands_start_with_the_default_signal_state(self):
        # The daemon blocks SIGTERM/SIGINT/SIGHUP (it takes them with sigwait) and
        # ignores SIGPIPE; a program it starts must get neither, or it cannot be
        # stopped with SIGTERM and misbehaves in pipelines.
        d = self.start_daemon(signal_state_config)
        wait_for(lambda: d.job("status")["last_run"], 10, "the status job's run")
        self.assertEqual(d.job("status")["last_run"]["outcome"], "succeeded")
        with open(d.path("child-status.txt")) as f:
            fields = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        blocked = signal_set(fields["SigBlk"].strip())
        ignored = signal_set(fields["SigIgn"].strip())
        self.assertEqual(blocked, set(), "the command inherited the daemon's blocked signals "
                         f"{sorted(blocked)} (SIGHUP=1, SIGINT=2, SIGTERM=15)")
        self.assertNotIn(13, ignored, "the command inherited the daemon's SIG_IGN of SIGPIPE")

    def test_a_command_is_stopped_with_sigterm_at_its_deadline(self):
        d = self.start_daemon(signal_state_config)
        run = wait_for(lambda: next((r for r in d.runs("sleeper") if r["outcome"] != "running"),
                                    None), 10, "sleeper's run to end")
        self.assertEqual(run["outcome"], "timed_out", run)
        # `sleep` dies of SIGTERM at once: the run is stopped, not abandoned...
        self.assertNotIn("abandoned", run["error"])
        self.assertEqual(d.job("sleeper")["abandoned_runs"], 0)
        # ...and its process is gone within a second of the deadline, not only
        # when the SIGKILL fallback fires 2 s later.
        started = parse_time(run["started_at"])
        gone = wait_for(lambda: time.time() if not [
            p for p in processes_in_session(d.proc.pid) if p[1] == ["sleep", "30"]] else None,
            10, "sleeper's command to end", interval=0.05)
        self.assertLess(gone - started, 3.0 + 1.0,
                        "the command outlived its 3 s deadline by more than 1 s")
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())

    def test_abandoned_runs_gauge_falls_when_the_run_ends(self):
        # `stubborn` ignores SIGTERM: its run is abandoned at the deadline, and
        # the command is killed (SIGKILL) 2 s later, which ends the run's thread.
        d = self.start_daemon(signal_state_config)
        run = wait_for(lambda: next((r for r in d.runs("stubborn") if r["outcome"] != "running"),
                                    None), 10, "stubborn's run to end")
        self.assertEqual(run["outcome"], "timed_out", run)
        self.assertIn("abandoned", run["error"])
        wait_for(lambda: not [p for p in processes_in_session(d.proc.pid)
                              if p[1][:1] == ["sleep"] and "20" in p[1]], 10,
                 "stubborn's command to be killed")
        wait_for(lambda: d.job("stubborn")["abandoned_runs"] == 0, 5,
                 "the abandoned thread to end (per /api/v1/jobs/stubborn)")
        gauge = [line for line in d.get("/metrics").text.splitlines()
                 if line.startswith('megasync_abandoned_runs ')]
        self.assertEqual(gauge, ['megasync_abandoned_runs 0'],
                         "the gauge still counts a run whose thread has ended")
        self.assertEqual(d.stop(), EXIT_OK, d.stderr())
        self.assertNotIn("abandoned run(s) still hold a thread", d.stderr())


if __name__ == "__main__":
    unittest.main()
