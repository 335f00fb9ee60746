#include "sync/records/target_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/job.h"
#include "state/state_store.h"

namespace megasync::sync::records {
namespace {

constexpr std::chrono::seconds kSaveCheckpointEvery{1};

}  // namespace

TargetWorker::TargetWorker(TargetSettings settings, std::unique_ptr<RecordSink> sink)
    : settings_(std::move(settings)), sink_(std::move(sink)), durable_(settings_.durable) {
  thread_ = std::thread([this] { loop(); });
}

TargetWorker::~TargetWorker() {
  close(/*abandon=*/true);
}

bool TargetWorker::push(std::shared_ptr<const Batch> batch, const CancelToken& cancel) {
  std::unique_lock lock(mutex_);
  while (queue_.size() >= settings_.queue_batches && !error_ && !closed_) {
    // Woken by the worker taking a batch; the timeout lets a cancel through.
    changed_.wait_for(lock, std::chrono::milliseconds(50));
    if (cancel.cancelled()) {
      return false;
    }
  }
  if (error_ || closed_ || cancel.cancelled()) {
    return false;
  }
  queue_.push_back(std::move(batch));
  changed_.notify_all();
  return true;
}

void TargetWorker::close(bool abandon) {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    abandon_ = abandon_ || abandon;
    changed_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::optional<Error> TargetWorker::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::optional<Position> TargetWorker::durable() const {
  std::lock_guard lock(mutex_);
  return durable_;
}

std::size_t TargetWorker::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void TargetWorker::loop() {
  while (true) {
    std::shared_ptr<const Batch> batch;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return !queue_.empty() || closed_; });
      if (queue_.empty() || abandon_ || error_) {
        queue_.clear();
        changed_.notify_all();
        lock.unlock();
        save_checkpoint();
        return;
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
      changed_.notify_all();
    }
    Status applied = apply(*batch);
    std::lock_guard lock(mutex_);
    if (!applied) {
      error_ = applied.error();
    } else if (!batch->end.empty()) {
      durable_ = batch->end;
    }
    changed_.notify_all();
  }
}

Status TargetWorker::apply(const Batch& batch) {
  if (!batch.schema_changes.empty()) {
    std::vector<CollectionSchema> schemas;
    for (const SchemaChange& change : batch.schema_changes) {
      schemas.push_back(change.schema);
    }
    if (Status s = sink_->prepare(schemas); !s) {
      return fail(s.error().with_context("prepare a changed schema"));
    }
  }
  if (Status s = sink_->apply(batch); !s) {
    return fail(s.error().with_context("apply batch"));
  }
  if (settings_.progress != nullptr) {
    settings_.progress->add_records(settings_.target,
                                    static_cast<std::int64_t>(batch.changes.size()));
    settings_.progress->add_bytes(settings_.target, static_cast<std::int64_t>(batch.bytes));
  }
  // Snapshot batches before the last carry no end: there is no position to
  // resume from until the whole snapshot is applied.
  if (batch.end.empty() || settings_.store == nullptr) {
    return ok();
  }
  if (sink_->keeps_checkpoints()) {
    // The sink committed this checkpoint with the batch and reads it back at
    // the next start; the state store's copy (status, events) is written at
    // most every second and when the worker ends, rather than once per batch,
    // each a sync of the state file.
    unsaved_checkpoint_ = batch.end;
    const SteadyTime now = SteadyClock::now();
    if (last_saved_ && now - *last_saved_ < kSaveCheckpointEvery) {
      return ok();
    }
    last_saved_ = now;
    unsaved_checkpoint_.reset();
  }
  return with_context(settings_.store->put_checkpoint(settings_.job, settings_.target, batch.end),
                      "write checkpoint");
}

void TargetWorker::save_checkpoint() {
  if (!unsaved_checkpoint_ || settings_.store == nullptr) {
    return;
  }
  if (Status s =
          settings_.store->put_checkpoint(settings_.job, settings_.target, *unsaved_checkpoint_);
      !s) {
    // Not lost: the sink holds the checkpoint itself.
    spdlog::warn("job {}: target {}: state store copy of the checkpoint: {}", settings_.job,
                 settings_.target, s.error().message());
  }
  unsaved_checkpoint_.reset();
}

}  // namespace megasync::sync::records
