#include "engine/job_runner.h"

#include <spdlog/spdlog.h>

#include <cmath>

#include "core/redact.h"
#include "core/time.h"
#include "engine/retry_loop.h"
#include "events/bus.h"

namespace megasync::engine {
namespace {

constexpr std::chrono::milliseconds kProgressEvery{1000};

std::chrono::milliseconds abandon_grace_for(Duration timeout) {
  // Long enough for a cooperative job to notice cancellation, short enough that a
  // hung one does not hold the schedule up.
  const auto tenth = timeout / 10;
  return std::clamp<std::chrono::milliseconds>(tenth, std::chrono::milliseconds(500),
                                               std::chrono::milliseconds(5000));
}

}  // namespace

nlohmann::json run_json(const state::RunRecord& run) {
  nlohmann::json doc = {{"id", run.id},
                        {"job", run.job},
                        {"trigger", run.trigger},
                        {"started_at", format_time(run.started_at)},
                        {"outcome", state::to_string(run.outcome)},
                        {"attempts", run.attempts},
                        {"records", run.records},
                        {"bytes", run.bytes}};
  doc["finished_at"] = run.finished_at ? nlohmann::json(format_time(*run.finished_at)) : nullptr;
  if (run.finished_at) {
    doc["duration_seconds"] =
        std::chrono::duration<double>(*run.finished_at - run.started_at).count();
  }
  if (!run.error.empty()) {
    doc["error"] = run.error;
  }
  return doc;
}

JobRunner::JobRunner(config::JobConfig config, const JobKind& kind, BuildContext build,
                     RunnerServices services)
    : config_(std::move(config)),
      kind_(kind),
      build_(std::move(build)),
      services_(std::move(services)),
      schedule_(config_.interval),
      rng_(std::random_device{}()) {}

JobRunner::~JobRunner() {
  stop(Deadline::after(std::chrono::seconds(0)));
}

void JobRunner::start() {
  std::lock_guard lock(mutex_);
  if (started_) {
    return;
  }
  started_ = true;
  schedule_.begin(SteadyClock::now());
  thread_ = std::thread([this] { loop(); });
}

bool JobRunner::trigger(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return false;
    }
    schedule_.trigger(reason);
  }
  wake_.notify_all();
  return true;
}

void JobRunner::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  stop_waiting_.cancel();
}

void JobRunner::stop(Deadline grace) {
  request_stop();
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    thread = std::move(thread_);
  }
  if (!thread.joinable()) {
    return;
  }
  {
    // The loop finishes its in-flight run within the grace; after that the run
    // is cancelled, and abandoned if it ignores that (run_attempt).
    std::unique_lock lock(mutex_);
    const bool done = grace.at() == SteadyTime::max()
                          ? (wake_.wait(lock, [&] { return loop_done_; }), true)
                          : wake_.wait_until(lock, grace.at(), [&] { return loop_done_; });
    if (!done) {
      lock.unlock();
      spdlog::warn("job {}: grace period over, cancelling the run in flight", config_.name);
      hard_stop_.cancel();
    }
  }
  thread.join();
}

bool JobRunner::running() const {
  std::lock_guard lock(mutex_);
  return current_.has_value();
}

std::optional<state::Outcome> JobRunner::last_outcome() const {
  std::lock_guard lock(mutex_);
  if (!last_) {
    return std::nullopt;
  }
  return last_->outcome;
}

void JobRunner::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::optional<std::string> trigger = schedule_.take_due(SteadyClock::now());
    if (!trigger) {
      const SteadyTime wake = schedule_.wake_at();
      if (wake == SteadyTime::max()) {
        wake_.wait(lock, [&] { return stopping_ || schedule_.trigger_pending(); });
      } else {
        wake_.wait_until(lock, wake, [&] { return stopping_ || schedule_.trigger_pending(); });
      }
      continue;
    }
    schedule_.run_started(SteadyClock::now());
    lock.unlock();
    execute(*trigger, false);
    lock.lock();
    schedule_.run_finished(SteadyClock::now());
  }
  loop_done_ = true;
  wake_.notify_all();
}

RunSummary JobRunner::run_now(
    const std::string& trigger, bool dry_run,
    const std::function<void(const RunProgress::Snapshot&)>& on_progress) {
  if (!on_progress) {
    return execute(trigger, dry_run);
  }
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread reporter([&] {
    std::unique_lock lock(done_mutex);
    while (!done_cv.wait_for(lock, kProgressEvery, [&] { return done; })) {
      std::shared_ptr<RunProgress> progress;
      {
        std::lock_guard runner_lock(mutex_);
        progress = progress_;
      }
      if (progress) {
        on_progress(progress->snapshot());
      }
    }
  });
  RunSummary summary = execute(trigger, dry_run);
  {
    std::lock_guard lock(done_mutex);
    done = true;
  }
  done_cv.notify_all();
  reporter.join();
  return summary;
}

