#include "engine/daemon.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <set>

#include "api/listen_address.h"
#include "core/redact.h"
#include "core/time.h"
#include "core/version.h"
#include "monitor/process_metrics.h"
#include "state/sqlite_store.h"

namespace megasync::engine {
namespace {

constexpr std::chrono::minutes kMaintenanceEvery{10};
constexpr std::chrono::seconds kReadyCacheFor{2};

nlohmann::json event_json(const state::EventRecord& event) {
  return {{"id", event.id},    {"type", event.type},         {"severity", event.severity},
          {"job", event.job},  {"endpoint", event.endpoint}, {"time", format_time(event.time)},
          {"data", event.data}};
}

}  // namespace

Daemon::Daemon(const Registry& registry, std::shared_ptr<const config::Config> config,
               DaemonOptions options)
    : registry_(registry),
      config_(std::move(config)),
      options_(options),
      started_at_(WallClock::now()) {}

Daemon::~Daemon() {
  stop();
}

RunnerServices Daemon::services() {
  RunnerServices s;
  s.store = store_.get();
  s.events = bus_.get();
  s.metrics = metrics_.get();
  s.job_metrics = job_metrics_.get();
  s.abandoned_total = abandoned_;
  return s;
}

Status Daemon::start() {
  std::lock_guard control(control_mutex_);
  const config::Config& config = *config_;
  const std::string state_path = config.resolve_path(config.state.path);
  auto store = state::open_sqlite_store(state_path);
  if (!store) {
    return tl::unexpected(store.error().with_context("state store"));
  }
  store_ = std::move(*store);
  if (auto closed = store_->close_interrupted_runs("interrupted: megasync stopped during the run");
      closed && *closed > 0) {
    spdlog::warn("{} run(s) were interrupted by the previous stop and are recorded as failed",
                 *closed);
  }

  metrics_ = std::make_unique<monitor::MetricsRegistry>();
  monitor::register_process_metrics(*metrics_);
  metrics_
      ->gauge("megasync_build_info", "Build information; the value is always 1.",
              {"version", "commit"})
      .with({kVersion, kCommit})
      .set(1);
  metrics_->gauge_callback(
      "megasync_uptime_seconds", "Seconds since the daemon started.", [started = started_at_] {
        return std::chrono::duration<double>(WallClock::now() - started).count();
      });
  metrics_->counter("megasync_config_reloads_total", "Configuration reloads by outcome.",
                    {"outcome"});
  metrics_->gauge_callback("megasync_abandoned_runs",
                           "Runs that overran their deadline, ignored cancellation and still hold "
                           "a thread.",
                           [abandoned = abandoned_] { return abandoned->load(); });
  bus_ = std::make_unique<events::Bus>(store_.get());
  job_metrics_ = std::make_unique<JobMetrics>(*metrics_);

  auto endpoints = build_endpoints(config, registry_);
  if (!endpoints) {
    return tl::unexpected(endpoints.error());
  }
  if (auto errors = validate_jobs(config_, registry_, *endpoints); !errors.empty()) {
    for (const std::string& error : errors) {
      spdlog::error("{}", error);
    }
    return make_error(ErrorCode::kInvalidConfig, "{} job(s) cannot be built (see above)",
                      errors.size());
  }
  health_ = std::make_unique<HealthMonitor>(
      bus_.get(), *metrics_, config.daemon.monitoring_interval, config.daemon.probe_timeout);
  health_->set_endpoints(*endpoints);

  if (config.api.enabled) {
    router_ = std::make_unique<api::Router>(*this, *metrics_, *store_, config.api);
    server_ = std::make_unique<api::Server>(*router_);
    auto port = server_->start(config.api.listen);
    if (!port) {
      return tl::unexpected(port.error().with_context("api"));
    }
    api_port_ = *port;
    if (config.api.tokens.empty() && !api::is_loopback_listen(config.api.listen)) {
      spdlog::warn(
          "api: no tokens are configured and {} is not a loopback address: /api/v1/* "
          "answers 401 to everyone; add api.tokens",
          config.api.listen);
    }
  }

  {
    std::lock_guard lock(mutex_);
    endpoints_ = std::move(*endpoints);
    runners_ = make_runners(config_, endpoints_);
    for (auto& [name, runner] : runners_) {
      runner->start();
    }
    retired_generation_ = 1;
  }
  health_->start();
  maintenance_ = std::thread([this] { maintenance_loop(); });
  bus_->publish("daemon.started", "info", "", "",
                {{"version", kVersion},
                 {"config", config.path},
                 {"jobs", config.jobs.size()},
                 {"endpoints", config.endpoints.size()}});
  spdlog::info("megasync {} started: {} job(s), {} endpoint(s), state {}", kVersion,
               config.jobs.size(), config.endpoints.size(), state_path);
  return ok();
}

std::map<std::string, std::unique_ptr<JobRunner>> Daemon::make_runners(
    const std::shared_ptr<const config::Config>& config, const EndpointMap& endpoints) {
  std::map<std::string, std::unique_ptr<JobRunner>> runners;
  for (const config::JobConfig& job : config->jobs) {
    if (!job.enabled) {
      continue;
    }
    const JobKind* kind = registry_.job_kind(job.kind);
    if (kind == nullptr) {
      continue;  // the loader validated kinds against this registry
    }
    runners.emplace(job.name, std::make_unique<JobRunner>(
                                  job, *kind, build_context(job, config, endpoints), services()));
  }
  return runners;
}

Status Daemon::reload(std::shared_ptr<const config::Config> next) {
  std::lock_guard control(control_mutex_);
  if (draining_) {
    return make_error(ErrorCode::kPermanent, "the daemon is stopping");
  }
  std::shared_ptr<const config::Config> previous;
  EndpointMap previous_endpoints;
  {
    std::lock_guard lock(mutex_);
    previous = config_;
    previous_endpoints = endpoints_;
  }
  if (next->state.path != previous->state.path || next->state.driver != previous->state.driver) {
    spdlog::warn("reload: a change of state.driver or state.path takes effect at the next restart");
  }
  if (next->api.listen != previous->api.listen || next->api.enabled != previous->api.enabled) {
    spdlog::warn("reload: a change of api.listen or api.enabled takes effect at the next restart");
  }
  auto endpoints = build_endpoints(*next, registry_, previous.get(), &previous_endpoints);
  if (!endpoints) {
    return tl::unexpected(endpoints.error());
  }
  if (auto errors = validate_jobs(next, registry_, *endpoints); !errors.empty()) {
    for (const std::string& error : errors) {
      spdlog::error("reload rejected: {}", error);
    }
    return make_error(ErrorCode::kInvalidConfig, "{} job(s) cannot be built", errors.size());
  }

  // Decide per job: keep (same fingerprint), replace (changed), add or remove.
  // Kept and added jobs are in place at once; a changed job's new runner starts
  // only after its old one finished the run in flight, so that one job never
  // runs twice at the same time.
  std::map<std::string, std::unique_ptr<JobRunner>> retired;
  std::map<std::string, std::unique_ptr<JobRunner>> replacements;
  int added = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto it = runners_.begin(); it != runners_.end();) {
      const config::JobConfig* job = next->find_job(it->first);
      const bool keep = job != nullptr && job->enabled &&
                        job->fingerprint == it->second->config().fingerprint &&
                        job->kind == it->second->config().kind;
      if (keep) {
        ++it;
      } else {
        it->second->request_stop();
        retired.emplace(it->first, std::move(it->second));
        it = runners_.erase(it);
      }
    }
    for (const config::JobConfig& job : next->jobs) {
      const JobKind* kind = registry_.job_kind(job.kind);
      if (!job.enabled || kind == nullptr || runners_.count(job.name) != 0) {
        continue;
      }
      auto runner =
          std::make_unique<JobRunner>(job, *kind, build_context(job, next, *endpoints), services());
      if (retired.count(job.name) != 0) {
        replacements.emplace(job.name, std::move(runner));
      } else {
        runner->start();
        runners_.emplace(job.name, std::move(runner));
        ++added;
      }
    }
    config_ = next;
    endpoints_ = *endpoints;
  }
  const int changed = static_cast<int>(replacements.size());
  const int removed = static_cast<int>(retired.size()) - changed;
  // A retired job's in-flight run gets the grace period, then is cancelled.
  const Deadline deadline = Deadline::after(next->daemon.grace_period);
  for (auto& [name, runner] : retired) {
    runner->stop(deadline);
    if (replacements.count(name) == 0) {
      metrics_->remove_series("job", name);
    }
  }
  retired.clear();
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, runner] : replacements) {
      runner->start();
      runners_[name] = std::move(runner);
    }
    ++retired_generation_;  // the removed jobs' runs are over: look for what they left
  }
  { std::lock_guard wake(maintenance_mutex_); }
  maintenance_wake_.notify_all();
  health_->set_endpoints(*endpoints);
  health_->set_timing(next->daemon.monitoring_interval, next->daemon.probe_timeout);
  if (router_) {
    router_->reconfigure(next->api);
  }
  metrics_
      ->counter("megasync_config_reloads_total", "Configuration reloads by outcome.", {"outcome"})
      .with({"ok"})
      .inc();
  bus_->publish("config.reloaded", "info", "", "",
                {{"added", added}, {"changed", changed}, {"removed", removed}});
  (void)store_->append_audit(
      {0, WallClock::now(), "signal", "config.reload", next->path, "ok", ""});
  spdlog::info("configuration reloaded: {} job(s) added, {} changed, {} removed", added, changed,
               removed);
  return ok();
}

