// Registers the record job kinds; the only file of the engine that touches the
// registry.
#include <fmt/format.h>

#include "sync/records/record_sync_job.h"
#include "sync/records/register.h"
#include "transforms/build.h"

namespace megasync::sync::records {
namespace {

struct KindDefaults {
  const char* name;
  // Message jobs: streams are not compared (verify_interval 0) and changes
  // that keep failing alone are dead-lettered after 5 attempts.
  bool messages;
  const char* description;
  int interval_seconds;
  std::int64_t batch_size;
  const char* upper;  // SYNC_INTERVAL_<upper>, BATCH_SIZE_<upper>, TIMEOUT_<upper>
};

std::vector<config::OptionSpec> record_options(const KindDefaults& defaults) {
  using config::OptionSpec;
  using config::OptionType;
  return {
      OptionSpec{.name = "source",
                 .type = OptionType::kEndpoint,
                 .description = "The endpoint to read records from (a record source).",
                 .required = true},
      OptionSpec{.name = "targets",
                 .type = OptionType::kEndpointList,
                 .description = "The endpoints to write records to; each has its own checkpoint.",
                 .required = true},
      OptionSpec{.name = "tables",
                 .type = OptionType::kStringList,
                 .description = "Tables (collections) to sync, by name or glob (\"sales_*\"). "
                                "Default: all."},
      OptionSpec{.name = "transforms",
                 .type = OptionType::kObjectList,
                 .description = "Rewrites applied in order between source and targets; see "
                                "docs/transforms.md.",
                 .fields = transforms::option_fields()},
      OptionSpec{.name = "queue_batches",
                 .type = OptionType::kInt,
                 .description = "Batches queued per target before the source waits "
                                "(backpressure).",
                 .default_value = "4",
                 .min = 1,
                 .max = 1000},
      OptionSpec{.name = "direction",
                 .type = OptionType::kString,
                 .description = "one_way: source to targets. bidirectional: source and its one "
                                "target replicate to each other, last writer wins on "
                                "version_column (both endpoints must support it: postgres).",
                 .default_value = "one_way",
                 .choices = {"one_way", "bidirectional"}},
      OptionSpec{.name = "version_column",
                 .type = OptionType::kString,
                 .description = "Bidirectional: the column every table has whose greater value "
                                "wins a conflict (a version counter or an updated_at "
                                "timestamp)."},
      OptionSpec{.name = "conflict_winner",
                 .type = OptionType::kEndpoint,
                 .description = "Bidirectional: the endpoint whose row stays when both sides hold "
                                "the same version. Default: the source."},
      OptionSpec{.name = "stream",
                 .type = OptionType::kBool,
                 .description = "Apply changes as they arrive (sub-second lag from a CDC source): "
                                "each run stays open for one interval, then verifies and the "
                                "next run begins at once. false: each run stops once caught up.",
                 .default_value = "false"},
      OptionSpec{.name = "verify_interval",
                 .type = OptionType::kDuration,
                 .description = "After a run, compare the targets with the source (row counts and "
                                "checksums) when this long passed since the last comparison; 0 "
                                "turns it off. Jobs of kind messages are never compared.",
                 .default_value = defaults.messages ? "0" : "1m"},
      OptionSpec{.name = "dead_letter",
                 .type = OptionType::kEndpoint,
                 .description = "Where changes a target refuses for good go (a record sink: a "
                                "message connector, a database), with headers "
                                "x-megasync-error/attempts/target/job. Default: the state store "
                                "(`megasync dlq` lists and replays them)."},
      OptionSpec{.name = "dead_letter_after",
                 .type = OptionType::kInt,
                 .description = "Attempts of one change applied alone, while the target otherwise "
                                "works, before it is dead-lettered; 0: never (a failing batch "
                                "stops its target until it applies).",
                 .default_value = defaults.messages ? "5" : "0",
                 .min = 0,
                 .max = 1000},
  };
}

// `direction: bidirectional`: one target, both endpoints able to pair, a version
// column, a winner that is one of the two, no transforms (they would have to be
// undone on the way back).
Status pair_options(const config::JobConfig& job, RecordSyncOptions& options) {
  const bool bidirectional = job.options.string("direction") == "bidirectional";
  if (!bidirectional) {
    for (const char* name : {"version_column", "conflict_winner"}) {
      if (job.options.has(name)) {
        return make_error(ErrorCode::kInvalidConfig,
                          "job {}: {} applies only to direction: bidirectional", job.name, name);
      }
    }
    return ok();
  }
  if (options.targets.size() != 1) {
    return make_error(ErrorCode::kInvalidConfig,
                      "job {}: direction: bidirectional pairs the source with exactly one target "
                      "({} given); make one job per pair",
                      job.name, options.targets.size());
  }
  for (const auto& [name, endpoint] :
       {std::pair{options.source_name, options.source}, options.targets.front()}) {
    if (!endpoint->pairs_bidirectionally()) {
      return make_error(ErrorCode::kInvalidConfig,
                        "job {}: endpoint {} (type {}) cannot be one side of a bidirectional "
                        "pair; postgres endpoints in mode: cdc can",
                        job.name, name, endpoint->type());
    }
  }
  if (!job.options.has("version_column") || job.options.string("version_column").empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "job {}: direction: bidirectional needs version_column, the column whose "
                      "greater value wins a conflict (a version counter or updated_at)",
                      job.name);
  }
  if (job.options.has("transforms") && !job.options.objects("transforms").empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "job {}: a bidirectional job cannot have transforms (changes flow both "
                      "ways unchanged)",
                      job.name);
  }
  PairOptions pair{.version_column = job.options.string("version_column"),
                   .winner = options.source_name};
  if (job.options.has("conflict_winner")) {
    pair.winner = job.options.string("conflict_winner");
    if (pair.winner != options.source_name && pair.winner != options.targets.front().first) {
      return make_error(ErrorCode::kInvalidConfig,
                        "job {}: conflict_winner {} is neither the source {} nor the target {}",
                        job.name, pair.winner, options.source_name, options.targets.front().first);
    }
  }
  options.pair = std::move(pair);
  return ok();
}

