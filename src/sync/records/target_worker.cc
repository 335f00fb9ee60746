#include "sync/records/target_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/message.h"
#include "engine/endpoint.h"
#include "engine/job.h"
#include "events/bus.h"
#include "monitor/metrics.h"
#include "state/state_store.h"

namespace megasync::sync::records {
namespace {

constexpr std::chrono::seconds kSaveCheckpointEvery{1};
// Batches the queue takes at most, however small (TargetSettings::merge_changes).
constexpr std::size_t kMaxQueued = 256;
constexpr std::chrono::milliseconds kMaxBackoff{5000};
// Changes that fail alone, with none of the batch applied, before the batch
// is taken to fail as a whole (the target refuses everything, not a change).
constexpr int kMaxSuspects = 2;

std::string key_text(const std::vector<Value>& key) {
  std::string text;
  for (const Value& value : key) {
    text += (text.empty() ? "" : ",") + to_text(value);
  }
  return text;
}

}  // namespace

TargetWorker::TargetWorker(TargetSettings settings, std::unique_ptr<RecordSink> sink)
    : settings_(std::move(settings)), sink_(std::move(sink)), durable_(settings_.durable) {
  for (const CollectionSchema& schema : settings_.dead_letters.schemas) {
    schemas_[schema.name] = schema;
  }
  thread_ = std::thread([this] { loop(); });
}

TargetWorker::~TargetWorker() {
  close(/*abandon=*/true);
}

bool TargetWorker::push(std::shared_ptr<const Batch> batch, const CancelToken& cancel) {
  std::unique_lock lock(mutex_);
  auto full = [&] {
    if (queue_.size() < settings_.queue_batches) {
      return false;
    }
    // Small batches to merge: more of them, as long as they hold fewer changes
    // than one merged batch.
    return settings_.merge_changes == 0 || queue_.size() >= kMaxQueued ||
           queued_changes_ >= settings_.merge_changes;
  };
  while (full() && !error_ && !closed_) {
    // Woken by the worker taking a batch; the timeout lets a cancel through.
    changed_.wait_for(lock, std::chrono::milliseconds(50));
    if (cancel.cancelled()) {
      return false;
    }
  }
  if (error_ || closed_ || cancel.cancelled()) {
    return false;
  }
  queued_changes_ += batch->changes.size();
  queue_.push_back(std::move(batch));
  changed_.notify_all();
  return true;
}

std::shared_ptr<const Batch> TargetWorker::take() {
  std::shared_ptr<const Batch> first = std::move(queue_.front());
  queue_.pop_front();
  queued_changes_ -= first->changes.size();
  // Merged: stream batches only (a snapshot's have their own commit rules),
  // none after the first with schema changes (those apply before all of the
  // merged batch's changes: they must not come before earlier changes).
  auto mergeable = [&](const Batch& next, std::size_t total) {
    return !next.snapshot && next.schema_changes.empty() && !next.end.empty() &&
           total + next.changes.size() <= settings_.merge_changes;
  };
  if (settings_.merge_changes == 0 || first->snapshot || first->end.empty() || queue_.empty() ||
      !mergeable(*queue_.front(), first->changes.size())) {
    return first;
  }
  auto merged = std::make_shared<Batch>(*first);
  while (!queue_.empty() && mergeable(*queue_.front(), merged->changes.size())) {
    const Batch& next = *queue_.front();
    merged->changes.insert(merged->changes.end(), next.changes.begin(), next.changes.end());
    merged->end = next.end;
    merged->bytes += next.bytes;
    queued_changes_ -= next.changes.size();
    queue_.pop_front();
  }
  return merged;
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
        queued_changes_ = 0;
        changed_.notify_all();
        lock.unlock();
        save_checkpoint();
        return;
      }
      batch = take();
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
    for (CollectionSchema& schema : schemas) {
      dead_prepared_.erase(schema.name);
      const std::string name = schema.name;
      schemas_[name] = std::move(schema);
    }
  }
  std::vector<RecordSink::Rejected> rejected;
  std::vector<Dead> dead;
  bool isolated = false;
  // Rows of earlier snapshot batches the sink has not committed fail with
  // this one: isolating its changes would not bring them back.
  // A resync's batches likewise: its rows replace the target's only whole.
  const bool held = sink_->holds_uncommitted() || batch.replace;
  if (Status s = sink_->apply_or_reject(batch, rejected); !s) {
    if (held) {
      return fail(s.error().with_context(
          "apply a snapshot batch (with the uncommitted ones before it; the snapshot starts "
          "again)"));
    }
    if (settings_.dead_letters.after <= 0 || s.error().code() == ErrorCode::kCancelled) {
      return fail(s.error().with_context("apply batch"));
    }
    Result<std::vector<Dead>> found = isolate(batch, s.error());
    if (!found) {
      return fail(found.error().with_context("apply batch"));
    }
    dead = std::move(*found);
    isolated = true;
  } else {
    for (const RecordSink::Rejected& refused : rejected) {
      if (refused.index < batch.changes.size()) {
        dead.push_back(Dead{refused.index, refused.error.message(), 1});
      }
    }
  }
  // Durable before the checkpoint moves past them.
  for (const Dead& letter : dead) {
    if (Status s = dead_letter(batch.changes[letter.index], letter); !s) {
      return fail(s.error().with_context("dead letter"));
    }
  }
  if (isolated && sink_->keeps_checkpoints() && !batch.end.empty()) {
    // The changes went one by one without the batch's end: the sink's own
    // checkpoint moves with an empty batch.
    Batch end;
    end.end = batch.end;
    end.snapshot = batch.snapshot;
    if (Status s = sink_->apply(end); !s) {
      return fail(s.error().with_context("apply batch"));
    }
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

bool TargetWorker::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  if (delay.count() > 0) {
    changed_.wait_for(lock, delay, [&] { return abandon_; });
  }
  return !abandon_;
}

