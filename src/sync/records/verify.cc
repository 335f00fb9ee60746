// RecordSyncJob's comparison of targets with the source: `megasync verify`,
// --repair, and the check after each run with its metrics and events.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <set>

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
      read = reader.scan(schema, [&](std::vector<Value>& key, Fields& fields) -> Status {
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
      read = reader.scan(schema, [&](std::vector<Value>& key, Fields& fields) -> Status {
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

// The collections of `schemas` whose digest scheme `reader` knows, by name,
// with their scheme; only those `eligible` says may be digested server-side.
Result<std::map<std::string, std::string>> digest_schemes(
    RecordReader& reader, const std::vector<CollectionSchema>& schemas,
    const std::function<bool(const std::string&)>& eligible) {
  std::map<std::string, std::string> schemes;
  if (Status s = reader.begin(); !s) {
    return fail(s.error());
  }
  for (const CollectionSchema& schema : schemas) {
    if (!eligible(schema.name)) {
      continue;
    }
    Result<std::optional<std::string>> scheme = reader.digest_scheme(schema);
    if (!scheme) {
      reader.end();
      return fail(scheme.error().with_context(schema.name));
    }
    if (*scheme) {
      schemes[schema.name] = std::move(**scheme);
    }
  }
  reader.end();
  return schemes;
}

std::vector<CollectionSchema> without(const std::vector<CollectionSchema>& schemas,
                                      const std::set<std::string>& names) {
  std::vector<CollectionSchema> out;
  for (const CollectionSchema& schema : schemas) {
    if (!names.contains(schema.name)) {
      out.push_back(schema);
    }
  }
  return out;
}

// The digests of the `server` collections as `reader`'s database computes
// them, in one read.
Result<Digests> server_digests(RecordReader& reader, const std::vector<CollectionSchema>& schemas,
                               const std::set<std::string>& server, const engine::RunContext& ctx) {
  Digests digests;
  if (Status s = reader.begin(); !s) {
    return fail(s.error());
  }
  Status read = ok();
  for (const CollectionSchema& schema : schemas) {
    if (!server.contains(schema.name)) {
      continue;
    }
    if (ctx.cancel.cancelled()) {
      read = cancelled_error(ctx);
      break;
    }
    Result<std::vector<RecordReader::LeafDigest>> leaves =
        reader.server_digest(schema, RangeDigest::kLeafBits);
    if (!leaves) {
      read = fail(leaves.error().with_context(fmt::format("digest {}", schema.name)));
      break;
    }
    RangeDigest digest = RangeDigest::server_side();
    for (const RecordReader::LeafDigest& leaf : *leaves) {
      if (leaf.leaf >= RangeDigest::kLeaves || leaf.rows < 0) {
        read = make_error(ErrorCode::kPermanent, "digest {}: leaf {} ({} rows) out of range",
                          schema.name, leaf.leaf, leaf.rows);
        break;
      }
      digest.add_leaf(leaf.leaf, leaf.rows, leaf.sum);
    }
    if (!read) {
      break;
    }
    digests.emplace(schema.name, std::move(digest));
  }
  reader.end();
  if (!read) {
    return fail(read.error());
  }
  return digests;
}

// One side of a comparison with one target: the `server` collections are
// digested and read again by the side's database, the others through
// `client` (a RowStream over the other collections only), as before.
struct Side {
  RecordReader& reader;
  const std::vector<CollectionSchema>& schemas;  // as the side names them
  std::set<std::string> server;
  // The post-transform schemas of the client-side collections.
  std::vector<CollectionSchema> client_schemas;
  RowStream client;

  Result<Digests> digests(const engine::RunContext& ctx) const {
    Digests out;
    if (!client_schemas.empty()) {
      Result<Digests> read = digest(client_schemas, client);
      if (!read) {
        return read;
      }
      out = std::move(*read);
    }
    if (!server.empty()) {
      Result<Digests> read = server_digests(reader, schemas, server, ctx);
      if (!read) {
        return read;
      }
      out.merge(*read);
    }
    return out;
  }

  LeafStream rows(const engine::RunContext& ctx) const {
    return [this, &ctx](const LeafSelection& leaves, const RowVisit& visit) -> Status {
      bool client_wanted = false;
      bool server_wanted = false;
      for (const auto& [name, list] : leaves) {
        (server.contains(name) ? server_wanted : client_wanted) = true;
      }
      if (server_wanted) {
        if (Status s = reader.begin(); !s) {
          return s;
        }
        Status read = ok();
        for (const CollectionSchema& schema : schemas) {
          auto selected = leaves.find(schema.name);
          if (!server.contains(schema.name) || selected == leaves.end()) {
            continue;
          }
          read = reader.scan_leaves(schema, RangeDigest::kLeafBits, selected->second,
                                    [&](std::vector<Value>& key, Fields& fields) -> Status {
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
        if (!read) {
          return read;
        }
      }
      return client_wanted ? client(visit) : ok();
    };
  }
};

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
                                 {"method", c.method},
                                 {"source_rows_read", c.source_rows_read},
                                 {"target_rows_read", c.target_rows_read},
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
                                                                Repair mode) {
  const std::string source_context = fmt::format("source {}", options_.source_name);
  Result<std::unique_ptr<RecordSource>> source =
      options_.source->open_record_source({.job = options_.job, .collections = options_.tables});
  if (!source) {
    return fail(source.error().with_context(source_context));
  }
  const bool repair =
      mode == Repair::kAll || (mode == Repair::kIfBlind && !(*source)->sees_deletes());
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
  // Server-side digests only where the transforms (applied here, client side)
  // leave a collection alone, and only with a target that hashes it the same.
  Result<std::map<std::string, std::string>> source_schemes =
      digest_schemes(**source_reader, *source_schemas,
                     [&chain](const std::string& name) { return !chain.touches(name); });
  if (!source_schemes) {
    return fail(source_schemes.error().with_context(source_context));
  }
  // The source's digests by the set of server-digested collections (targets
  // of the same kind share one read of the source).
  std::map<std::set<std::string>, Digests> source_digests;

  std::vector<TargetVerdict> verdicts;
  for (const auto& [name, endpoint] : options_.targets) {
    const std::string target_context = fmt::format("target {}", name);
    Result<std::unique_ptr<RecordReader>> reader = endpoint->open_record_reader();
    if (!reader) {
      return fail(reader.error().with_context(target_context));
    }
    Result<std::map<std::string, std::string>> target_schemes = digest_schemes(
        **reader, *schemas,
        [&](const std::string& collection) { return source_schemes->contains(collection); });
    if (!target_schemes) {
      return fail(target_schemes.error().with_context(target_context));
    }
    std::set<std::string> server;
    for (const auto& [collection, scheme] : *target_schemes) {
      if (source_schemes->at(collection) == scheme) {
        server.insert(collection);
      }
    }
    const std::vector<CollectionSchema> source_client = without(*source_schemas, server);
    const std::vector<CollectionSchema> target_client = without(*schemas, server);
    const Side source_side{.reader = **source_reader,
                           .schemas = *source_schemas,
                           .server = server,
                           .client_schemas = target_client,
                           .client = source_rows(**source_reader, source_client, chain, ctx)};
    const Side target_side{.reader = **reader,
                           .schemas = *schemas,
                           .server = server,
                           .client_schemas = target_client,
                           .client = target_rows(**reader, target_client, ctx)};
    const LeafStream from_source = source_side.rows(ctx);
    const LeafStream from_target = target_side.rows(ctx);
    auto cached = source_digests.find(server);
    if (cached == source_digests.end()) {
      Result<Digests> read = source_side.digests(ctx);
      if (!read) {
        return fail(read.error().with_context(source_context));
      }
      cached = source_digests.emplace(server, std::move(*read)).first;
    }
    const Digests& source_digest = cached->second;
    Result<Digests> target_digests = target_side.digests(ctx);
    if (!target_digests) {
      return fail(target_digests.error().with_context(target_context));
    }
    Result<Comparison> comparison =
        compare(*schemas, source_digest, *target_digests, from_source, from_target, {}, repair);
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
      Result<Digests> after = target_side.digests(ctx);
      if (!after) {
        return fail(after.error().with_context(target_context));
      }
      Result<Comparison> again =
          compare(*schemas, source_digest, *after, from_source, from_target, {}, false);
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
  if (!options_.comparable) {
    // Consumed messages leave the source: there is nothing to compare with.
    return nlohmann::json{{"equal", true},
                          {"targets", nlohmann::json::object()},
                          {"note", fmt::format("job {} moves messages: message streams are not "
                                               "compared, there is nothing to verify",
                                               options_.job)}};
  }
  Result<std::vector<TargetVerdict>> verdicts =
      check_targets(ctx, repair ? Repair::kAll : Repair::kNone);
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
  // A source that cannot see deletes leaves them to this comparison, which
  // then repairs what differs; after one more pass when the job has one, so
  // that only what the source could not send is repaired.
  const bool settles = options_.stop_when_caught_up || options_.stream_for.count() > 0;
  Result<std::vector<TargetVerdict>> verdicts =
      check_targets(ctx, settles ? Repair::kNone : Repair::kIfBlind);
  bool all_equal = verdicts.has_value();
  if (verdicts) {
    for (const TargetVerdict& verdict : *verdicts) {
      all_equal = all_equal && verdict.equal_after_repair.value_or(verdict.comparison.equal());
    }
  }
  // Rows written at the source since the pass make a target look behind; one
  // more pass and a second comparison tell that from a real divergence.
  if (verdicts && !all_equal && settles) {
    settling_pass_ = true;
    Status s = pass(ctx);
    settling_pass_ = false;
    if (s) {
      verdicts = check_targets(ctx, Repair::kIfBlind);
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
    const bool equal = verdict.equal_after_repair.value_or(verdict.comparison.equal());
    described[verdict.target] = {{"equal", equal}, {"at", format_time(WallClock::now())}};
    if (verdict.equal_after_repair) {
      described[verdict.target]["repaired"] = verdict.repaired;
      spdlog::info("job {}: target {}: applied {} change(s) the source cannot send (deletes): {}",
                   options_.job, verdict.target, verdict.repaired, summary(verdict.comparison));
    }
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
