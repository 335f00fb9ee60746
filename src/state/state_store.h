// The state store: everything megasync must remember across restarts —
// checkpoints per (job, target), run history, events, and the audit log.
//
// The embedded default is SQLite (sqlite_store.h); a PostgreSQL implementation
// shares several replicas later. Callers depend only on this interface.
//
// Thread-safety: every method may be called from any thread; implementations
// serialise internally. Every write is durable when the call returns ok.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync::state {

using WallTime = std::chrono::system_clock::time_point;

struct Checkpoint {
  std::string job;
  std::string target;    // target endpoint name (or "" for a job-wide checkpoint)
  std::string position;  // opaque, source-ordered (an LSN, an offset, a log sequence number)
  WallTime updated_at;
};

enum class Outcome { kRunning, kSucceeded, kFailed, kTimedOut, kCancelled };
std::string_view to_string(Outcome outcome);
std::optional<Outcome> outcome_from_string(std::string_view text);

struct RunRecord {
  std::int64_t id = 0;  // assigned by begin_run
  std::string job;
  std::string trigger;  // "schedule", "api", "cli", "reload", "retry"
  WallTime started_at;
  std::optional<WallTime> finished_at;
  Outcome outcome = Outcome::kRunning;
  int attempts = 1;
  std::int64_t records = 0;
  std::int64_t bytes = 0;
  std::string error;  // redacted; empty on success
};

struct EventRecord {
  std::int64_t id = 0;            // assigned by append_event; increasing
  std::string type;               // "sync.completed", "endpoint.down", ...
  std::string severity = "info";  // info | warning | error
  std::string job;                // may be empty
  std::string endpoint;           // may be empty
  WallTime time;
  nlohmann::json data = nlohmann::json::object();
};

struct EventQuery {
  std::int64_t after_id = 0;  // only events with id > after_id
  std::string type;           // exact match or prefix ending in '*' ("sync.*"); empty: all
  std::string job;            // empty: all
  int limit = 100;            // newest first; with after_id, oldest first (paging forward)
};

struct AuditRecord {
  std::int64_t id = 0;
  WallTime time;
  std::string actor;    // token name, "cli", "signal"
  std::string action;   // "job.trigger", "config.reload", ...
  std::string target;   // what it acted on
  std::string outcome;  // "ok", "denied", "error: ..."
  std::string remote;   // client address, when there is one
};

// What the object sync engine knows of one object of a store it lists: the
// metadata a quick listing lacks (S3 lists sizes and ETags; the mtime and
// digest need a request per object), valid while the store's ETag and size
// are unchanged. A cache: losing entries costs requests, never correctness.
struct ObjectIndexEntry {
  std::string path;
  std::string etag;
  std::uint64_t size = 0;
  WallTime mtime;
  std::string sha256;  // empty when unknown
};

// A change a target refused for good, or that failed dead_letter_after times
// while the target otherwise worked (src/sync/records/README.md "Dead
// letters"), kept until `megasync dlq replay` applies it or `dlq drop` drops it.
struct DeadLetter {
  std::int64_t id = 0;  // assigned by add_dead_letter; increasing, never reused
  std::string job;
  std::string target;  // the target endpoint that refused it
  WallTime time;       // when it was dead-lettered (set by the store)
  Change change;       // as that target was given it (after the job's transforms)
  // The collection's schema as the target saw it, so that a replay can prepare
  // the target; nullopt when the engine did not know it.
  std::optional<CollectionSchema> schema;
  std::string error;  // the target's last error (redacted)
  int attempts = 1;   // attempts to apply it, replays included
};