void Daemon::reload_rejected(const std::string& reason) {
  if (!metrics_) {
    return;
  }
  metrics_
      ->counter("megasync_config_reloads_total", "Configuration reloads by outcome.", {"outcome"})
      .with({"rejected"})
      .inc();
  bus_->publish("config.rejected", "error", "", "", {{"error", reason}});
  (void)store_->append_audit(
      {0, WallClock::now(), "signal", "config.reload", config_->path, "rejected: " + reason, ""});
}

void Daemon::stop() {
  std::lock_guard control(control_mutex_);
  if (stopped_.exchange(true)) {
    return;
  }
  draining_ = true;
  const Duration grace = config_->daemon.grace_period;
  std::map<std::string, std::unique_ptr<JobRunner>> runners;
  {
    std::lock_guard lock(mutex_);
    runners = std::move(runners_);
    runners_.clear();
  }
  spdlog::info("stopping: {} job(s), grace period {}", runners.size(), format_duration(grace));
  for (auto& [name, runner] : runners) {
    runner->request_stop();
  }
  // Each runner waits for its in-flight run until the common deadline, then
  // cancels it (and abandons it if it ignores that): the stop never takes longer
  // than the grace period plus the abandon grace.
  const Deadline deadline = Deadline::after(grace);
  for (auto& [name, runner] : runners) {
    runner->stop(deadline);
  }
  { std::lock_guard lock(maintenance_mutex_); }
  maintenance_wake_.notify_all();
  if (maintenance_.joinable()) {
    maintenance_.join();
  }
  if (health_) {
    health_->stop();
  }
  if (server_) {
    server_->stop();
  }
  if (bus_) {
    bus_->publish("daemon.stopped", "info", "", "", {{"abandoned_runs", abandoned_runs()}});
  }
  spdlog::info("stopped");
}

