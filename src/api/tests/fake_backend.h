// A Backend with fixed answers for the API tests. Jobs: "orders" (can be
// triggered), "paused" (exists, kPermanent on trigger). Anything else: not found.
#pragma once

#include <mutex>

#include "api/backend.h"

namespace megasync::api::testing {

class FakeBackend : public Backend {
 public:
  bool is_live = true;
  std::vector<ReadyCheck> checks = {{"config", true, ""}, {"state", true, ""}};
  nlohmann::json status_doc = {{"version", "test"}, {"jobs", 2}};
  std::string trigger_error;  // when set, trigger() fails with kRetryable and this message

  // What the last calls asked for.
  int last_runs_limit = 0;
  state::EventQuery last_query;
  std::vector<std::string> triggered;  // "job by actor"

  bool live() override { return is_live; }
  std::vector<ReadyCheck> ready() override { return checks; }
  nlohmann::json status() override { return status_doc; }
  nlohmann::json jobs() override {
    return nlohmann::json::array({{{"name", "orders"}}, {{"name", "paused"}}});
  }
  std::optional<nlohmann::json> job(const std::string& name) override {
    if (!exists(name)) {
      return std::nullopt;
    }
    return nlohmann::json{{"name", name}};
  }
  Result<nlohmann::json> runs(const std::string& name, int limit) override {
    last_runs_limit = limit;
    if (!exists(name)) {
      return make_error(ErrorCode::kNotFound, "no job named {}", name);
    }
    return nlohmann::json::array({{{"id", 1}, {"job", name}}});
  }
  Result<nlohmann::json> events(const state::EventQuery& query) override {
    last_query = query;
    return nlohmann::json::array();
  }
  Result<nlohmann::json> trigger(const std::string& name, const std::string& actor) override {
    if (!exists(name)) {
      return make_error(ErrorCode::kNotFound, "no job named {}", name);
    }
    if (name == "paused") {
      return make_error(ErrorCode::kPermanent, "job paused is disabled");
    }
    if (!trigger_error.empty()) {
      return make_error(ErrorCode::kRetryable, "{}", trigger_error);
    }
    std::lock_guard lock(mutex_);
    triggered.push_back(name + " by " + actor);
    return nlohmann::json{{"job", name}, {"queued", true}};
  }

 private:
  static bool exists(const std::string& name) { return name == "orders" || name == "paused"; }
  std::mutex mutex_;
};

}  // namespace megasync::api::testing
