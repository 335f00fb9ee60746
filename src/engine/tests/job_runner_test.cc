// The job runner with real threads and short deadlines: failure isolation, a
// hung run abandoned at its deadline, retries, and graceful stop. Tests wait on
// conditions the fake jobs signal, never for a fixed time.
#include "engine/job_runner.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>

#include "events/bus.h"
#include "state/memory_store.h"

namespace megasync::engine {
namespace {

using std::chrono::milliseconds;

// What the fake jobs report to the test.
struct Board {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::string, int> runs;
  bool release_hung = false;
  int active = 0;  // runs in flight, abandoned ones included

  void enter() {
    std::lock_guard lock(mutex);
    ++active;
    cv.notify_all();
  }
  void leave(const std::string& job) {
    std::lock_guard lock(mutex);
    ++runs[job];
    --active;
    cv.notify_all();
  }
  int runs_of(const std::string& job) {
    std::lock_guard lock(mutex);
    return runs[job];
  }
  // Waits until `pred` holds or `limit` passes; returns whether it holds.
  bool wait(const std::function<bool()>& pred, milliseconds limit = milliseconds(10'000)) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, limit, pred);
  }
  void release() {
    std::lock_guard lock(mutex);
    release_hung = true;
    cv.notify_all();
  }
};

class FakeJob : public Job {
 public:
  FakeJob(std::string name, std::function<Status(RunContext&)> body, Board& board)
      : name_(std::move(name)), body_(std::move(body)), board_(board) {}
  Status run(RunContext& ctx) override {
    board_.enter();
    Status status = body_(ctx);
    board_.leave(name_);
    return status;
  }

 private:
  std::string name_;
  std::function<Status(RunContext&)> body_;
  Board& board_;
};

class JobRunnerTest : public ::testing::Test {
 protected:
  JobRunnerTest()
      : store_(state::open_memory_store()), bus_(store_.get()), job_metrics_(metrics_) {}

  ~JobRunnerTest() override {
    // Let hung fake jobs return so that no thread outlives the test.
    board_.release();
    for (auto& runner : runners_) {
      runner->stop(Deadline::after(milliseconds(0)));
    }
    // The fixture (and the board) must outlive every fake job's thread.
    board_.wait([&] { return board_.active == 0; });
  }

  JobRunner& add(const std::string& name, milliseconds interval, milliseconds timeout,
                 std::function<Status(RunContext&)> body, int max_attempts = 1) {
    config::JobConfig job;
    job.name = name;
    job.kind = "fake";
    job.interval = interval;
    job.timeout = timeout;
    job.retry.max_attempts = max_attempts;
    job.retry.initial = milliseconds(10);
    job.retry.max = milliseconds(20);
    auto kind = std::make_unique<JobKind>();
    kind->name = "fake";
    kind->engine = "builtin";
    kind->create = [this, name, body](const config::JobConfig&,
                                      const BuildContext&) -> Result<std::unique_ptr<Job>> {
      return std::make_unique<FakeJob>(name, body, board_);
    };
    RunnerServices services;
    services.store = store_.get();
    services.events = &bus_;
    services.metrics = &metrics_;
    services.job_metrics = &job_metrics_;
    runners_.push_back(
        std::make_unique<JobRunner>(job, *kind, BuildContext{}, std::move(services)));
    kinds_.push_back(std::move(kind));
    return *runners_.back();
  }

  // A body that blocks, ignoring cancellation, until the test releases it.
  std::function<Status(RunContext&)> hang() {
    return [this](RunContext&) {
      std::unique_lock lock(board_.mutex);
      board_.cv.wait(lock, [&] { return board_.release_hung; });
      return ok();
    };
  }

  std::vector<state::RunRecord> runs_of(const std::string& job) {
    auto runs = store_->list_runs(job, 100);
    EXPECT_TRUE(runs);
    return runs ? *runs : std::vector<state::RunRecord>{};
  }