// The rule (README.md "Dead letters"): each change of the failed batch is
// applied alone, in order, up to `after` attempts (a batch of that one change
// was its first), with a doubling pause between attempts of one change. One that applies, or that
// the sink rejects, shows the target works. One that fails every attempt is a
// suspect, and the target's probe must pass right after; a failing probe
// fails the batch (the target is down: it keeps its messages and the run is
// retried with backoff). Suspects are dead-lettered only when another change
// of the batch applied, or when the batch was that one change; kMaxSuspects
// suspects with nothing applied fail the batch as a whole.
Result<std::vector<TargetWorker::Dead>> TargetWorker::isolate(const Batch& batch,
                                                              const Error& failed) {
  const DeadLetterSettings& config = settings_.dead_letters;
  auto probe = [&]() -> Status {
    if (!config.probe) {
      return make_error(ErrorCode::kRetryable, "cannot tell whether the target works");
    }
    return config.probe();
  };
  if (Status up = probe(); !up) {
    return fail(failed);  // the target is down, not one change bad
  }
  std::vector<Dead> dead;
  std::vector<Dead> suspects;
  bool applied_any = false;
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    Batch single;
    single.changes.push_back(batch.changes[i]);
    // Applied alone as a stream change is: committed when it returns ok (a
    // sink may hold snapshot batches uncommitted, RecordSink::holds_uncommitted).
    single.snapshot = false;
    single.bytes = batch.bytes / batch.changes.size();
    // A batch of this one change was its first attempt alone.
    int attempts = batch.changes.size() == 1 ? 1 : 0;
    std::string last = failed.message();
    bool settled = false;
    std::chrono::milliseconds backoff = config.backoff;
    while (attempts < config.after) {
      if (attempts > 0) {
        if (!pause(backoff)) {
          return make_error(ErrorCode::kCancelled, "cancelled");
        }
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
      std::vector<RecordSink::Rejected> rejected;
      Status s = sink_->apply_or_reject(single, rejected);
      ++attempts;
      if (s) {
        applied_any = true;
        if (!rejected.empty()) {
          dead.push_back(Dead{i, rejected.front().error.message(), attempts});
        }
        settled = true;
        break;
      }
      if (s.error().code() == ErrorCode::kCancelled) {
        return fail(s.error());
      }
      last = s.error().message();
    }
    if (settled) {
      continue;
    }
    // Failed every attempt alone.
    if (Status up = probe(); !up) {
      return make_error(ErrorCode::kRetryable, "{} (and the target's probe failed: {})", last,
                        up.error().message());
    }
    suspects.push_back(Dead{i, last, attempts});
    if (!applied_any && static_cast<int>(suspects.size()) >= kMaxSuspects) {
      return make_error(ErrorCode::kRetryable,
                        "{}: {} changes of the batch failed alone and none applied: the target "
                        "refuses them all, so none is dead-lettered",
                        last, suspects.size());
    }
  }
  if (!applied_any && batch.changes.size() > 1) {
    return fail(failed);
  }
  dead.insert(dead.end(), suspects.begin(), suspects.end());
  std::sort(dead.begin(), dead.end(),
            [](const Dead& a, const Dead& b) { return a.index < b.index; });
  return dead;
}

