#include "sync/records/record_sync_job.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <optional>
#include <thread>

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
Result<StartPoint> find_start(const std::string& job, const Flow& flow, state::StateStore* store,
                              const RecordSource& source,
                              const std::vector<RecordSink*>* sinks = nullptr) {
  StartPoint start;
  bool all = true;
  for (std::size_t i = 0; i < flow.targets.size(); ++i) {
    const std::string& name = flow.targets[i].first;
    std::optional<Position> position;
    if (sinks != nullptr && (*sinks)[i]->keeps_checkpoints()) {
      Result<std::optional<Position>> kept = (*sinks)[i]->load_checkpoint();
      if (!kept) {
        return fail(kept.error().with_context(fmt::format("checkpoint of {}", name)));
      }
      position = std::move(*kept);
    } else if (store != nullptr) {
      Result<std::optional<state::Checkpoint>> checkpoint = store->get_checkpoint(job, name);
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
// pass replays the log from there (idempotently), deletes included. The
// reverse flow of a pair keeps its own marker (Flow::marker).
constexpr const char* kSnapshotMarker = "";
constexpr const char* kReverseSnapshotMarker = "<reverse>";

Result<std::optional<Position>> read_marker(state::StateStore* store, const std::string& job,
                                            const std::string& key) {
  if (store == nullptr) {
    return std::optional<Position>();
  }
  Result<std::optional<state::Checkpoint>> marker = store->get_checkpoint(job, key);
  if (!marker) {
    return fail(marker.error().with_context("snapshot marker"));
  }
  if (!*marker || (*marker)->position.empty()) {
    return std::optional<Position>();
  }
  return std::optional<Position>((*marker)->position);
}

Status write_marker(state::StateStore* store, const std::string& job, const std::string& key,
                    const Position& position) {
  if (store == nullptr) {
    return ok();
  }
  return with_context(store->put_checkpoint(job, key, position), "snapshot marker");
}

// Whether every sink applies replacing snapshots (RecordSink::can_replace).
Result<bool> can_replace(const std::vector<RecordSink*>& sinks) {
  for (RecordSink* sink : sinks) {
    Result<bool> can = sink->can_replace();
    if (!can) {
      return fail(can.error());
    }
    if (!*can) {
      return false;
    }
  }
  return !sinks.empty();
}

constexpr auto kLagEvery = std::chrono::seconds(10);
// Time a streaming run keeps before its deadline to finish (apply what is
// queued, release, export metrics).
constexpr auto kStreamMargin = std::chrono::seconds(5);
// How many times batch_size a batch may grow to while a target is behind.
constexpr std::size_t kBehindBatches = 10;
// How long a target's probe may take when a change fails alone.
constexpr std::chrono::seconds kProbeTimeout{10};

}  // namespace

DeadLetterSettings RecordSyncJob::dead_letter_settings(
    engine::RunContext& ctx, const std::shared_ptr<engine::Endpoint>& target,
    const std::vector<CollectionSchema>& schemas) const {
  return DeadLetterSettings{
      .after = options_.dead_letter_after,
      .endpoint_name = options_.dead_letter_name,
      .endpoint = options_.dead_letter,
      .schemas = schemas,
      // Whether the target works; a change that fails alone is a bad one only then.
      .probe = [target] { return target->probe(Deadline::after(kProbeTimeout)); },
      .events = ctx.events,
      .metrics = ctx.metrics};
}

void RecordSyncJob::watch_lag(engine::RunContext& ctx, const Flow& flow, RecordSource& source,
                              bool force) {
  FlowState& state = flow_states_[flow.index];
  const SteadyTime now = SteadyClock::now();
  if (!force && state.last_lag_check && now - *state.last_lag_check < kLagEvery) {
    return;
  }
  state.last_lag_check = now;
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
                {"job", "source"})
        .with({options_.job, flow.source_name})
        .set(static_cast<double>(figures.bytes));
  }
  const bool high = figures.alert_bytes > 0 && figures.bytes > figures.alert_bytes;
  if (high == state.lag_alerted) {
    return;
  }
  state.lag_alerted = high;
  if (high) {
    spdlog::warn("job {}: source {} retains {} bytes of log for it, above the bound of {}",
                 options_.job, flow.source_name, figures.bytes, figures.alert_bytes);
  }
  if (ctx.events != nullptr) {
    ctx.events->publish(high ? "source.lag_high" : "source.lag_ok", high ? "warning" : "info",
                        options_.job, flow.source_name,
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

std::string pair_origin(const std::string& job, const std::string& endpoint) {
  return fmt::format("megasync_{}_{}", job, endpoint);
}

RecordSyncJob::RecordSyncJob(RecordSyncOptions options,
                             std::function<transforms::Chain()> transforms)
    : options_(std::move(options)), make_transforms_(std::move(transforms)) {
  Flow forward{.source_name = options_.source_name,
               .source = options_.source,
               .targets = options_.targets,
               .source_job = options_.job,
               .marker = kSnapshotMarker};
  if (options_.pair && options_.targets.size() == 1) {
    // Each source skips what the other direction's sink applied to it.
    const auto& [other_name, other] = options_.targets.front();
    forward.skip_origin = pair_origin(options_.job, options_.source_name);
    Flow reverse{.source_name = other_name,
                 .source = other,
                 .targets = {{options_.source_name, options_.source}},
                 .source_job = options_.job + "_reverse",
                 .marker = kReverseSnapshotMarker,
                 .skip_origin = pair_origin(options_.job, other_name),
                 .index = 1};
    flows_.push_back(std::move(forward));
    flows_.push_back(std::move(reverse));
  } else {
    flows_.push_back(std::move(forward));
  }
  flow_states_.resize(flows_.size());
}

engine::SinkRequest RecordSyncJob::sink_request(engine::RunContext& ctx, const Flow& flow,
                                                const std::string& target) const {
  engine::SinkRequest request{.job = options_.job, .target = target};
  if (!options_.pair) {
    return request;
  }
  request.origin = pair_origin(options_.job, target);
  request.version_column = options_.pair->version_column;
  request.incoming_wins_ties = options_.pair->winner == flow.source_name;
  // Runs on the target's thread; ctx outlives the run's sinks.
  request.on_conflicts = [&ctx, job = options_.job, target,
                          source = flow.source_name](const engine::ConflictReport& report) {
    spdlog::debug("job {}: {} change(s) of {} from {} not applied to {}: its rows were newer", job,
                  report.count, report.collection, source, target);
    if (ctx.metrics != nullptr) {
      ctx.metrics
          ->counter("megasync_conflicts_total",
                    "Changes of a bidirectional pair not applied because the target's row was "
                    "newer (last writer wins).",
                    {"job", "target"})
          .with({job, target})
          .inc(static_cast<double>(report.count));
    }
    if (ctx.events != nullptr) {
      nlohmann::json samples = nlohmann::json::array();
      for (const engine::ConflictReport::Sample& sample : report.samples) {
        samples.push_back({{"key", sample.key},
                           {"kept_version", sample.kept_version},
                           {"incoming_version", sample.incoming_version}});
      }
      ctx.events->publish("sync.conflict", "warning", job, target,
                          {{"collection", report.collection},
                           {"source", source},
                           {"count", report.count},
                           {"samples", samples}});
    }
  };
  return request;
}

Status RecordSyncJob::pass(engine::RunContext& ctx) {
  if (flows_.size() == 2) {
    return pair_pass(ctx);
  }
  return flow_pass(ctx, flows_.front(), {});
}

Status RecordSyncJob::flow_pass(engine::RunContext& ctx, const Flow& flow, const PassHooks& hooks) {
  bool replay = false;
  if (Status s = sync_pass(ctx, flow, hooks, replay); !s) {
    return s;
  }
  if (replay) {
    bool again = false;  // the replay pass resumes: it sets no new marker
    return sync_pass(ctx, flow, hooks, again);
  }
  return ok();
}

// The two flows of a pair. The order of a first start matters: the forward
// flow prepares the other side first (creating the tables the reverse source
// reads), then both sources are opened (each taking its snapshot) before
// either flow reads anything. So each snapshot holds its side's own rows, not
// the copies the other flow writes there: those would only come back as
// no-op writes, but a row deleted meanwhile could come back to life. A flow
// that fails stops the other; the run fails with the first error.
Status RecordSyncJob::pair_pass(engine::RunContext& ctx) {
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable changed;
  bool open[2] = {false, false};  // the flow's source is open, or the flow ended
  auto mark_open = [&](int flow) {
    std::lock_guard lock(mutex);
    open[flow] = true;
    changed.notify_all();
  };
  auto meet = [&](int flow) {
    mark_open(flow);
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return open[1 - flow]; });
  };
  // As the job runner does for the job's thread: a connector's exception (a
  // bug) must neither take the daemon down nor leave the other flow unjoined.
  auto guarded = [&](const Flow& flow, const PassHooks& hooks) -> Status {
    try {
      return flow_pass(ctx, flow, hooks);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kPermanent, "unexpected exception: {}", e.what());
    }
  };
  Status reverse_status = ok();
  auto run_reverse = [&] {
    Status s = guarded(flows_[1], {.opened = [&] { meet(1); }, .stop = &stop});
    if (!s) {
      stop = true;
    }
    reverse_status = std::move(s);  // read after join
    mark_open(1);
  };
  std::thread reverse;
  auto start_reverse = [&] {
    if (!reverse.joinable()) {  // not again for the forward flow's replay pass
      reverse = std::thread(run_reverse);
    }
  };
  Status forward =
      guarded(flows_[0], {.prepared = start_reverse, .opened = [&] { meet(0); }, .stop = &stop});
  if (!forward) {
    stop = true;
  }
  mark_open(0);
  if (reverse.joinable()) {
    reverse.join();
  } else if (forward) {
    run_reverse();  // a dry run prepares nothing: the hook was not called
  }
  if (!forward) {
    // The reverse flow stopped because of it; its own error says nothing new.
    return fail(forward.error());
  }
  if (!reverse_status) {
    return fail(reverse_status.error().with_context(
        fmt::format("{} to {}", flows_[1].source_name, flows_[0].source_name)));
  }
  return ok();
}

