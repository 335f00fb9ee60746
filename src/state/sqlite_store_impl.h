// The SQLite StateStore implementation, shared by the files that define its
// methods (sqlite_store.cc: opening, checkpoints, upkeep; sqlite_history.cc:
// runs, events, audit; sqlite_dead_letters.cc). Not for use outside src/state/.
//
// Created by open_sqlite_store(); owns the one connection. Every method takes
// mutex_ for its whole duration, so the object may be used from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "state/sqlite_db.h"
#include "state/state_store.h"

namespace megasync::state {

class SqliteStore final : public StateStore {
 public:
  SqliteStore(std::unique_ptr<Database> db, std::function<WallTime()> clock)
      : db_(std::move(db)), clock_(std::move(clock)) {}

  Result<std::optional<Checkpoint>> get_checkpoint(const std::string& job,
                                                   const std::string& target) override;
  Status put_checkpoint(const std::string& job, const std::string& target,
                        const std::string& position) override;
  Result<std::vector<Checkpoint>> list_checkpoints(const std::string& job) override;
  Status delete_checkpoints(const std::string& job) override;
  Result<std::vector<ObjectIndexEntry>> load_object_index(const std::string& job,
                                                          const std::string& endpoint) override;
  Status update_object_index(const std::string& job, const std::string& endpoint,
                             const std::vector<ObjectIndexEntry>& put,
                             const std::vector<std::string>& removed) override;

  Result<std::int64_t> add_dead_letter(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> list_dead_letters(const DeadLetterQuery& query) override;
  Result<std::int64_t> count_dead_letters(const std::string& job) override;
  Result<std::optional<DeadLetter>> get_dead_letter(const std::string& job,
                                                    std::int64_t id) override;
  Result<bool> remove_dead_letter(const std::string& job, std::int64_t id) override;
  Result<bool> note_dead_letter_attempt(const std::string& job, std::int64_t id,
                                        const std::string& error) override;

  Result<std::int64_t> begin_run(const RunRecord& run) override;
  Status finish_run(const RunRecord& run) override;
  Result<std::vector<RunRecord>> list_runs(const std::string& job, int limit) override;
  Result<int> close_interrupted_runs(const std::string& reason) override;

  Result<std::int64_t> append_event(const EventRecord& event) override;
  Result<std::vector<EventRecord>> list_events(const EventQuery& query) override;

  Status append_audit(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> list_audit(int limit) override;

  Result<std::int64_t> prune(WallTime events_before, std::int64_t events_max,
                             WallTime runs_before) override;
  Status check_writable() override;
  Result<int> schema_version() override;

 private:
  std::mutex mutex_;
  std::unique_ptr<Database> db_;
  std::function<WallTime()> clock_;
  std::uint64_t heartbeats_ = 0;  // makes every heartbeat value distinct
};

// Query limits are clamped to this range so a client cannot ask for a
// million rows in one response.
inline constexpr int kMinQueryLimit = 1;
inline constexpr int kMaxQueryLimit = 10'000;

}  // namespace megasync::state
