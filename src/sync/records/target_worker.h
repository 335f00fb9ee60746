// One target of a record sync run: a bounded queue of batches and the thread
// that applies them to the target's sink, then checkpoints (job, target) in the
// state store — only after the sink said the batch is durable.
//
// Created by RecordSyncJob::run for the run's duration; push() and close() are
// called from the job's thread, the sink is used by the worker's thread only.
// After a failed apply the worker records the error, applies nothing more and
// drops what is queued: its checkpoint stays at the last durable batch.
//
// Dead letters (README.md "Dead letters"): a change the sink rejects for good,
// or one that keeps failing alone while the target otherwise works, goes to
// the job's dead-letter destination (an endpoint's record sink, or the state
// store), durably, before the batch is checkpointed; the batch then counts as
// applied. The dead-letter sink is opened on the worker's thread when first
// needed and used by it only.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/cancel.h"
#include "core/record_source.h"

namespace megasync::state {
class StateStore;
}
namespace megasync::engine {
class Endpoint;
class RunProgress;
}  // namespace megasync::engine
namespace megasync::events {
class Bus;
}
namespace megasync::monitor {
class MetricsRegistry;
}

namespace megasync::sync::records {

struct DeadLetterSettings {
  // Attempts of one change, applied alone, before it is dead-lettered (the
  // failed batch counts as the first); 0: a failing batch fails the run as
  // always, only changes the sink rejects are dead-lettered.
  int after = 0;
  std::string endpoint_name;                   // empty: the state store
  std::shared_ptr<engine::Endpoint> endpoint;  // set with endpoint_name
  // The collections as the target sees them (after the transforms); a dead
  // letter keeps its collection's schema so that a replay can prepare.
  std::vector<CollectionSchema> schemas;
  // Whether the target works (its endpoint's probe); null: it cannot tell,
  // and a batch that fails alone is never taken for a bad change.
  std::function<Status()> probe;
  // The wait before the second attempt of a change alone; doubles, at most 5 s.
  std::chrono::milliseconds backoff{200};
  events::Bus* events = nullptr;                // may be null
  monitor::MetricsRegistry* metrics = nullptr;  // may be null
};

struct TargetSettings {
  std::string job;
  std::string target;
  std::size_t queue_batches = 4;
  // Stream batches waiting in the queue are applied together, as one batch of
  // up to this many changes (0: one by one). Small batches (a backlog of
  // small transactions) then cost the target one transaction and one set of
  // statements for many, and the queue takes more of them while they hold
  // fewer changes than this (at most 256 batches).
  std::size_t merge_changes = 0;
  state::StateStore* store = nullptr;       // may be null in tests: no checkpoints
  engine::RunProgress* progress = nullptr;  // may be null
  std::optional<Position> durable;          // the checkpoint the run started from
  DeadLetterSettings dead_letters;
};

class TargetWorker {
 public:
  TargetWorker(TargetSettings settings, std::unique_ptr<RecordSink> sink);
  ~TargetWorker();  // close(true) and join
  TargetWorker(const TargetWorker&) = delete;
  TargetWorker& operator=(const TargetWorker&) = delete;

  // Queues `batch`, waiting while the queue is full. Returns false without
  // queuing when the worker has failed or `cancel` is set.
  bool push(std::shared_ptr<const Batch> batch, const CancelToken& cancel);
  // No more batches: the worker applies what is queued (or drops it when
  // `abandon`) and its thread is joined.
  void close(bool abandon);

  const std::string& target() const { return settings_.target; }
  std::optional<Error> error() const;
  // The last position checkpointed for this target (or the one it started from).
  std::optional<Position> durable() const;
  // Batches waiting to be applied (not counting the one being applied).
  std::size_t queued() const;

 private:
  void loop();
  // The front batch, with the stream batches queued behind it merged in (up
  // to merge_changes). Called with mutex_ held and the queue not empty.
  std::shared_ptr<const Batch> take();
  Status apply(const Batch& batch);
  // A change to dead-letter: its index in the batch, the error, the attempts.
  struct Dead {
    std::size_t index = 0;
    std::string error;
    int attempts = 1;
  };
  // After `failed` failed the batch: applies its changes one by one to find
  // those that fail alone (README.md "Dead letters" has the rule). Returns
  // the ones to dead-letter, or an error when the batch fails as a whole.
  Result<std::vector<Dead>> isolate(const Batch& batch, const Error& failed);
  // Stores `change` at the dead-letter destination, durably (worker thread).
  Status dead_letter(const Change& change, const Dead& dead);
  // Waits `delay` unless the worker is abandoned first (then false).
  bool pause(std::chrono::milliseconds delay);
  // Writes the checkpoint apply() left unsaved (worker thread).
  void save_checkpoint();

  TargetSettings settings_;
  std::unique_ptr<RecordSink> sink_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<const Batch>> queue_;
  std::size_t queued_changes_ = 0;  // in queue_
  bool closed_ = false;
  bool abandon_ = false;
  std::optional<Error> error_;
  std::optional<Position> durable_;
  // A sink that keeps its own checkpoints: the state store's copy, written at
  // most every second. Worker thread only.
  std::optional<Position> unsaved_checkpoint_;
  std::optional<SteadyTime> last_saved_;
  // Worker thread only: the collections as the target sees them (updated by
  // schema changes), and the dead-letter sink with the collections it prepared.
  std::map<std::string, CollectionSchema> schemas_;
  std::unique_ptr<RecordSink> dead_sink_;
  std::map<std::string, bool> dead_prepared_;
  std::thread thread_;
};

}  // namespace megasync::sync::records