int Daemon::abandoned_runs() const {
  return abandoned_->load();
}

void Daemon::maintenance_loop() {
  std::unique_lock lock(maintenance_mutex_);
  auto generation = [this] {
    std::lock_guard config_lock(mutex_);
    return retired_generation_;
  };
  SteadyTime next_prune = SteadyClock::now();
  std::uint64_t checked = 0;  // the generation retired jobs were last looked for in
  while (!stopped_) {
    std::shared_ptr<const config::Config> config;
    EndpointMap endpoints;
    std::uint64_t current = 0;
    {
      std::lock_guard config_lock(mutex_);
      config = config_;
      endpoints = endpoints_;
      current = retired_generation_;
    }
    if (SteadyClock::now() >= next_prune) {
      const WallTime now = WallClock::now();
      auto pruned = store_->prune(now - config->state.events_retention, config->state.events_max,
                                  now - config->state.runs_retention);
      if (!pruned) {
        spdlog::warn("state store maintenance: {}", pruned.error().message());
      } else if (*pruned > 0) {
        spdlog::debug("state store maintenance: pruned {} row(s)", *pruned);
      }
      next_prune = SteadyClock::now() + kMaintenanceEvery;
    }
    if (current != checked) {
      checked = current;
      lock.unlock();  // reaches servers: stop() must not wait on the mutex meanwhile
      check_retired_jobs(*config, endpoints);
      lock.lock();
      continue;
    }
    maintenance_wake_.wait_until(lock, next_prune,
                                 [&] { return stopped_.load() || generation() != checked; });
  }
}

