// One target of a record sync run: a bounded queue of batches and the thread
// that applies them to the target's sink, then checkpoints (job, target) in the
// state store — only after the sink said the batch is durable.
//
// Created by RecordSyncJob::run for the run's duration; push() and close() are
// called from the job's thread, the sink is used by the worker's thread only.
// After a failed apply the worker records the error, applies nothing more and
// drops what is queued: its checkpoint stays at the last durable batch.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
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
class RunProgress;
}

namespace megasync::sync::records {

struct TargetSettings {
  std::string job;
  std::string target;
  std::size_t queue_batches = 4;
  state::StateStore* store = nullptr;       // may be null in tests: no checkpoints
  engine::RunProgress* progress = nullptr;  // may be null
  std::optional<Position> durable;          // the checkpoint the run started from
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
  Status apply(const Batch& batch);
  // Writes the checkpoint apply() left unsaved (worker thread).
  void save_checkpoint();

  TargetSettings settings_;
  std::unique_ptr<RecordSink> sink_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<const Batch>> queue_;
  bool closed_ = false;
  bool abandon_ = false;
  std::optional<Error> error_;
  std::optional<Position> durable_;
  // A sink that keeps its own checkpoints: the state store's copy, written at
  // most every second. Worker thread only.
  std::optional<Position> unsaved_checkpoint_;
  std::optional<SteadyTime> last_saved_;
  std::thread thread_;
};

}  // namespace megasync::sync::records