engine::JobKind make_kind(const KindDefaults& defaults) {
  engine::JobKind kind;
  kind.name = defaults.name;
  kind.engine = "records";
  kind.schema.description = defaults.description;
  kind.schema.default_interval = std::chrono::seconds(defaults.interval_seconds);
  kind.schema.interval_variable = fmt::format("SYNC_INTERVAL_{}", defaults.upper);
  kind.schema.default_batch_size = defaults.batch_size;
  kind.schema.batch_size_variable = fmt::format("BATCH_SIZE_{}", defaults.upper);
  kind.schema.default_timeout = std::chrono::minutes(10);
  kind.schema.timeout_variable = fmt::format("TIMEOUT_{}", defaults.upper);
  kind.schema.options = record_options(defaults);
  kind.create = [messages = defaults.messages](
                    const config::JobConfig& job,
                    const engine::BuildContext& build) -> Result<std::unique_ptr<engine::Job>> {
    auto endpoint = [&](const std::string& name) -> std::shared_ptr<engine::Endpoint> {
      auto found = build.endpoints.find(name);
      return found == build.endpoints.end() ? nullptr : found->second;
    };
    RecordSyncOptions options;
    options.job = job.name;
    options.source_name = job.options.string("source");
    options.source = endpoint(options.source_name);
    if (options.source == nullptr) {
      return make_error(ErrorCode::kInvalidConfig, "job {}: source endpoint {} is not defined",
                        job.name, options.source_name);
    }
    for (const std::string& name : job.options.strings("targets")) {
      std::shared_ptr<engine::Endpoint> target = endpoint(name);
      if (target == nullptr) {
        return make_error(ErrorCode::kInvalidConfig, "job {}: target endpoint {} is not defined",
                          job.name, name);
      }
      if (name == options.source_name) {
        return make_error(ErrorCode::kInvalidConfig,
                          "job {}: endpoint {} cannot be both source and target", job.name, name);
      }
      options.targets.emplace_back(name, std::move(target));
    }
    if (options.targets.empty()) {
      return make_error(ErrorCode::kInvalidConfig, "job {}: targets must name an endpoint",
                        job.name);
    }
    if (job.options.has("tables")) {
      options.tables = job.options.strings("tables");
    }
    if (Status s = pair_options(job, options); !s) {
      return fail(s.error());
    }
    options.batch_size = job.batch_size > 0 ? static_cast<std::size_t>(job.batch_size) : 1000;
    options.queue_batches = static_cast<std::size_t>(job.options.integer("queue_batches"));
    options.stop_when_caught_up = job.interval.count() > 0;
    if (job.options.boolean("stream")) {
      if (job.interval.count() == 0) {
        return make_error(ErrorCode::kInvalidConfig,
                          "job {}: stream: true streams for one interval per run; give the job "
                          "an interval (for example 30s)",
                          job.name);
      }
      if (job.timeout.count() > 0 && job.timeout <= job.interval) {
        return make_error(ErrorCode::kInvalidConfig,
                          "job {}: stream: true keeps each run open for its interval ({}); the "
                          "timeout ({}) must be longer",
                          job.name, format_duration(job.interval), format_duration(job.timeout));
      }
      options.stop_when_caught_up = false;
      options.stream_for = job.interval;
    }
    options.verify_interval = job.options.duration("verify_interval");
    options.comparable = !messages;
    if (messages && options.verify_interval.count() > 0) {
      return make_error(ErrorCode::kInvalidConfig,
                        "job {}: verify_interval does not apply to kind messages (message "
                        "streams are not compared); remove it",
                        job.name);
    }
    options.dead_letter_after = static_cast<int>(job.options.integer("dead_letter_after"));
    if (job.options.has("dead_letter")) {
      options.dead_letter_name = job.options.string("dead_letter");
      options.dead_letter = endpoint(options.dead_letter_name);
      if (options.dead_letter == nullptr) {
        return make_error(ErrorCode::kInvalidConfig,
                          "job {}: dead_letter endpoint {} is not defined", job.name,
                          options.dead_letter_name);
      }
      for (const auto& [name, target] : options.targets) {
        if (name == options.dead_letter_name) {
          return make_error(ErrorCode::kInvalidConfig,
                            "job {}: dead_letter {} is one of the job's targets; dead letters "
                            "must go elsewhere (another endpoint, or omit dead_letter for the "
                            "state store)",
                            job.name, name);
        }
      }
    }
    std::vector<config::Options> entries;
    if (job.options.has("transforms")) {
      entries = job.options.objects("transforms");
    }
    // Built once now so a bad transform is a config error, then afresh per run.
    if (Result<transforms::Chain> chain = transforms::build_chain(entries); !chain) {
      return fail(chain.error().with_context(fmt::format("job {}", job.name)));
    }
    auto config = build.config;  // keeps the option nodes alive with the job
    auto make_chain = [entries, config]() {
      Result<transforms::Chain> chain = transforms::build_chain(entries);
      return chain ? std::move(*chain) : transforms::Chain();
    };
    return std::make_unique<RecordSyncJob>(std::move(options), std::move(make_chain));
  };
  return kind;
}

}  // namespace

void register_record_sync(engine::Registry& registry) {
  const KindDefaults kinds[] = {
      {"database", false, "Replicates tables from a database to databases: snapshot, then changes.",
       30, 1000, "DATABASE"},
      {"cache", false, "Keeps caches in step with a record source.", 20, 50, "CACHE"},
      {"messages", true, "Moves records between message systems and databases.", 15, 100,
       "MESSAGES"},
      {"search", false, "Keeps search indexes in step with a record source.", 25, 500, "SEARCH"},
  };
  for (const KindDefaults& defaults : kinds) {
    registry.add_job_kind(make_kind(defaults));
  }
}

}  // namespace megasync::sync::records