void Daemon::check_retired_jobs(const config::Config& config, const EndpointMap& endpoints) {
  auto checkpoints = store_->list_checkpoints("");
  if (!checkpoints) {
    spdlog::warn("cannot look for removed jobs: {}", checkpoints.error().message());
    return;
  }
  std::set<std::string> retired;
  for (const state::Checkpoint& checkpoint : *checkpoints) {
    if (config.find_job(checkpoint.job) == nullptr) {
      retired.insert(checkpoint.job);
    }
  }
  for (const std::string& job : retired) {
    bool released = true;
    for (const auto& [name, endpoint] : endpoints) {
      if (stopped_) {
        return;
      }
      Result<std::vector<std::string>> kept = endpoint->retained_for(job);
      if (!kept) {
        spdlog::warn(
            "job {} was removed from the configuration; cannot tell whether endpoint {} still "
            "keeps anything for it: {}",
            job, name, redact(kept.error().message()));
        released = false;
        continue;
      }
      if (!options_.drop_slots) {
        if (!kept->empty()) {
          spdlog::warn(
              "job {} was removed from the configuration, but endpoint {} still keeps {} for "
              "it; restart with `megasync run --drop-slots` to drop it, or add the job back",
              job, name, fmt::join(*kept, ", "));
          bus_->publish("source.slot_orphaned", "warning", job, name, {{"retained", *kept}});
        }
        continue;
      }
      if (Status s = endpoint->release_job(job); !s) {
        spdlog::warn("job {} was removed from the configuration; --drop-slots: endpoint {}: {}",
                     job, name, redact(s.error().message()));
        released = false;
        continue;
      }
      if (!kept->empty()) {
        spdlog::info("job {} was removed from the configuration; dropped at endpoint {}: {}", job,
                     name, fmt::join(*kept, ", "));
        bus_->publish("source.slot_dropped", "info", job, name, {{"dropped", *kept}});
      }
    }
    if (options_.drop_slots && released) {
      // Forgotten: added back, the job starts from a fresh snapshot.
      if (Status s = store_->delete_checkpoints(job); !s) {
        spdlog::warn("job {}: cannot forget its checkpoints: {}", job, s.error().message());
      }
    }
  }
}

bool Daemon::live() {
  return true;
}

std::vector<api::ReadyCheck> Daemon::ready() {
  std::vector<api::ReadyCheck> checks;
  checks.push_back({"config", config_ != nullptr, config_ ? "" : "no configuration loaded"});
  {
    std::lock_guard lock(ready_mutex_);
    const SteadyTime now = SteadyClock::now();
    if (state_check_.name.empty() || now - ready_checked_ > kReadyCacheFor) {
      Status writable = store_->check_writable();
      state_check_ = {"state", static_cast<bool>(writable),
                      writable ? "" : redact(writable.error().message())};
      ready_checked_ = now;
    }
    checks.push_back(state_check_);
  }
  checks.push_back({"draining", !draining_, draining_ ? "the daemon is shutting down" : ""});
  return checks;
}