Result<std::shared_ptr<Job>> JobRunner::instance() {
  {
    std::lock_guard lock(mutex_);
    if (job_) {
      return job_;
    }
  }
  auto built = kind_.create(config_, build_);
  if (!built) {
    return tl::unexpected(std::move(built.error()));
  }
  std::shared_ptr<Job> job = std::move(*built);
  std::lock_guard lock(mutex_);
  job_ = job;
  return job;
}

RunSummary JobRunner::execute(const std::string& trigger, bool dry_run) {
  const std::string& name = config_.name;
  RunSummary summary;
  state::RunRecord& run = summary.record;
  run.job = name;
  run.trigger = trigger;
  run.started_at = WallClock::now();
  run.outcome = state::Outcome::kRunning;
  const SteadyTime started = SteadyClock::now();

  if (services_.store != nullptr) {
    auto id = services_.store->begin_run(run);
    if (id) {
      run.id = *id;
    } else {
      spdlog::warn("job {}: run not recorded: {}", name, id.error().message());
    }
  }
  auto progress = std::make_shared<RunProgress>();
  {
    std::lock_guard lock(mutex_);
    current_ = run;
    progress_ = progress;
  }
  if (services_.job_metrics != nullptr) {
    services_.job_metrics->running.with({name}).set(1);
  }
  if (services_.events != nullptr) {
    services_.events->publish("sync.started", "info", name, "",
                              {{"run_id", run.id}, {"trigger", trigger}, {"kind", config_.kind}});
  }
  spdlog::info("job {}: run {} started ({})", name, run.id, trigger);

  bool timed_out = false;
  bool abandoned = false;
  const Deadline deadline =
      config_.timeout.count() > 0 ? Deadline::after(config_.timeout) : Deadline::never();
  auto attempt = [&](int n) -> Status {
    if (n > 1) {
      if (services_.job_metrics != nullptr) {
        services_.job_metrics->retries.with({name}).inc();
      }
      spdlog::info("job {}: run {} attempt {} of {}", name, run.id, n, config_.retry.max_attempts);
    }
    auto job = instance();
    if (!job) {
      return tl::unexpected(job.error().with_context("build"));
    }
    RunContext ctx;
    ctx.job = name;
    ctx.trigger = trigger;
    ctx.attempt = n;
    ctx.store = services_.store;
    ctx.events = services_.events;
    ctx.metrics = services_.metrics;
    ctx.dry_run = dry_run;
    ctx.wind_down = stop_waiting_.token();
    AttemptLimits limits;
    limits.deadline = deadline;
    limits.abandon_grace = abandon_grace_for(config_.timeout);
    limits.hard_stop = hard_stop_.token();
    AttemptResult result =
        run_attempt(*job, progress, ctx, limits, {abandoned_threads_, services_.abandoned_total});
    timed_out = timed_out || result.timed_out;
    if (result.abandoned) {
      abandoned = true;
      std::lock_guard lock(mutex_);
      job_.reset();  // the old instance belongs to its thread now
    }
    if (result.timed_out && result.status) {
      return make_error(ErrorCode::kRetryable, "run exceeded its deadline");
    }
    return std::move(result.status);
  };
  auto wait = [&](std::chrono::milliseconds delay) {
    if (timed_out || deadline.expired()) {
      return false;  // a run that hit its deadline is not retried; the next one will be
    }
    spdlog::info("job {}: retrying in {} ms", name, delay.count());
    const Deadline until = Deadline::after(delay).min(deadline);
    return !stop_waiting_.token().wait_until(until) && !deadline.expired();
  };
  RetryOutcome outcome = run_with_retry(config_.retry, rng_, attempt, wait);

  const RunProgress::Snapshot figures = progress->snapshot();
  run.finished_at = WallClock::now();
  run.attempts = outcome.attempts;
  run.records = figures.records;
  run.bytes = figures.bytes;
  if (outcome.status) {
    run.outcome = state::Outcome::kSucceeded;
  } else if (timed_out) {
    run.outcome = state::Outcome::kTimedOut;
  } else if (outcome.status.error().code() == ErrorCode::kCancelled) {
    run.outcome = state::Outcome::kCancelled;
  } else {
    run.outcome = state::Outcome::kFailed;
  }
  if (!outcome.status) {
    run.error = redact(outcome.status.error().message());
    if (timed_out) {
      run.error = fmt::format("deadline of {} exceeded{}: {}", format_duration(config_.timeout),
                              abandoned ? " (the run ignored cancellation and was abandoned)" : "",
                              run.error);
    }
  }
  summary.abandoned = abandoned;

  if (services_.store != nullptr && run.id != 0) {
    auto stored = services_.store->finish_run(run);
    if (!stored) {
      spdlog::warn("job {}: run {} outcome not recorded: {}", name, run.id,
                   stored.error().message());
    }
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (JobMetrics* m = services_.job_metrics; m != nullptr) {
    m->running.with({name}).set(0);
    m->runs.with({name, std::string(state::to_string(run.outcome))}).inc();
    m->run_duration.with({name}).observe(seconds);
    if (run.outcome == state::Outcome::kSucceeded) {
      m->last_success.with({name}).set(unix_seconds(*run.finished_at));
    }
    for (const auto& [target, counts] : figures.per_target) {
      m->records.with({name, target}).inc(static_cast<double>(counts.first));
      m->bytes.with({name, target}).inc(static_cast<double>(counts.second));
    }
  }
  nlohmann::json data = {{"run_id", run.id},         {"trigger", trigger},
                         {"kind", config_.kind},     {"outcome", state::to_string(run.outcome)},
                         {"attempts", run.attempts}, {"records", run.records},
                         {"bytes", run.bytes},       {"duration_seconds", seconds}};
  if (run.outcome == state::Outcome::kSucceeded) {
    spdlog::info("job {}: run {} succeeded in {:.3f} s ({} records, {} bytes)", name, run.id,
                 seconds, run.records, run.bytes);
    if (services_.events != nullptr) {
      services_.events->publish("sync.completed", "info", name, "", data);
    }
  } else {
    data["error"] = run.error;
    spdlog::error("job {}: run {} {} after {} attempt(s): {}", name, run.id,
                  state::to_string(run.outcome), run.attempts, run.error);
    if (services_.events != nullptr) {
      services_.events->publish("sync.failed", "error", name, "", data);
    }
  }
  {
    std::lock_guard lock(mutex_);
    current_.reset();
    progress_.reset();
    last_ = run;
    ++runs_;
    ++outcome_counts_[std::string(state::to_string(run.outcome))];
    failures_in_a_row_ = run.outcome == state::Outcome::kSucceeded ? 0 : failures_in_a_row_ + 1;
  }
  return summary;
}

nlohmann::json JobRunner::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json doc = {{"name", config_.name},
                        {"kind", config_.kind},
                        {"engine", kind_.engine},
                        {"enabled", config_.enabled},
                        {"interval_seconds", config_.interval.count() / 1000.0},
                        {"timeout_seconds", config_.timeout.count() / 1000.0},
                        {"endpoints", config_.endpoints},
                        {"state", current_ ? "running" : (stopping_ ? "stopped" : "idle")},
                        {"runs", runs_},
                        {"outcomes", outcome_counts_},
                        {"consecutive_failures", failures_in_a_row_},
                        {"abandoned_runs", abandoned_threads_->load()}};
  if (!config_.description.empty()) {
    doc["description"] = config_.description;
  }
  if (last_) {
    doc["last_run"] = run_json(*last_);
  } else {
    doc["last_run"] = nullptr;
  }
  if (current_) {
    nlohmann::json current = run_json(*current_);
    if (progress_) {
      const RunProgress::Snapshot p = progress_->snapshot();
      current["progress"] = {{"phase", p.phase},
                             {"records", p.records},
                             {"bytes", p.bytes},
                             {"records_total", p.records_total},
                             {"records_per_second", std::round(p.records_per_second())},
                             {"eta_seconds", std::round(p.eta_seconds())},
                             {"bytes_total", p.bytes_total}};
    }
    doc["current_run"] = current;
  }
  const std::optional<SteadyTime> next = schedule_.next_due();
  if (next && !stopping_ && !current_) {
    const auto wait = *next == SteadyTime::min()
                          ? SteadyClock::duration::zero()
                          : std::max(*next - SteadyClock::now(), SteadyClock::duration::zero());
    doc["next_run"] =
        format_time(WallClock::now() + std::chrono::duration_cast<WallClock::duration>(wait));
  } else {
    doc["next_run"] = nullptr;
  }
  if (job_) {
    doc["detail"] = job_->describe();
  }
  return doc;
}

}  // namespace megasync::engine
