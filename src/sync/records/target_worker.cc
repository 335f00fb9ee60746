#include "sync/records/target_worker.h"

#include <fmt/format.h>

#include "engine/job.h"
#include "state/state_store.h"

namespace megasync::sync::records {

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

void TargetWorker::loop() {
  while (true) {
    std::shared_ptr<const Batch> batch;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return !queue_.empty() || closed_; });
      if (queue_.empty() || abandon_ || error_) {
        queue_.clear();
        changed_.notify_all();
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
  return with_context(settings_.store->put_checkpoint(settings_.job, settings_.target, batch.end),
                      "write checkpoint");
}

}  // namespace megasync::sync::records