std::string Daemon::aggregate_health() {
  bool state_ok = true;
  for (const api::ReadyCheck& check : ready()) {
    if (check.name == "state") {
      state_ok = check.ok;
    }
  }
  int jobs = 0;
  int failing = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, runner] : runners_) {
      ++jobs;
      auto outcome = runner->last_outcome();
      failing += (outcome && *outcome != state::Outcome::kSucceeded) ? 1 : 0;
    }
  }
  if (!state_ok || (jobs > 0 && failing == jobs)) {
    return "failing";
  }
  if (failing > 0 || (health_ && health_->endpoints_down() > 0)) {
    return "degraded";
  }
  return "healthy";
}

nlohmann::json Daemon::status() {
  std::shared_ptr<const config::Config> config;
  {
    std::lock_guard lock(mutex_);
    config = config_;
  }
  nlohmann::json daemon = {
      {"version", kVersion},
      {"commit", kCommit},
      {"pid", static_cast<long>(::getpid())},
      {"started_at", format_time(started_at_)},
      {"uptime_seconds", std::chrono::duration<double>(WallClock::now() - started_at_).count()},
      {"config", config->path},
      {"state", config->resolve_path(config->state.path)},
      {"draining", draining_.load()},
      {"health", aggregate_health()}};
  nlohmann::json doc = jobs();
  doc["daemon"] = daemon;
  doc["endpoints"] = health_ ? health_->describe() : nlohmann::json::object();
  return doc;
}

nlohmann::json Daemon::jobs() {
  nlohmann::json list = nlohmann::json::array();
  std::lock_guard lock(mutex_);
  for (const config::JobConfig& job : config_->jobs) {
    auto runner = runners_.find(job.name);
    if (runner != runners_.end()) {
      list.push_back(runner->second->describe());
    } else {
      list.push_back({{"name", job.name},
                      {"kind", job.kind},
                      {"enabled", job.enabled},
                      {"state", job.enabled ? "starting" : "disabled"}});
    }
  }
  return {{"jobs", list}};
}

std::optional<nlohmann::json> Daemon::job(const std::string& name) {
  nlohmann::json all = jobs();
  for (const nlohmann::json& job : all["jobs"]) {
    if (job["name"] == name) {
      return job;
    }
  }
  return std::nullopt;
}

Result<nlohmann::json> Daemon::runs(const std::string& name, int limit) {
  {
    std::lock_guard lock(mutex_);
    if (config_->find_job(name) == nullptr) {
      return make_error(ErrorCode::kNotFound, "no job named '{}'", name);
    }
  }
  auto runs = store_->list_runs(name, limit);
  if (!runs) {
    return tl::unexpected(runs.error());
  }
  nlohmann::json list = nlohmann::json::array();
  for (const state::RunRecord& run : *runs) {
    list.push_back(run_json(run));
  }
  return nlohmann::json{{"job", name}, {"runs", list}};
}

Result<nlohmann::json> Daemon::events(const state::EventQuery& query) {
  auto events = store_->list_events(query);
  if (!events) {
    return tl::unexpected(events.error());
  }
  nlohmann::json list = nlohmann::json::array();
  for (const state::EventRecord& event : *events) {
    list.push_back(event_json(event));
  }
  return nlohmann::json{{"events", list}};
}

Result<nlohmann::json> Daemon::trigger(const std::string& name, const std::string& actor) {
  std::lock_guard lock(mutex_);
  const config::JobConfig* job = config_->find_job(name);
  if (job == nullptr) {
    return make_error(ErrorCode::kNotFound, "no job named '{}'", name);
  }
  auto runner = runners_.find(name);
  if (runner == runners_.end()) {
    return make_error(ErrorCode::kPermanent, "job '{}' is disabled; set enabled: true to run it",
                      name);
  }
  if (!runner->second->trigger("api")) {
    return make_error(ErrorCode::kPermanent, "job '{}' is stopping", name);
  }
  spdlog::info("job {}: run requested by {}", name, actor);
  return nlohmann::json{{"job", name}, {"queued", true}};
}

}  // namespace megasync::engine