Status TargetWorker::dead_letter(const Change& change, const Dead& dead) {
  const DeadLetterSettings& config = settings_.dead_letters;
  std::optional<CollectionSchema> schema;
  if (auto found = schemas_.find(change.collection); found != schemas_.end()) {
    schema = found->second;
  }
  const std::string destination =
      config.endpoint_name.empty() ? std::string("state store") : config.endpoint_name;
  if (config.endpoint != nullptr) {
    const std::string context = fmt::format("dead-letter target {}", config.endpoint_name);
    if (dead_sink_ == nullptr) {
      Result<std::unique_ptr<RecordSink>> opened = config.endpoint->open_record_sink(
          engine::SinkRequest{.job = settings_.job, .target = config.endpoint_name});
      if (!opened) {
        return fail(opened.error().with_context(context));
      }
      dead_sink_ = std::move(*opened);
    }
    if (schema && !dead_prepared_[change.collection]) {
      if (Status s = dead_sink_->prepare({*schema}); !s) {
        return fail(s.error().with_context(context));
      }
      dead_prepared_[change.collection] = true;
    }
    Batch batch;
    Change& copy = batch.changes.emplace_back(change);
    const std::string prefix(kHeaderMetaPrefix);
    copy.meta[prefix + "x-megasync-error"] = dead.error;
    copy.meta[prefix + "x-megasync-attempts"] = std::to_string(dead.attempts);
    copy.meta[prefix + "x-megasync-target"] = settings_.target;
    copy.meta[prefix + "x-megasync-job"] = settings_.job;
    if (Status s = dead_sink_->apply(batch); !s) {
      return fail(s.error().with_context(context));
    }
  } else if (settings_.store != nullptr) {
    state::DeadLetter letter;
    letter.job = settings_.job;
    letter.target = settings_.target;
    letter.change = change;
    letter.schema = std::move(schema);
    letter.error = dead.error;
    letter.attempts = dead.attempts;
    Result<std::int64_t> id = settings_.store->add_dead_letter(letter);
    if (!id) {
      return fail(id.error().with_context("state store"));
    }
  }
  const std::string key = key_text(change.key);
  spdlog::warn("job {}: target {}: {} {} dead-lettered to {} after {} attempt(s): {}",
               settings_.job, settings_.target, change.collection, key, destination, dead.attempts,
               dead.error);
  if (config.metrics != nullptr) {
    config.metrics
        ->counter("megasync_dead_letters_total",
                  "Changes a target refused for good or that kept failing alone, sent to the "
                  "job's dead-letter destination.",
                  {"job", "target"})
        .with({settings_.job, settings_.target})
        .inc(1);
  }
  if (config.events != nullptr) {
    config.events->publish("sync.dead_letter", "warning", settings_.job, settings_.target,
                           {{"collection", change.collection},
                            {"key", key},
                            {"attempts", dead.attempts},
                            {"error", dead.error},
                            {"destination", destination}});
  }
  return ok();
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
