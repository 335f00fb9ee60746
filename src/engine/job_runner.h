// Runs one configured job: its own thread, its schedule, its runs.
//
// Created by the daemon for each enabled job (and by `megasync sync` for one);
// owns the job's thread, its schedule and its current Job instance. Each run:
// build the instance if needed (a factory failure fails the run, and the next
// run tries again), record the run in the state store, emit sync.started, run
// the attempts with retry and backoff under the run's deadline, then record the
// outcome, emit sync.completed or sync.failed, and update the metrics.
//
// Thread-safety: trigger(), describe(), request_stop() and stop() may be called
// from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "config/config.h"
#include "engine/attempt.h"
#include "engine/job_metrics.h"
#include "engine/registry.h"
#include "engine/schedule.h"
#include "state/state_store.h"

namespace megasync::events {
class Bus;
}

namespace megasync::engine {

struct RunnerServices {
  state::StateStore* store = nullptr;
  events::Bus* events = nullptr;
  monitor::MetricsRegistry* metrics = nullptr;
  JobMetrics* job_metrics = nullptr;
  // Abandoned runs still holding a thread, over every job (may be null).
  std::shared_ptr<std::atomic<int>> abandoned_total;
};

// The record of one finished run, as returned to `megasync sync`.
struct RunSummary {
  state::RunRecord record;
  bool abandoned = false;
};

// A run as the API and the CLI show it.
nlohmann::json run_json(const state::RunRecord& run);

class JobRunner {
 public:
  JobRunner(config::JobConfig config, const JobKind& kind, BuildContext build,
            RunnerServices services);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Starts the job's thread; the first scheduled run is due at once.
  void start();
  // Asks for a run now. Returns false when the runner is stopping.
  bool trigger(const std::string& reason);
  // Runs once on the calling thread (no schedule), for `megasync sync`.
  // `on_progress` is called about once a second while the run is in flight.
  RunSummary run_now(const std::string& trigger, bool dry_run,
                     const std::function<void(const RunProgress::Snapshot&)>& on_progress);

  // Stops starting runs (idempotent).
  void request_stop();
  // Stops the thread: waits for an in-flight run until `grace` passes; after
  // that the run is cancelled and, if it still does not return, abandoned.
  // Returns within `grace` plus the abandon grace (at most 5 s).
  void stop(Deadline grace);

  const config::JobConfig& config() const { return config_; }
  // The job's status document for the API.
  nlohmann::json describe() const;
  bool running() const;
  // The outcome of the last finished run, if any.
  std::optional<state::Outcome> last_outcome() const;

 private:
  void loop();
  RunSummary execute(const std::string& trigger, bool dry_run);
  Result<std::shared_ptr<Job>> instance();

  const config::JobConfig config_;
  const JobKind& kind_;
  const BuildContext build_;
  RunnerServices services_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Schedule schedule_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread thread_;
  std::shared_ptr<Job> job_;               // null until built, or after an abandoned run
  std::shared_ptr<RunProgress> progress_;  // the in-flight run's
  std::optional<state::RunRecord> current_;
  std::optional<state::RunRecord> last_;
  std::int64_t runs_ = 0;
  std::int64_t failures_in_a_row_ = 0;
  std::map<std::string, std::int64_t> outcome_counts_;
  std::shared_ptr<std::atomic<int>> abandoned_threads_ = std::make_shared<std::atomic<int>>(0);
  // Cancelled by stop(): ends backoff waits, and winds streaming runs down
  // (RunContext::wind_down).
  CancelSource stop_waiting_;
  CancelSource hard_stop_;  // cancelled by stop() when its grace has passed
  bool loop_done_ = false;
  std::mt19937_64 rng_;
};

}  // namespace megasync::engine
