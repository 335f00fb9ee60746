// A job: one configured unit of sync work, run by the orchestrator on the job's
// own thread, periodically or on a trigger.
//
// Created by its kind's factory (registered in the connector registry); the
// orchestrator owns it and calls run() on one thread at a time. A job that does
// not return before its deadline is abandoned: the orchestrator stops waiting,
// reports the run as timed out, and builds a fresh instance for the next run,
// leaving the old one to its thread (so run() must not depend on being the only
// instance alive).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/error.h"

namespace megasync::events {
class Bus;
}
namespace megasync::state {
class StateStore;
}
namespace megasync::monitor {
class MetricsRegistry;
}

namespace megasync::engine {

// Live figures of one run, updated by the job and read by the status API and the
// `megasync sync` progress line from other threads.
class RunProgress {
 public:
  void add_records(const std::string& target, std::int64_t n);
  void add_bytes(const std::string& target, std::int64_t n);
  // What the job is doing now ("snapshot orders 40%") and how much is left, when known.
  void set_phase(std::string phase);
  void set_total(std::int64_t records_total, std::int64_t bytes_total);

  struct Snapshot {
    std::string phase;
    std::int64_t records = 0;
    std::int64_t bytes = 0;
    std::int64_t records_total = -1;  // -1: unknown
    std::int64_t bytes_total = -1;
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> per_target;  // records, bytes
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    // Records per second since the run started; the seconds left at that rate
    // (-1 when the total or the rate is unknown).
    double records_per_second() const;
    double eta_seconds() const;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  Snapshot figures_;
};

// What a run gets from the orchestrator.
struct RunContext {
  std::string job;
  std::string trigger;  // "schedule", "api", "cli", "retry"
  int attempt = 1;
  Deadline deadline = Deadline::never();
  CancelToken cancel;  // set on shutdown and when the deadline passes
  // Set when the daemon stops or the job is retired, before the grace period:
  // a run that would keep streaming ends as if caught up (finishing what it
  // read) instead of waiting to be cancelled.
  CancelToken wind_down;
  RunProgress* progress = nullptr;
  state::StateStore* store = nullptr;
  events::Bus* events = nullptr;
  monitor::MetricsRegistry* metrics = nullptr;
  bool dry_run = false;  // `megasync sync --dry-run`: plan, change nothing
};

class Job {
 public:
  virtual ~Job() = default;

  // Runs one cycle. Ok when the cycle finished; a retryable error makes the
  // orchestrator retry with backoff; any other error fails the run. Must return
  // promptly (an error with kCancelled) once `ctx.cancel` is set.
  // The figures reported through ctx.progress become the run's record.
  virtual Status run(RunContext& ctx) = 0;

  // Compares source and targets (`megasync verify`): prints nothing, returns the
  // differences as a document {"equal": bool, "targets": {...}}. With `repair`,
  // re-syncs only what differs. Jobs that cannot verify say so.
  virtual Result<nlohmann::json> verify(RunContext& ctx, bool repair) {
    (void)ctx;
    (void)repair;
    return make_error(ErrorCode::kPermanent, "job {} cannot be verified", ctx.job);
  }

  // `megasync dlq replay`: applies the job's dead letters `ids` (all when
  // empty) again, to the targets that refused them. Jobs without dead letters
  // say so.
  virtual Result<nlohmann::json> replay_dead_letters(RunContext& ctx,
                                                     const std::vector<std::int64_t>& ids) {
    (void)ids;
    return make_error(ErrorCode::kPermanent, "job {} keeps no dead letters (not a record job)",
                      ctx.job);
  }

  // Extra fields for this job in the status API (for example a source position).
  // Called from API threads while run() may be in flight: must be thread-safe.
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

}  // namespace megasync::engine