  Board board_;
  std::unique_ptr<state::StateStore> store_;
  monitor::MetricsRegistry metrics_;
  events::Bus bus_;
  JobMetrics job_metrics_;
  std::vector<std::unique_ptr<JobKind>> kinds_;
  std::vector<std::unique_ptr<JobRunner>> runners_;
};

TEST_F(JobRunnerTest, AFailingJobDoesNotStopAnother) {
  JobRunner& bad = add("bad", milliseconds(20), milliseconds(1000), [](RunContext&) {
    return Status(make_error(ErrorCode::kPermanent, "table missing"));
  });
  JobRunner& good =
      add("good", milliseconds(20), milliseconds(1000), [](RunContext&) { return ok(); });
  bad.start();
  good.start();
  ASSERT_TRUE(board_.wait([&] { return board_.runs["good"] >= 3 && board_.runs["bad"] >= 3; }));
  bad.stop(Deadline::after(milliseconds(1000)));
  good.stop(Deadline::after(milliseconds(1000)));
  for (const state::RunRecord& run : runs_of("bad")) {
    EXPECT_EQ(run.outcome, state::Outcome::kFailed);
    EXPECT_NE(run.error.find("table missing"), std::string::npos);
  }
  for (const state::RunRecord& run : runs_of("good")) {
    EXPECT_EQ(run.outcome, state::Outcome::kSucceeded);
  }
  EXPECT_EQ(bad.last_outcome(), state::Outcome::kFailed);
  EXPECT_EQ(good.last_outcome(), state::Outcome::kSucceeded);
}

TEST_F(JobRunnerTest, AHungRunIsAbandonedAtItsDeadlineAndOthersKeepTheirSchedule) {
  JobRunner& hung = add("hung", milliseconds(3'600'000), milliseconds(100), hang());
  JobRunner& ticker =
      add("ticker", milliseconds(10), milliseconds(1000), [](RunContext&) { return ok(); });
  hung.start();
  ticker.start();
  // The hung run is reported once its deadline and the abandon grace have passed.
  ASSERT_TRUE(board_.wait([&] {
    auto outcome = hung.last_outcome();
    return outcome.has_value();
  }));
  EXPECT_EQ(hung.last_outcome(), state::Outcome::kTimedOut);
  const int ticks_then = board_.runs_of("ticker");
  ASSERT_TRUE(board_.wait([&] { return board_.runs["ticker"] >= ticks_then + 3; }));
  {
    std::lock_guard lock(board_.mutex);
    EXPECT_EQ(board_.active, 1);  // its thread is still blocked: abandoned, not joined
  }
  auto runs = runs_of("hung");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, state::Outcome::kTimedOut);
  EXPECT_NE(runs[0].error.find("abandoned"), std::string::npos);
  EXPECT_EQ(hung.describe()["abandoned_runs"], 1);
  auto failed = store_->list_events({0, "sync.failed", "hung", 10});
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->size(), 1u);
}

TEST_F(JobRunnerTest, RetryableFailuresAreRetriedWithinOneRun) {
  int calls = 0;
  JobRunner& flaky = add(
      "flaky", milliseconds(0), milliseconds(5000),
      [&calls](RunContext& ctx) {
        ++calls;
        EXPECT_EQ(ctx.attempt, calls);
        return calls < 3 ? Status(make_error(ErrorCode::kRetryable, "connection reset")) : ok();
      },
      5);
  RunSummary summary = flaky.run_now("cli", false, nullptr);
  EXPECT_EQ(summary.record.outcome, state::Outcome::kSucceeded);
  EXPECT_EQ(summary.record.attempts, 3);
  EXPECT_EQ(job_metrics_.retries.with({"flaky"}).value(), 2);
  auto runs = runs_of("flaky");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].attempts, 3);
  EXPECT_EQ(runs[0].trigger, "cli");
}

TEST_F(JobRunnerTest, TriggerRunsAJobWithoutInterval) {
  JobRunner& manual = add("manual", milliseconds(0), milliseconds(1000), [](RunContext& ctx) {
    ctx.progress->add_records("replica", 5);
    return ok();
  });
  manual.start();
  EXPECT_EQ(board_.runs_of("manual"), 0);
  ASSERT_TRUE(manual.trigger("api"));
  ASSERT_TRUE(board_.wait([&] { return board_.runs["manual"] == 1; }));
  manual.stop(Deadline::after(milliseconds(1000)));
  auto runs = runs_of("manual");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].trigger, "api");
  EXPECT_EQ(runs[0].records, 5);
  EXPECT_EQ(job_metrics_.records.with({"manual", "replica"}).value(), 5);
  EXPECT_FALSE(manual.trigger("api"));  // stopped runners take no more work
}

TEST_F(JobRunnerTest, StopWaitsForTheInFlightRunThenHardStopCancelsIt) {
  JobRunner& slow = add("slow", milliseconds(3'600'000), milliseconds(60'000), [](RunContext& ctx) {
    // Cooperative: returns when cancelled.
    ctx.cancel.wait_until(Deadline::never());
    return Status(make_error(ErrorCode::kCancelled, "stopped"));
  });
  slow.start();
  ASSERT_TRUE(board_.wait([&] { return board_.active == 1; }));
  // The grace period passes while the run is in flight: it is cancelled.
  slow.stop(Deadline::after(milliseconds(50)));
  auto runs = runs_of("slow");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, state::Outcome::kCancelled);
}

TEST_F(JobRunnerTest, StopLetsARunFinishWithinTheGracePeriod) {
  JobRunner& finishing =
      add("finishing", milliseconds(3'600'000), milliseconds(60'000), [this](RunContext&) {
        // Finishes once the test has asked the runner to stop.
        std::unique_lock lock(board_.mutex);
        board_.cv.wait(lock, [&] { return board_.release_hung; });
        return ok();
      });
  finishing.start();
  ASSERT_TRUE(board_.wait([&] { return board_.active == 1; }));
  finishing.request_stop();
  board_.release();
  finishing.stop(Deadline::after(milliseconds(30'000)));
  auto runs = runs_of("finishing");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, state::Outcome::kSucceeded);
}

}  // namespace
}  // namespace megasync::engine
