// Checks every endpoint's health on an interval (MONITORING_INTERVAL, 10 s by
// default): each probe runs with a timeout on a thread of its own, so a probe
// that hangs marks its endpoint down without holding up the others. Updates
// megasync_endpoint_up and megasync_endpoint_check_duration_seconds, and emits
// endpoint.down / endpoint.up when an endpoint's health changes.
//
// Created by the daemon; owns its thread. set_endpoints() after a reload.
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "core/cancel.h"
#include "core/duration.h"
#include "core/time.h"
#include "engine/endpoint.h"
#include "monitor/metrics.h"

namespace megasync::events {
class Bus;
}

namespace megasync::engine {

class HealthMonitor {
 public:
  HealthMonitor(events::Bus* events, monitor::MetricsRegistry& metrics, Duration interval,
                Duration timeout);
  ~HealthMonitor();

  void set_endpoints(const std::map<std::string, std::shared_ptr<Endpoint>>& endpoints);
  void set_timing(Duration interval, Duration timeout);
  void start();
  void stop();
  // Probes every endpoint once and waits for the answers (or their timeouts).
  void check_now();

  // Per endpoint: up, checked_at, duration, error, since (when its health last changed).
  nlohmann::json describe() const;
  int endpoints_down() const;
  int endpoints_total() const;

 private:
  struct Health {
    std::optional<bool> up;  // nullopt: not checked yet
    WallTime checked_at{};
    WallTime since{};
    double duration_seconds = 0;
    std::string error;
    std::shared_ptr<std::atomic<bool>> in_flight = std::make_shared<std::atomic<bool>>(false);
  };
  void loop();
  void record(const std::string& name, bool up, double seconds, const std::string& error);

  events::Bus* events_;
  monitor::GaugeFamily& up_;
  monitor::GaugeFamily& check_duration_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Duration interval_;
  Duration timeout_;
  bool stopping_ = false;
  std::thread thread_;
  std::map<std::string, std::shared_ptr<Endpoint>> endpoints_;
  std::map<std::string, Health> health_;
};

}  // namespace megasync::engine
