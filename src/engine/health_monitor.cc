#include "engine/health_monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "core/redact.h"
#include "events/bus.h"

namespace megasync::engine {
namespace {

struct ProbeCall {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  Status status = ok();
};

}  // namespace

HealthMonitor::HealthMonitor(events::Bus* events, monitor::MetricsRegistry& metrics,
                             Duration interval, Duration timeout)
    : events_(events),
      up_(metrics.gauge("megasync_endpoint_up",
                        "1 when the endpoint's last health check passed, 0 when it failed.",
                        {"endpoint"})),
      check_duration_(metrics.gauge("megasync_endpoint_check_duration_seconds",
                                    "How long the endpoint's last health check took.",
                                    {"endpoint"})),
      interval_(interval),
      timeout_(timeout) {}

HealthMonitor::~HealthMonitor() {
  stop();
}

void HealthMonitor::set_endpoints(
    const std::map<std::string, std::shared_ptr<Endpoint>>& endpoints) {
  std::lock_guard lock(mutex_);
  for (auto it = health_.begin(); it != health_.end();) {
    if (endpoints.count(it->first) == 0) {
      up_.remove({it->first});
      check_duration_.remove({it->first});
      it = health_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, endpoint] : endpoints) {
    auto old = endpoints_.find(name);
    if (old != endpoints_.end() && old->second != endpoint) {
      health_.erase(name);  // a new instance: its health is unknown again
    }
    health_[name];
  }
  endpoints_ = endpoints;
}

void HealthMonitor::set_timing(Duration interval, Duration timeout) {
  {
    std::lock_guard lock(mutex_);
    interval_ = interval;
    timeout_ = timeout;
  }
  wake_.notify_all();
}

void HealthMonitor::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void HealthMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void HealthMonitor::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    check_now();
    lock.lock();
    // A zero or tiny interval would probe in a tight loop.
    const Duration every = std::max<Duration>(interval_, std::chrono::seconds(1));
    wake_.wait_for(lock, every, [&] { return stopping_; });
  }
}

void HealthMonitor::check_now() {
  struct Pending {
    std::string name;
    std::shared_ptr<ProbeCall> call;
    SteadyTime started;
  };
  std::vector<Pending> pending;
  Duration timeout;
  {
    std::lock_guard lock(mutex_);
    timeout = timeout_;
    for (const auto& [name, endpoint] : endpoints_) {
      Health& health = health_[name];
      if (health.in_flight->exchange(true)) {
        continue;  // the previous probe still hangs; it was already counted as down
      }
      auto call = std::make_shared<ProbeCall>();
      const Deadline deadline = Deadline::after(timeout);
      std::thread([call, endpoint = endpoint, deadline, in_flight = health.in_flight] {
        Status status = ok();
        try {
          status = endpoint->probe(deadline);
        } catch (const std::exception& e) {
          status = make_error(ErrorCode::kPermanent, "probe threw: {}", e.what());
        }
        std::lock_guard call_lock(call->mutex);
        call->done = true;
        call->status = std::move(status);
        in_flight->store(false);
        call->cv.notify_all();
      }).detach();
      pending.push_back({name, call, SteadyClock::now()});
    }
  }
  const SteadyTime until = SteadyClock::now() + timeout;
  for (Pending& p : pending) {
    std::unique_lock call_lock(p.call->mutex);
    const bool done = p.call->cv.wait_until(call_lock, until, [&] { return p.call->done; });
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - p.started).count();
    if (!done) {
      record(p.name, false, seconds,
             fmt::format("no answer within {} (probe timeout)", format_duration(timeout)));
    } else if (p.call->status) {
      record(p.name, true, seconds, "");
    } else {
      record(p.name, false, seconds, redact(p.call->status.error().message()));
    }
  }
}

void HealthMonitor::record(const std::string& name, bool up, double seconds,
                           const std::string& error) {
  std::optional<bool> before;
  {
    std::lock_guard lock(mutex_);
    auto it = health_.find(name);
    if (it == health_.end()) {
      return;  // removed by a reload meanwhile
    }
    Health& health = it->second;
    before = health.up;
    const WallTime now = WallClock::now();
    if (!health.up || *health.up != up) {
      health.since = now;
    }
    health.up = up;
    health.checked_at = now;
    health.duration_seconds = seconds;
    health.error = error;
  }
  up_.with({name}).set(up ? 1 : 0);
  check_duration_.with({name}).set(seconds);
  if (before == up) {
    return;
  }
  if (!up) {
    spdlog::warn("endpoint {} is down: {}", name, error);
    if (events_ != nullptr) {
      events_->publish("endpoint.down", "error", "", name, {{"error", error}});
    }
  } else if (before.has_value()) {
    spdlog::info("endpoint {} is up again", name);
    if (events_ != nullptr) {
      events_->publish("endpoint.up", "info", "", name, nlohmann::json::object());
    }
  }
}

nlohmann::json HealthMonitor::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [name, health] : health_) {
    auto endpoint = endpoints_.find(name);
    nlohmann::json entry = {{"type", endpoint != endpoints_.end() ? endpoint->second->type() : ""}};
    if (!health.up) {
      entry["health"] = "unknown";
    } else {
      entry["health"] = *health.up ? "up" : "down";
      entry["checked_at"] = format_time(health.checked_at);
      entry["since"] = format_time(health.since);
      entry["check_duration_seconds"] = health.duration_seconds;
      if (!health.error.empty()) {
        entry["error"] = health.error;
      }
    }
    doc[name] = entry;
  }
  return doc;
}

int HealthMonitor::endpoints_down() const {
  std::lock_guard lock(mutex_);
  int down = 0;
  for (const auto& [name, health] : health_) {
    down += (health.up && !*health.up) ? 1 : 0;
  }
  return down;
}

int HealthMonitor::endpoints_total() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(health_.size());
}

}  // namespace megasync::engine
