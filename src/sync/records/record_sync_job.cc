#include "sync/records/record_sync_job.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "events/bus.h"
#include "monitor/metrics.h"
#include "state/state_store.h"
#include "sync/records/target_worker.h"

namespace megasync::sync::records {
namespace {

// Where the run starts: the earliest checkpoint over targets, or a snapshot when
// any target has none. Re-sending a target what it already has is harmless
// because apply is idempotent; a target that never had a snapshot has no
// other way to get the rows that will never appear in the log again.
struct StartPoint {
  std::optional<Position> resume;                   // nullopt: snapshot
  std::vector<std::optional<Position>> per_target;  // each target's own checkpoint
};

// `sinks` (when given, one per target) are asked first: a sink that keeps its
// checkpoint in the target's own transactions knows exactly what it applied.
Result<StartPoint> find_start(const RecordSyncOptions& options, state::StateStore* store,
                              const RecordSource& source,
                              const std::vector<RecordSink*>* sinks = nullptr) {
  StartPoint start;
  bool all = true;
  for (std::size_t i = 0; i < options.targets.size(); ++i) {
    const std::string& name = options.targets[i].first;
    std::optional<Position> position;
    if (sinks != nullptr && (*sinks)[i]->keeps_checkpoints()) {
      Result<std::optional<Position>> kept = (*sinks)[i]->load_checkpoint();
      if (!kept) {
        return fail(kept.error().with_context(fmt::format("checkpoint of {}", name)));
      }
      position = std::move(*kept);
    } else if (store != nullptr) {
      Result<std::optional<state::Checkpoint>> checkpoint =
          store->get_checkpoint(options.job, name);
      if (!checkpoint) {
        return fail(checkpoint.error().with_context(fmt::format("checkpoint of {}", name)));
      }
      if (*checkpoint) {
        position = (*checkpoint)->position;
      }
    }
    all = all && position.has_value();
    if (position && (!start.resume || source.compare(*position, *start.resume) < 0)) {
      start.resume = position;
    }
    start.per_target.push_back(std::move(position));
  }
  if (!all) {
    start.resume.reset();
    for (auto& position : start.per_target) {
      position.reset();
    }
  }
  return start;
}

// The job-wide checkpoint (target "") holds where the first unfinished
// snapshot was consistent. A snapshot only upserts: a row deleted at the source
// after an interrupted snapshot copied it would stay at the targets if a later
// snapshot simply continued from its own, later position. So a snapshot that
// finds this marker checkpoints its targets at the marker instead, and the next
// pass replays the log from there (idempotently), deletes included.
constexpr const char* kSnapshotMarker = "";

Result<std::optional<Position>> read_marker(state::StateStore* store, const std::string& job) {
  if (store == nullptr) {
    return std::optional<Position>();
  }
  Result<std::optional<state::Checkpoint>> marker = store->get_checkpoint(job, kSnapshotMarker);
  if (!marker) {
    return fail(marker.error().with_context("snapshot marker"));
  }
  if (!*marker || (*marker)->position.empty()) {
    return std::optional<Position>();
  }
  return std::optional<Position>((*marker)->position);
}

Status write_marker(state::StateStore* store, const std::string& job, const Position& position) {
  if (store == nullptr) {
    return ok();
  }
  return with_context(store->put_checkpoint(job, kSnapshotMarker, position), "snapshot marker");
}

constexpr auto kLagEvery = std::chrono::seconds(10);

}  // namespace

void RecordSyncJob::watch_lag(engine::RunContext& ctx, RecordSource& source, bool force) {
  const SteadyTime now = SteadyClock::now();
  if (!force && last_lag_check_ && now - *last_lag_check_ < kLagEvery) {
    return;
  }
  last_lag_check_ = now;
  Result<std::optional<SourceLag>> lag = source.lag();
  if (!lag || !*lag) {
    return;  // a source without a retained log, or one that could not tell now
  }
  const SourceLag& figures = **lag;
  if (ctx.metrics != nullptr) {
    ctx.metrics
        ->gauge("megasync_replication_slot_lag_bytes",
                "Log the source retains for the job that not every target made durable yet "
                "(PostgreSQL: WAL between the slot's confirmed flush and the current end).",
                {"job"})
        .with({options_.job})
        .set(static_cast<double>(figures.bytes));
  }
  const bool high = figures.alert_bytes > 0 && figures.bytes > figures.alert_bytes;
  if (high == lag_alerted_) {
    return;
  }
  lag_alerted_ = high;
  if (high) {
    spdlog::warn("job {}: the source retains {} bytes of log for it, above the bound of {}",
                 options_.job, figures.bytes, figures.alert_bytes);
  }
  if (ctx.events != nullptr) {
    ctx.events->publish(high ? "source.lag_high" : "source.lag_ok", high ? "warning" : "info",
                        options_.job, options_.source_name,
                        {{"lag_bytes", figures.bytes}, {"alert_bytes", figures.alert_bytes}});
  }
}

Status RecordSyncJob::adopt_schema_changes(engine::RunContext& ctx, transforms::Chain& chain,
                                           Batch& batch) {
  std::vector<SchemaChange> adopted;
  for (SchemaChange& change : batch.schema_changes) {
    const std::string collection = change.schema.name;
    const bool risky = !change.dropped.empty() || !change.retyped.empty();
    spdlog::log(risky ? spdlog::level::warn : spdlog::level::info,
                "job {}: {} changed at the source: added [{}], dropped [{}], retyped [{}]",
                options_.job, collection, fmt::join(change.added, ", "),
                fmt::join(change.dropped, ", "), fmt::join(change.retyped, ", "));
    if (ctx.events != nullptr) {
      ctx.events->publish(
          "schema.changed", risky ? "warning" : "info", options_.job, collection,
          {{"added", change.added}, {"dropped", change.dropped}, {"retyped", change.retyped}});
    }
    // As the targets name it: a collection the transforms filter out is not prepared.
    Result<std::vector<CollectionSchema>> shaped = chain.update_schemas({change.schema});
    if (!shaped) {
      return fail(shaped.error());
    }
    for (CollectionSchema& schema : *shaped) {
      adopted.push_back(SchemaChange{.schema = std::move(schema),
                                     .added = change.added,
                                     .dropped = change.dropped,
                                     .retyped = change.retyped});
    }
  }
  batch.schema_changes = std::move(adopted);
  return ok();
}

Status RecordSyncJob::sync_pass(engine::RunContext& ctx) {
  const std::string source_context = fmt::format("source {}", options_.source_name);
  Result<std::unique_ptr<RecordSource>> opened =
      options_.source->open_record_source({.job = options_.job, .collections = options_.tables});
  if (!opened) {
    return fail(opened.error().with_context(source_context));
  }
  RecordSource& source = **opened;
  if (!source.sees_deletes() && options_.verify_interval.count() == 0 && !warned_blind_) {
    spdlog::warn(
        "job {}: source {} cannot see deletes and verify_interval is 0: rows deleted at "
        "the source stay at the targets; set verify_interval (deletes are applied by "
        "the comparison after runs)",
        options_.job, options_.source_name);
    warned_blind_ = true;
  }
  Result<std::vector<CollectionSchema>> described = source.describe();
  if (!described) {
    return fail(described.error().with_context(source_context));
  }
  transforms::Chain chain = make_transforms_();
  Result<std::vector<CollectionSchema>> schemas = chain.apply_schemas(std::move(*described));
  if (!schemas) {
    return fail(schemas.error());
  }
  Result<std::optional<Position>> marker = read_marker(ctx.store, options_.job);
  if (!marker) {
    return fail(marker.error());
  }
  replay_pending_ = false;
  if (ctx.dry_run) {
    Result<StartPoint> start = find_start(options_, ctx.store, source);
    if (!start) {
      return fail(start.error());
    }
    if (ctx.progress != nullptr) {
      ctx.progress->set_phase(fmt::format("dry run: {} tables, {}", schemas->size(),
                                          start->resume ? "resume" : "snapshot"));
    }
    return ok();
  }

  // Sinks are opened and prepared before anything is read, so a target that
  // cannot take the schema fails the run before the source moves.
  std::vector<std::unique_ptr<RecordSink>> sinks;
  std::vector<RecordSink*> sink_list;
  for (const auto& [name, endpoint] : options_.targets) {
    Result<std::unique_ptr<RecordSink>> sink =
        endpoint->open_record_sink({.job = options_.job, .target = name});
    if (!sink) {
      return fail(sink.error().with_context(fmt::format("target {}", name)));
    }
    if (Status s = (*sink)->prepare(*schemas); !s) {
      return fail(s.error().with_context(fmt::format("target {}: prepare", name)));
    }
    sink_list.push_back(sink->get());
    sinks.push_back(std::move(*sink));
  }
  Result<StartPoint> start = find_start(options_, ctx.store, source, &sink_list);
  if (!start) {
    return fail(start.error());
  }
  if (Status s = source.open(start->resume); !s) {
    if (s.error().code() != ErrorCode::kNotFound || !start->resume) {
      return fail(s.error().with_context(source_context));
    }
    // The source lost the position (a replication slot dropped, or lost in a
    // failover) and allows a fresh snapshot. Every checkpoint goes first, so
    // that a crash during the snapshot starts it again rather than resuming
    // past rows it never copied.
    spdlog::warn("job {}: {}; starting again from a snapshot", options_.job, s.error().message());
    if (ctx.events != nullptr) {
      ctx.events->publish("source.position_lost", "warning", options_.job, options_.source_name,
                          {{"error", s.error().message()}, {"action", "resnapshot"}});
    }
    for (std::size_t i = 0; i < options_.targets.size(); ++i) {
      const std::string& name = options_.targets[i].first;
      Status reset = sink_list[i]->reset_checkpoint();
      if (reset && ctx.store != nullptr) {
        reset = ctx.store->put_checkpoint(options_.job, name, Position());
      }
      if (!reset) {
        return fail(reset.error().with_context(fmt::format("target {}: reset checkpoint", name)));
      }
      start->per_target[i].reset();
    }
    start->resume.reset();
    if (Status again = source.open(std::nullopt); !again) {
      return fail(again.error().with_context(source_context));
    }
  }
  watch_lag(ctx, source, /*force=*/true);
  std::vector<std::unique_ptr<TargetWorker>> workers;
  for (std::size_t i = 0; i < options_.targets.size(); ++i) {
    const std::string& name = options_.targets[i].first;
    workers.push_back(std::make_unique<TargetWorker>(
        TargetSettings{.job = options_.job,
                       .target = name,
                       .queue_batches = std::max<std::size_t>(options_.queue_batches, 1),
                       .store = ctx.store,
                       .progress = ctx.progress,
                       .durable = start->per_target[i]},
        std::move(sinks[i])));
  }
  if (start->resume && *marker) {
    // Every target checkpointed at or before the marker: the replay it asked
    // for is this pass.
    if (Status s = write_marker(ctx.store, options_.job, Position()); !s) {
      return s;
    }
    marker->reset();
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase(start->resume ? "streaming" : "snapshot");
    if (!start->resume) {
      // Every target receives every row: the total counts each row once per target.
      Result<std::optional<std::int64_t>> rows = source.backlog(std::nullopt);
      if (rows && *rows) {
        ctx.progress->set_total(**rows * static_cast<std::int64_t>(workers.size()), -1);
      }
    }
  }

  std::optional<Position> released;
  auto release = [&]() -> Status {
    std::optional<Position> lowest;
    for (const auto& worker : workers) {
      std::optional<Position> durable = worker->durable();
      if (!durable) {
        return ok();  // a target with nothing durable yet holds everything back
      }
      if (!lowest || source.compare(*durable, *lowest) < 0) {
        lowest = durable;
      }
    }
    if (!lowest || (released && source.compare(*lowest, *released) <= 0)) {
      return ok();
    }
    released = lowest;
    return with_context(source.release(*lowest), source_context + ": release");
  };

  std::optional<Error> source_error;
  bool cancelled = false;
  while (true) {
    if (ctx.cancel.cancelled()) {
      cancelled = true;
      break;
    }
    bool any_failed = false;
    for (const auto& worker : workers) {
      any_failed = any_failed || worker->error().has_value();
    }
    // A failed target stops reading: the others finish what is queued for them.
    if (any_failed || ctx.deadline.expired()) {
      break;
    }
    const Deadline until = options_.stop_when_caught_up
                               ? Deadline::after(std::chrono::milliseconds(0))
                               : Deadline::after(std::chrono::seconds(1)).min(ctx.deadline);
    Result<std::optional<Batch>> next =
        source.next(until, std::max<std::size_t>(options_.batch_size, 1));
    if (!next) {
      source_error = next.error().with_context(source_context);
      break;
    }
    if (!*next) {
      if (ctx.progress != nullptr) {
        ctx.progress->set_phase("streaming");
      }
      if (options_.stop_when_caught_up) {
        break;
      }
      (void)release();
      continue;
    }
    Batch& batch = **next;
    bool replay_after = false;
    if (batch.snapshot && !start->resume) {
      if (!*marker && !batch.changes.empty() && !batch.changes.front().position.empty()) {
        // Before any target applies a row of this snapshot.
        if (Status s = write_marker(ctx.store, options_.job, batch.changes.front().position); !s) {
          source_error = s.error();
          break;
        }
        *marker = batch.changes.front().position;
      }
      if (!batch.end.empty() && *marker && source.compare(**marker, batch.end) < 0) {
        batch.end = **marker;
        replay_after = true;
      }
    }
    if (Status s = adopt_schema_changes(ctx, chain, batch); !s) {
      source_error = s.error();
      break;
    }
    if (Status s = chain.apply(batch); !s) {
      source_error = s.error();
      break;
    }
    auto shared = std::make_shared<const Batch>(std::move(batch));
    for (std::size_t i = 0; i < workers.size(); ++i) {
      // A target already past this batch (it ran ahead of another) skips it.
      const std::optional<Position>& own = start->per_target[i];
      if (!shared->end.empty() && own && source.compare(shared->end, *own) <= 0) {
        continue;
      }
      if (!workers[i]->push(shared, ctx.cancel) && ctx.cancel.cancelled()) {
        cancelled = true;
      }
    }
    if (cancelled) {
      break;
    }
    if (Status s = release(); !s) {
      source_error = s.error();
      break;
    }
    watch_lag(ctx, source, /*force=*/false);
    if (replay_after) {
      replay_pending_ = true;  // run() starts the replay pass
      break;
    }
  }

  for (const auto& worker : workers) {
    worker->close(/*abandon=*/cancelled);
  }
  if (!source_error && !cancelled) {
    if (Status s = release(); !s) {
      source_error = s.error();
    }
  }
  if (!cancelled) {
    std::vector<std::optional<Position>> durable;
    for (const auto& worker : workers) {
      durable.push_back(worker->durable());
    }
    export_lag(ctx, source, durable);
    watch_lag(ctx, source, /*force=*/true);
  }
  std::string failures;
  for (const auto& worker : workers) {
    if (std::optional<Error> error = worker->error()) {
      failures += fmt::format("{}target {}: {}", failures.empty() ? "" : "; ", worker->target(),
                              error->message());
    }
  }
  if (!failures.empty()) {
    // Retryable: the next run resumes each target from its own checkpoint.
    return make_error(ErrorCode::kRetryable, "{}", failures);
  }
  if (source_error) {
    return fail(*source_error);
  }
  if (cancelled) {
    return make_error(ErrorCode::kCancelled, "job {}: cancelled", options_.job);
  }
  return ok();
}

}  // namespace megasync::sync::records