struct DeadLetterQuery {
  std::string job;
  int limit = 100;  // oldest first
  std::int64_t offset = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Checkpoints. get: nullopt when none was ever written (or it was deleted:
  // put with an empty position deletes).
  virtual Result<std::optional<Checkpoint>> get_checkpoint(const std::string& job,
                                                           const std::string& target) = 0;
  virtual Status put_checkpoint(const std::string& job, const std::string& target,
                                const std::string& position) = 0;
  virtual Result<std::vector<Checkpoint>> list_checkpoints(const std::string& job) = 0;
  virtual Status delete_checkpoints(const std::string& job) = 0;

  // The object index of (job, endpoint), in any order; empty when none was kept.
  // delete_checkpoints(job) forgets the job's index too. Stores that keep none
  // answer empty, and every listing then reads each object's metadata.
  virtual Result<std::vector<ObjectIndexEntry>> load_object_index(const std::string& job,
                                                                  const std::string& endpoint) {
    (void)job;
    (void)endpoint;
    return std::vector<ObjectIndexEntry>{};
  }
  // Adds or replaces `put` and removes `removed` (paths), atomically.
  virtual Status update_object_index(const std::string& job, const std::string& endpoint,
                                     const std::vector<ObjectIndexEntry>& put,
                                     const std::vector<std::string>& removed) {
    (void)job;
    (void)endpoint;
    (void)put;
    (void)removed;
    return ok();
  }

  // Dead letters. add_dead_letter stores `letter` (its id and time are
  // ignored) durably and returns its id. get_dead_letter: nullopt when the job
  // has no dead letter `id`. remove_dead_letter: false when there was none.
  // note_dead_letter_attempt: a replay failed again; stores `error` and adds
  // one to attempts; false when there was none. Stores that keep no dead
  // letters fail every call (kPermanent).
  virtual Result<std::int64_t> add_dead_letter(const DeadLetter& letter) {
    (void)letter;
    return make_error(ErrorCode::kPermanent, "this state store keeps no dead letters");
  }
  virtual Result<std::vector<DeadLetter>> list_dead_letters(const DeadLetterQuery& query) {
    (void)query;
    return make_error(ErrorCode::kPermanent, "this state store keeps no dead letters");
  }
  virtual Result<std::int64_t> count_dead_letters(const std::string& job) {
    (void)job;
    return make_error(ErrorCode::kPermanent, "this state store keeps no dead letters");
  }
  virtual Result<std::optional<DeadLetter>> get_dead_letter(const std::string& job,
                                                            std::int64_t id) {
    (void)job;
    (void)id;
    return make_error(ErrorCode::kPermanent, "this state store keeps no dead letters");
  }
  virtual Result<bool> remove_dead_letter(const std::string& job, std::int64_t id) {
    (void)job;
    (void)id;
    return make_error(ErrorCode::kPermanent, "this state store keeps no dead letters");
  }
  virtual Result<bool> note_dead_letter_attempt(const std::string& job, std::int64_t id,
                                                const std::string& error) {
    (void)job;
    (void)id;
    (void)error;
    return make_error(ErrorCode::kPermanent, "this state store keeps no dead letters");
  }

  // Run history. begin_run stores `run` (outcome running) and returns its id.
  virtual Result<std::int64_t> begin_run(const RunRecord& run) = 0;
  // Stores the final figures of run `run.id`.
  virtual Status finish_run(const RunRecord& run) = 0;
  // Newest first. Empty job: all jobs.
  virtual Result<std::vector<RunRecord>> list_runs(const std::string& job, int limit) = 0;
  // Runs left "running" by a process that died are marked failed ("interrupted").
  virtual Result<int> close_interrupted_runs(const std::string& reason) = 0;

  // Events, newest first in queries.
  virtual Result<std::int64_t> append_event(const EventRecord& event) = 0;
  virtual Result<std::vector<EventRecord>> list_events(const EventQuery& query) = 0;

  // Audit log, newest first.
  virtual Status append_audit(const AuditRecord& record) = 0;
  virtual Result<std::vector<AuditRecord>> list_audit(int limit) = 0;

  // Deletes events older than `events_before` and beyond the newest `events_max`,
  // and finished runs older than `runs_before`. Returns rows deleted.
  virtual Result<std::int64_t> prune(WallTime events_before, std::int64_t events_max,
                                     WallTime runs_before) = 0;

  // A cheap write round trip; for /readyz.
  virtual Status check_writable() = 0;
  // The schema version after migrations.
  virtual Result<int> schema_version() = 0;
};

}  // namespace megasync::state
