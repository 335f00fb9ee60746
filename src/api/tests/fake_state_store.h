// An in-memory StateStore for the API tests: vectors behind a mutex, with
// switches to make audit writes or the writability check fail.
#pragma once

#include <mutex>
#include <vector>

#include "state/state_store.h"

namespace megasync::api::testing {

class FakeStateStore : public state::StateStore {
 public:
  bool fail_audit = false;     // append_audit fails
  bool fail_writable = false;  // check_writable fails

  std::vector<state::AuditRecord> audits() const {
    std::lock_guard lock(mutex_);
    return audits_;
  }

  Result<std::optional<state::Checkpoint>> get_checkpoint(const std::string& job,
                                                          const std::string& target) override {
    std::lock_guard lock(mutex_);
    for (const auto& c : checkpoints_) {
      if (c.job == job && c.target == target) {
        return c;
      }
    }
    return std::optional<state::Checkpoint>();
  }
  Status put_checkpoint(const std::string& job, const std::string& target,
                        const std::string& position) override {
    std::lock_guard lock(mutex_);
    checkpoints_.push_back({job, target, position, std::chrono::system_clock::now()});
    return ok();
  }
  Result<std::vector<state::Checkpoint>> list_checkpoints(const std::string& job) override {
    std::lock_guard lock(mutex_);
    std::vector<state::Checkpoint> out;
    for (const auto& c : checkpoints_) {
      if (c.job == job) {
        out.push_back(c);
      }
    }
    return out;
  }
  Status delete_checkpoints(const std::string& job) override {
    std::lock_guard lock(mutex_);
    std::erase_if(checkpoints_, [&](const auto& c) { return c.job == job; });
    return ok();
  }
  Result<std::int64_t> begin_run(const state::RunRecord& run) override {
    std::lock_guard lock(mutex_);
    runs_.push_back(run);
    runs_.back().id = static_cast<std::int64_t>(runs_.size());
    return runs_.back().id;
  }
  Status finish_run(const state::RunRecord& run) override {
    std::lock_guard lock(mutex_);
    if (run.id < 1 || run.id > static_cast<std::int64_t>(runs_.size())) {
      return make_error(ErrorCode::kNotFound, "no run {}", run.id);
    }
    runs_[static_cast<std::size_t>(run.id - 1)] = run;
    return ok();
  }
  Result<std::vector<state::RunRecord>> list_runs(const std::string& job, int limit) override {
    std::lock_guard lock(mutex_);
    std::vector<state::RunRecord> out;
    for (auto it = runs_.rbegin(); it != runs_.rend() && static_cast<int>(out.size()) < limit;
         ++it) {
      if (job.empty() || it->job == job) {
        out.push_back(*it);
      }
    }
    return out;
  }
  Result<int> close_interrupted_runs(const std::string& /*reason*/) override { return 0; }
  Result<std::int64_t> append_event(const state::EventRecord& event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    events_.back().id = static_cast<std::int64_t>(events_.size());
    return events_.back().id;
  }
  Result<std::vector<state::EventRecord>> list_events(const state::EventQuery& query) override {
    std::lock_guard lock(mutex_);
    std::vector<state::EventRecord> out;
    for (auto it = events_.rbegin();
         it != events_.rend() && static_cast<int>(out.size()) < query.limit; ++it) {
      if (it->id > query.after_id && (query.job.empty() || it->job == query.job)) {
        out.push_back(*it);
      }
    }
    return out;
  }
  Status append_audit(const state::AuditRecord& record) override {
    std::lock_guard lock(mutex_);
    if (fail_audit) {
      return make_error(ErrorCode::kRetryable, "database is locked");
    }
    audits_.push_back(record);
    audits_.back().id = static_cast<std::int64_t>(audits_.size());
    return ok();
  }
  Result<std::vector<state::AuditRecord>> list_audit(int limit) override {
    std::lock_guard lock(mutex_);
    std::vector<state::AuditRecord> out(audits_.rbegin(), audits_.rend());
    if (static_cast<int>(out.size()) > limit) {
      out.resize(static_cast<std::size_t>(limit));
    }
    return out;
  }
  Result<std::int64_t> prune(state::WallTime /*events_before*/, std::int64_t /*events_max*/,
                             state::WallTime /*runs_before*/) override {
    return 0;
  }
  Status check_writable() override {
    if (fail_writable) {
      return make_error(ErrorCode::kRetryable, "disk I/O error");
    }
    return ok();
  }
  Result<int> schema_version() override { return 1; }

 private:
  mutable std::mutex mutex_;
  std::vector<state::Checkpoint> checkpoints_;
  std::vector<state::RunRecord> runs_;
  std::vector<state::EventRecord> events_;
  std::vector<state::AuditRecord> audits_;
};

}  // namespace megasync::api::testing
