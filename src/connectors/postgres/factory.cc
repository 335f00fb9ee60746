// Registers the `postgres` endpoint type.
#include "connectors/postgres/endpoint.h"
#include "connectors/register.h"

namespace megasync::connectors {

void register_postgres(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "postgres";
  type.schema.description = "A PostgreSQL database (libpq).";
  type.schema.options = {
      OptionSpec{.name = "url",
                 .type = OptionType::kString,
                 .description = "A libpq connection string or postgresql:// URL; when set, the "
                                "other connection options are not used.",
                 .secret = true},
      OptionSpec{.name = "host",
                 .type = OptionType::kString,
                 .description = "Server host name or address.",
                 .default_value = "127.0.0.1"},
      OptionSpec{.name = "port",
                 .type = OptionType::kInt,
                 .description = "Server port.",
                 .default_value = "5432",
                 .min = 1,
                 .max = 65535},
      OptionSpec{.name = "user", .type = OptionType::kString, .description = "Role to connect as."},
      OptionSpec{.name = "password",
                 .type = OptionType::kString,
                 .description = "Password of the role (use ${VAR} interpolation).",
                 .secret = true},
      OptionSpec{.name = "database", .type = OptionType::kString, .description = "Database name."},
      OptionSpec{.name = "sslmode",
                 .type = OptionType::kString,
                 .description = "libpq sslmode.",
                 .default_value = "prefer",
                 .choices = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
      OptionSpec{.name = "snapshot",
                 .type = OptionType::kObject,
                 .description = "The initial copy of a record source's tables.",
                 .default_value = "{}",
                 .fields = {OptionSpec{.name = "parallelism",
                                       .type = OptionType::kInt,
                                       .description = "Connections copying the tables at once, "
                                                      "each a range of pages of a table.",
                                       .default_value = "2",
                                       .min = 1,
                                       .max = 64},
                            OptionSpec{.name = "chunk_pages",
                                       .type = OptionType::kInt,
                                       .description = "The smallest range of a table's pages "
                                                      "copied as one piece (8 KiB pages).",
                                       .default_value = "1024",
                                       .min = 1}}},
      OptionSpec{.name = "on_slot_lost",
                 .type = OptionType::kString,
                 .description = "When a job's replication slot is missing (dropped, or lost in a "
                                "failover): fail the job, or take a fresh snapshot.",
                 .default_value = "fail",
                 .choices = {"fail", "resnapshot"}},
      OptionSpec{.name = "catch_up",
                 .type = OptionType::kString,
                 .description = "How a job catches up after a stop: replay every change the slot "
                                "kept, or resync (a fresh snapshot replaces the targets' rows) "
                                "when the slot's WAL since the checkpoint outweighs the job's "
                                "tables.",
                 .default_value = "replay",
                 .choices = {"replay", "resync"}},
      OptionSpec{.name = "resync_above",
                 .type = OptionType::kBytes,
                 .description = "With catch_up: resync, a smaller backlog is replayed whatever "
                                "the tables' size (a replay of it takes seconds).",
                 .default_value = "64MiB"},
      OptionSpec{.name = "resync_clear",
                 .type = OptionType::kString,
                 .description = "As a target, how a resync empties its tables before the "
                                "snapshot's rows go in: delete (readers see the old rows until "
                                "it commits) or truncate (faster; readers of those tables wait "
                                "for the commit).",
                 .default_value = "delete",
                 .choices = {"delete", "truncate"}},
      OptionSpec{.name = "slot_lag_alert",
                 .type = OptionType::kBytes,
                 .description = "Emit source.lag_high when a job's slot retains more WAL than "
                                "this (not yet applied by every target); 0 turns it off.",
                 .default_value = "1GiB"},
      OptionSpec{.name = "mode",
                 .type = OptionType::kString,
                 .description = "How the record source reads changes: cdc (logical replication; "
                                "the role needs REPLICATION) or poll (rows whose cursor_column "
                                "moved past the last one read; deletes arrive with the job's "
                                "periodic verification).",
                 .default_value = "cdc",
                 .choices = {"cdc", "poll"}},
      OptionSpec{.name = "cursor_column",
                 .type = OptionType::kString,
                 .description = "mode poll: the column every insert and update advances "
                                "(updated_at timestamp, or an integer version), in every table "
                                "of the job."},
      OptionSpec{.name = "poll_overlap",
                 .type = OptionType::kDuration,
                 .description = "mode poll, timestamp cursors: each run re-reads the rows this "
                                "far before the last cursor value read, for rows committed late "
                                "with an older value; 0 turns it off.",
                 .default_value = "1m"},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    postgres::PostgresOptions options;
    if (o.has("url")) {
      options.url = o.string("url");
    } else if (!o.has("database")) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: set database (and host, port, user, password), or url",
                        endpoint.name);
    }
    options.host = o.string("host");
    options.port = static_cast<int>(o.integer("port"));
    if (o.has("user")) {
      options.user = o.string("user");
    }
    if (o.has("password")) {
      options.password = o.string("password");
    }
    if (o.has("database")) {
      options.database = o.string("database");
    }
    options.sslmode = o.string("sslmode");
    options.snapshot_parallelism = static_cast<int>(o.object("snapshot").integer("parallelism"));
    options.snapshot_chunk_pages = o.object("snapshot").integer("chunk_pages");
    options.resnapshot_on_slot_lost = o.string("on_slot_lost") == "resnapshot";
    options.slot_lag_alert = static_cast<std::int64_t>(o.bytes("slot_lag_alert"));
    options.resync_catch_up = o.string("catch_up") == "resync";
    options.resync_above = static_cast<std::int64_t>(o.bytes("resync_above"));
    options.resync_truncate = o.string("resync_clear") == "truncate";
    options.mode = o.string("mode");
    if (o.has("cursor_column")) {
      options.poll.cursor_column = o.string("cursor_column");
    }
    options.poll.overlap = o.duration("poll_overlap");
    if (options.mode == "poll" && options.poll.cursor_column.empty()) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: mode: poll needs cursor_column, the column every insert "
                        "and update advances (e.g. cursor_column: updated_at)",
                        endpoint.name);
    }
    if (options.mode != "poll" && o.has("cursor_column")) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: cursor_column is used only with mode: poll (set mode: "
                        "poll, or remove cursor_column)",
                        endpoint.name);
    }
    return std::make_shared<postgres::PostgresEndpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