Status RecordSyncJob::sync_pass(engine::RunContext& ctx, const Flow& flow, const PassHooks& hooks,
                                bool& replay) {
  const std::string source_context = fmt::format("source {}", flow.source_name);
  Result<std::unique_ptr<RecordSource>> opened = flow.source->open_record_source(
      {.job = flow.source_job, .collections = options_.tables, .skip_origin = flow.skip_origin});
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
  Result<std::optional<Position>> marker = read_marker(ctx.store, options_.job, flow.marker);
  if (!marker) {
    return fail(marker.error());
  }
  replay = false;
  if (ctx.dry_run) {
    Result<StartPoint> start = find_start(options_.job, flow, ctx.store, source);
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
  for (const auto& [name, endpoint] : flow.targets) {
    Result<std::unique_ptr<RecordSink>> sink =
        endpoint->open_record_sink(sink_request(ctx, flow, name));
    if (!sink) {
      return fail(sink.error().with_context(fmt::format("target {}", name)));
    }
    if (Status s = (*sink)->prepare(*schemas); !s) {
      return fail(s.error().with_context(fmt::format("target {}: prepare", name)));
    }
    sink_list.push_back(sink->get());
    sinks.push_back(std::move(*sink));
  }
  Result<StartPoint> start = find_start(options_.job, flow, ctx.store, source, &sink_list);
  if (!start) {
    return fail(start.error());
  }
  if (hooks.prepared) {
    hooks.prepared();
  }
  // Every target replaces its rows with a snapshot's (a one-way job whose
  // sinks can) in a resync, asked for when the source prefers it to a long
  // catch-up, and in the snapshot taken again if the source then finds its
  // position lost.
  bool replacing = false;
  if (start->resume && !options_.pair) {
    Result<bool> replaceable = can_replace(sink_list);
    if (!replaceable) {
      return fail(replaceable.error());
    }
    Result<bool> prefers =
        *replaceable ? source.prefers_resync(*start->resume) : Result<bool>(false);
    if (!prefers) {
      return fail(prefers.error().with_context(source_context));
    }
    replacing = *prefers;
  }
  Status source_open = replacing ? source.open_resync(*start->resume) : source.open(start->resume);
  if (source_open && replacing) {
    spdlog::info(
        "job {}: resync: a fresh snapshot replaces the targets' rows rather than a "
        "replay of the source's backlog",
        options_.job);
    if (ctx.events != nullptr) {
      ctx.events->publish("source.resync", "info", options_.job, flow.source_name, {});
    }
  }
  if (Status s = std::move(source_open); !s) {
    if (s.error().code() != ErrorCode::kNotFound || !start->resume) {
      return fail(s.error().with_context(source_context));
    }
    // The source lost the position (a replication slot dropped, or lost in a
    // failover) and allows a fresh snapshot. Every checkpoint goes first, so
    // that a crash during the snapshot starts it again rather than resuming
    // past rows it never copied.
    spdlog::warn("job {}: {}; starting again from a snapshot", options_.job, s.error().message());
    if (ctx.events != nullptr) {
      ctx.events->publish("source.position_lost", "warning", options_.job, flow.source_name,
                          {{"error", s.error().message()}, {"action", "resnapshot"}});
    }
    for (std::size_t i = 0; i < flow.targets.size(); ++i) {
      const std::string& name = flow.targets[i].first;
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
  if (hooks.opened) {
    hooks.opened();
  }
  watch_lag(ctx, flow, source, /*force=*/true);
  std::vector<std::unique_ptr<TargetWorker>> workers;
  for (std::size_t i = 0; i < flow.targets.size(); ++i) {
    const std::string& name = flow.targets[i].first;
    workers.push_back(std::make_unique<TargetWorker>(
        TargetSettings{
            .job = options_.job,
            .target = name,
            .queue_batches = std::max<std::size_t>(options_.queue_batches, 1),
            .merge_changes = std::max<std::size_t>(options_.batch_size, 1) * kBehindBatches,
            .store = ctx.store,
            .progress = ctx.progress,
            .durable = start->per_target[i],
            .dead_letters = dead_letter_settings(ctx, flow.targets[i].second, *schemas)},
        std::move(sinks[i])));
  }
  if (start->resume && *marker) {
    // Every target checkpointed at or before the marker: the replay it asked
    // for is this pass.
    if (Status s = write_marker(ctx.store, options_.job, flow.marker, Position()); !s) {
      return s;
    }
    marker->reset();
  }
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase(replacing ? "resync" : (start->resume ? "streaming" : "snapshot"));
    if (!start->resume || replacing) {
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

  // A streaming run (`stream: true`) reads for stream_for once past its
  // snapshot, then ends so the next run verifies and reopens; a periodic run
  // ends once caught up, and so do the extra pass of a verification and
  // `megasync sync` of a streaming job.
  const bool settle = settling_pass_ || (options_.stream_for.count() > 0 && ctx.trigger == "cli");
  const bool stop_when_caught_up = options_.stop_when_caught_up || settle;
  // Past the snapshot (a snapshot is not cut short by a wind-down: its grace
  // period may let it finish).
  bool streaming = false;
  std::optional<Deadline> stream_end;
  auto start_streaming = [&] {
    streaming = true;
    if (!stream_end && options_.stream_for.count() > 0 && !settle) {
      // A retried attempt streams only what is left before the run's deadline,
      // less a margin to finish, so that a run that streamed is never timed out.
      stream_end = Deadline::after(options_.stream_for);
      if (ctx.deadline.at() != SteadyTime::max()) {
        stream_end = stream_end->min(Deadline(ctx.deadline.at() - kStreamMargin));
      }
    }
  };
  // A resync's snapshot is not streaming: a streaming run's time must not cut it.
  if (start->resume && !replacing) {
    start_streaming();
  }
  std::optional<Error> source_error;
  bool cancelled = false;
  std::optional<Position> pushed_end;  // the end of the last batch pushed to the targets
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
    if (any_failed || ctx.deadline.expired() || (hooks.stop != nullptr && hooks.stop->load()) ||
        (stream_end && stream_end->expired()) || (streaming && ctx.wind_down.cancelled())) {
      break;
    }
    const Deadline until = stop_when_caught_up
                               ? Deadline::after(std::chrono::milliseconds(0))
                               : Deadline::after(std::chrono::seconds(1))
                                     .min(stream_end.value_or(ctx.deadline).min(ctx.deadline));
    // A target still busy with earlier batches is behind (a snapshot, a
    // backlog): larger batches then cost it fewer statements and commits per
    // change. One that keeps up gets batch_size, for the shortest lag.
    const bool behind = std::any_of(workers.begin(), workers.end(),
                                    [](const auto& worker) { return worker->queued() > 0; });
    Result<std::optional<Batch>> next = source.next(
        until, std::max<std::size_t>(options_.batch_size, 1) * (behind ? kBehindBatches : 1));
    if (!next) {
      source_error = next.error().with_context(source_context);
      break;
    }
    if (!*next) {
      if (ctx.progress != nullptr) {
        ctx.progress->set_phase("streaming");
      }
      if (stop_when_caught_up) {
        break;
      }
      start_streaming();
      (void)release();
      continue;
    }
    Batch& batch = **next;
    if (batch.changes.empty() && batch.schema_changes.empty() && !batch.end.empty() && pushed_end &&
        source.compare(batch.end, *pushed_end) <= 0) {
      // Nothing new: the source waits for release() (record_source.h).
      if (Status s = release(); !s) {
        source_error = s.error();
        break;
      }
      continue;
    }
    if (!batch.snapshot) {
      start_streaming();
    }
    batch.replace = replacing && batch.snapshot;
    bool replay_after = false;
    if (batch.snapshot && !start->resume) {
      if (!*marker && !batch.changes.empty() && !batch.changes.front().position.empty()) {
        // Before any target applies a row of this snapshot.
        if (Status s =
                write_marker(ctx.store, options_.job, flow.marker, batch.changes.front().position);
            !s) {
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
    if (!shared->end.empty()) {
      pushed_end = shared->end;
    }
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
    watch_lag(ctx, flow, source, /*force=*/false);
    if (replay_after) {
      replay = true;  // flow_pass() starts the replay pass
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
    export_lag(ctx, flow, source, durable);
    watch_lag(ctx, flow, source, /*force=*/true);
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
