// RecordSyncJob's comparison of targets with the source: `megasync verify`,
// --repair, and the check after each run with its metrics and events.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/time.h"
#include "events/bus.h"
#include "monitor/metrics.h"
#include "sync/records/record_sync_job.h"

namespace megasync::sync::records {
namespace {

constexpr std::size_t kTransformBatch = 1000;

Status cancelled_error(const engine::RunContext& ctx) {
  return make_error(ErrorCode::kCancelled, "job {}: verification cancelled", ctx.job);
}

// The source's rows as the targets should hold them: read through the job's
// transforms (renames, masks, filters), a thousand at a time.
RowStream source_rows(RecordReader& reader, const std::vector<CollectionSchema>& schemas,
                      const transforms::Chain& chain, const engine::RunContext& ctx) {
  return [&reader, &schemas, &chain, &ctx](const RowVisit& visit) -> Status {
    if (Status s = reader.begin(); !s) {
      return s;
    }
    Batch batch;
    auto flush = [&]() -> Status {
      if (Status s = chain.apply(batch); !s) {
        return s;
      }
      for (Change& change : batch.changes) {
        if (Status s = visit(change.collection, change.key, change.fields); !s) {
          return s;
        }
      }
      batch.changes.clear();
      return ok();
    };
    Status read = ok();
    for (const CollectionSchema& schema : schemas) {
      read = reader.scan(
          schema, [&](std::vector<Value>& key, std::map<std::string, Value>& fields) -> Status {
            if (ctx.cancel.cancelled()) {
              return cancelled_error(ctx);
            }
            Change change;
            change.collection = schema.name;
            change.key = std::move(key);
            change.fields = std::move(fields);
            batch.changes.push_back(std::move(change));
            return batch.changes.size() >= kTransformBatch ? flush() : ok();
          });
      if (!read) {
        break;
      }
      if (read = flush(); !read) {
        break;
      }
    }
    reader.end();
    return read;
  };
}

// A target's rows as it holds them.
RowStream target_rows(RecordReader& reader, const std::vector<CollectionSchema>& schemas,
                      const engine::RunContext& ctx) {
  return [&reader, &schemas, &ctx](const RowVisit& visit) -> Status {
    if (Status s = reader.begin(); !s) {
      return s;
    }
    Status read = ok();
    for (const CollectionSchema& schema : schemas) {
      read = reader.scan(
          schema, [&](std::vector<Value>& key, std::map<std::string, Value>& fields) -> Status {
            if (ctx.cancel.cancelled()) {
              return cancelled_error(ctx);
            }
            return visit(schema.name, key, fields);
          });
      if (!read) {
        break;
      }
    }
    reader.end();
    return read;
  };
}

Status apply_repairs(std::vector<Change>& repairs, RecordSink& sink, std::size_t batch_size) {
  for (std::size_t start = 0; start < repairs.size(); start += batch_size) {
    Batch batch;
    const std::size_t end = std::min(repairs.size(), start + batch_size);
    for (std::size_t i = start; i < end; ++i) {
      batch.changes.push_back(std::move(repairs[i]));
    }
    if (Status s = sink.apply(batch); !s) {
      return s;
    }
  }
  return ok();
}

nlohmann::json to_json(const TargetVerdict& verdict) {
  nlohmann::json collections = nlohmann::json::object();
  for (const CollectionDifferences& c : verdict.comparison.collections) {
    collections[c.collection] = {{"equal", c.equal()},
                                 {"source_rows", c.source_rows},
                                 {"target_rows", c.target_rows},
                                 {"missing", c.missing},
                                 {"extra", c.extra},
                                 {"differ", c.differ},
                                 {"missing_keys", c.missing_keys},
                                 {"extra_keys", c.extra_keys},
                                 {"differ_keys", c.differ_keys}};
  }
  nlohmann::json doc = {{"equal", verdict.comparison.equal()}, {"collections", collections}};
  if (verdict.equal_after_repair) {
    doc["repaired"] = verdict.repaired;
    doc["equal_after_repair"] = *verdict.equal_after_repair;
  }
  return doc;
}

std::string summary(const Comparison& comparison) {
  std::string out;
  for (const CollectionDifferences& c : comparison.collections) {
    if (!c.equal()) {
      out += fmt::format("{}{}: {} missing, {} extra, {} differ", out.empty() ? "" : "; ",
                         c.collection, c.missing, c.extra, c.differ);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<TargetVerdict>> RecordSyncJob::check_targets(engine::RunContext& ctx,
                                                                bool repair) {
  const std::string source_context = fmt::format("source {}", options_.source_name);
  Result<std::unique_ptr<RecordSource>> source =
      options_.source->open_record_source({.job = options_.job, .collections = options_.tables});
  if (!source) {
    return fail(source.error().with_context(source_context));
  }
  Result<std::vector<CollectionSchema>> source_schemas = (*source)->describe();
  if (!source_schemas) {
    return fail(source_schemas.error().with_context(source_context));
  }
  transforms::Chain chain = make_transforms_();
  Result<std::vector<CollectionSchema>> schemas = chain.apply_schemas(*source_schemas);
  if (!schemas) {
    return fail(schemas.error());
  }
  Result<std::unique_ptr<RecordReader>> source_reader = options_.source->open_record_reader();
  if (!source_reader) {
    return fail(source_reader.error().with_context(source_context));
  }
  const RowStream from_source = source_rows(**source_reader, *source_schemas, chain, ctx);
  Result<Digests> source_digests = digest(*schemas, from_source);
  if (!source_digests) {
    return fail(source_digests.error().with_context(source_context));
  }

  std::vector<TargetVerdict> verdicts;
  for (const auto& [name, endpoint] : options_.targets) {
    const std::string target_context = fmt::format("target {}", name);
    Result<std::unique_ptr<RecordReader>> reader = endpoint->open_record_reader();
    if (!reader) {
      return fail(reader.error().with_context(target_context));
    }
    const RowStream from_target = target_rows(**reader, *schemas, ctx);
    Result<Digests> target_digests = digest(*schemas, from_target);
    if (!target_digests) {
      return fail(target_digests.error().with_context(target_context));
    }
    Result<Comparison> comparison =
        compare(*schemas, *source_digests, *target_digests, from_source, from_target, {}, repair);
    if (!comparison) {
      return fail(comparison.error().with_context(target_context));
    }
    TargetVerdict verdict{.target = name, .comparison = std::move(*comparison)};
    if (repair && !verdict.comparison.equal()) {
      Result<std::unique_ptr<RecordSink>> sink =
          endpoint->open_record_sink({.job = options_.job, .target = name});
      if (!sink) {
        return fail(sink.error().with_context(target_context));
      }
      if (Status s = (*sink)->prepare(*schemas); !s) {
        return fail(s.error().with_context(target_context + ": prepare"));
      }
      verdict.repaired = static_cast<std::int64_t>(verdict.comparison.repairs.size());
      if (Status s = apply_repairs(verdict.comparison.repairs, **sink,
                                   std::max<std::size_t>(options_.batch_size, 1));
          !s) {
        return fail(s.error().with_context(target_context + ": repair"));
      }
      verdict.comparison.repairs.clear();
      Result<Digests> after = digest(*schemas, from_target);
      if (!after) {
        return fail(after.error().with_context(target_context));
      }
      Result<Comparison> again =
          compare(*schemas, *source_digests, *after, from_source, from_target, {}, false);
      if (!again) {
        return fail(again.error().with_context(target_context));
      }
      verdict.equal_after_repair = again->equal();
    }
    verdicts.push_back(std::move(verdict));
  }
  return verdicts;
}

Result<nlohmann::json> RecordSyncJob::verify(engine::RunContext& ctx, bool repair) {
  Result<std::vector<TargetVerdict>> verdicts = check_targets(ctx, repair);
  if (!verdicts) {
    return fail(verdicts.error());
  }
  bool equal = true;
  nlohmann::json targets = nlohmann::json::object();
  for (const TargetVerdict& verdict : *verdicts) {
    equal = equal && verdict.comparison.equal();
    targets[verdict.target] = to_json(verdict);
  }
  nlohmann::json doc = {{"equal", equal}, {"targets", targets}};
  if (repair && !equal) {
    bool after = true;
    for (const TargetVerdict& verdict : *verdicts) {
      after = after && verdict.equal_after_repair.value_or(true);
    }
    doc["equal_after_repair"] = after;
  }
  return doc;
}

Status RecordSyncJob::run(engine::RunContext& ctx) {
  if (Status s = pass(ctx); !s) {
    return s;
  }
  if (!ctx.dry_run && options_.verify_interval.count() > 0 &&
      (!last_verified_ || SteadyClock::now() - *last_verified_ >= options_.verify_interval)) {
    verify_after_run(ctx);
  }
  return ok();
}

void RecordSyncJob::verify_after_run(engine::RunContext& ctx) {
  if (ctx.progress != nullptr) {
    ctx.progress->set_phase("verifying");
  }
  Result<std::vector<TargetVerdict>> verdicts = check_targets(ctx, false);
  bool all_equal = verdicts.has_value();
  if (verdicts) {
    for (const TargetVerdict& verdict : *verdicts) {
      all_equal = all_equal && verdict.comparison.equal();
    }
  }
  // Rows written at the source since the pass make a target look behind; one
  // more pass and a second comparison tell that from a real divergence.
  if (verdicts && !all_equal && options_.stop_when_caught_up) {
    if (Status s = pass(ctx); s) {
      verdicts = check_targets(ctx, false);
    }
  }
  if (!verdicts) {
    if (verdicts.error().code() != ErrorCode::kCancelled) {
      spdlog::warn("job {}: verification failed: {}", options_.job, verdicts.error().message());
    }
    return;
  }
  last_verified_ = SteadyClock::now();
  nlohmann::json described = nlohmann::json::object();
  for (const TargetVerdict& verdict : *verdicts) {
    const bool equal = verdict.comparison.equal();
    described[verdict.target] = {{"equal", equal}, {"at", format_time(WallClock::now())}};
    if (ctx.metrics != nullptr) {
      ctx.metrics
          ->gauge("megasync_job_in_sync",
                  "1 when the last comparison found the target equal to the source, else 0.",
                  {"job", "target"})
          .with({options_.job, verdict.target})
          .set(equal ? 1 : 0);
    }
    if (equal) {
      continue;
    }
    const std::string what = summary(verdict.comparison);
    described[verdict.target]["differences"] = what;
    spdlog::warn("job {}: target {} differs from the source: {}", options_.job, verdict.target,
                 what);
    if (ctx.events != nullptr) {
      nlohmann::json data = to_json(verdict);
      data["summary"] = what;
      ctx.events->publish("sync.diverged", "warning", options_.job, verdict.target,
                          std::move(data));
    }
  }
  std::lock_guard lock(mutex_);
  last_verification_ = std::move(described);
}

void RecordSyncJob::export_lag(engine::RunContext& ctx, const Flow& flow, RecordSource& source,
                               const std::vector<std::optional<Position>>& durable) {
  if (ctx.metrics == nullptr) {
    return;
  }
  monitor::GaugeFamily& lag = ctx.metrics->gauge(
      "megasync_job_lag_records",
      "Changes the source holds that the target has not made durable yet (at the end of a run).",
      {"job", "target"});
  for (std::size_t i = 0; i < flow.targets.size() && i < durable.size(); ++i) {
    Result<std::optional<std::int64_t>> behind = source.backlog(durable[i]);
    if (behind && *behind) {
      lag.with({options_.job, flow.targets[i].first}).set(static_cast<double>(**behind));
    }
  }
}

nlohmann::json RecordSyncJob::describe() const {
  nlohmann::json doc = {{"source", options_.source_name}};
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& [name, endpoint] : options_.targets) {
    targets.push_back(name);
  }
  doc["targets"] = targets;
  if (options_.pair) {
    doc["direction"] = "bidirectional";
    doc["conflict_winner"] = options_.pair->winner;
  }
  std::lock_guard lock(mutex_);
  if (!last_verification_.is_null()) {
    doc["verification"] = last_verification_;
  }
  return doc;
}

}  // namespace megasync::sync::records
