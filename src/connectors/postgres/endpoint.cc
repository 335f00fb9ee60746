#include "connectors/postgres/endpoint.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "connectors/postgres/poll_source.h"
#include "connectors/postgres/reader.h"
#include "connectors/postgres/service.h"
#include "connectors/postgres/sink.h"
#include "connectors/postgres/source.h"

namespace megasync::connectors::postgres {
namespace {

// A conninfo value: single-quoted, with ' and \ escaped by a backslash.
std::string conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

// The slots (and publications, of the same names) a job's sources create: its
// own, and the reverse flow's of a bidirectional pair.
std::vector<std::string> job_slots(const std::string& job) {
  return {replication_name(job), replication_name(job + "_reverse")};
}

}  // namespace

std::string conninfo(const PostgresOptions& options) {
  if (!options.url.empty()) {
    return options.url;
  }
  std::string out = fmt::format("host={} port={}", conninfo_value(options.host), options.port);
  auto add = [&out](const char* key, const std::string& value) {
    if (!value.empty()) {
      out += fmt::format(" {}={}", key, conninfo_value(value));
    }
  };
  add("user", options.user);
  add("password", options.password);
  add("dbname", options.database);
  add("sslmode", options.sslmode);
  return out;
}

Result<std::unique_ptr<Connection>> PostgresEndpoint::connect() const {
  return Connection::open(conninfo(options_), Deadline::after(kConnectTimeout));
}

Status PostgresEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<Connection>> connection = Connection::open(conninfo(options_), deadline);
  if (!connection) {
    return fail(connection.error());
  }
  return (*connection)->exec("SELECT 1");
}

Result<std::unique_ptr<RecordSource>> PostgresEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  Result<std::unique_ptr<Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  std::unique_ptr<RecordSource> source;
  if (options_.mode == "poll") {
    source = std::make_unique<PostgresPollSource>(std::move(*connection), options_.poll,
                                                  request.collections);
  } else {
    source = std::make_unique<PostgresSource>(
        conninfo(options_), std::move(*connection), request.job, request.collections,
        SourceSettings{.snapshot_parallelism = options_.snapshot_parallelism,
                       .snapshot_chunk_pages = options_.snapshot_chunk_pages,
                       .resnapshot_on_slot_lost = options_.resnapshot_on_slot_lost,
                       .resync_catch_up = options_.resync_catch_up,
                       .resync_above = options_.resync_above,
                       .slot_lag_alert = options_.slot_lag_alert,
                       .skip_origin = request.skip_origin});
  }
  // Fails early on wal_level (CDC), a missing table, one without a key or
  // (poll) without the cursor column.
  if (Result<std::vector<CollectionSchema>> schemas = source->describe(); !schemas) {
    return fail(schemas.error());
  }
  return source;
}

Result<std::unique_ptr<RecordSink>> PostgresEndpoint::open_record_sink(
    const engine::SinkRequest& request) {
  Result<std::unique_ptr<Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  return std::unique_ptr<RecordSink>(
      std::make_unique<PostgresSink>(std::move(*connection), request, options_.resync_truncate));
}

Result<std::unique_ptr<RecordReader>> PostgresEndpoint::open_record_reader() {
  Result<std::unique_ptr<Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  return std::unique_ptr<RecordReader>(std::make_unique<PostgresReader>(std::move(*connection)));
}

Result<std::vector<std::string>> PostgresEndpoint::retained_for(const std::string& job) {
  Result<std::unique_ptr<Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  const std::vector<std::string> slots = job_slots(job);
  Result<Rows> rows =
      (*connection)
          ->query(
              "SELECT slot_name, coalesce(pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), "
              "restart_lsn)), '0 bytes') FROM pg_replication_slots WHERE database = "
              "current_database() "
              "AND slot_name IN ($1, $2) ORDER BY slot_name",
              {slots[0], slots[1]});
  if (!rows) {
    return fail(rows.error().with_context("list replication slots"));
  }
  std::vector<std::string> retained;
  for (int i = 0; i < rows->count(); ++i) {
    retained.push_back(
        fmt::format("replication slot {} (retains {} of WAL)", rows->text(i, 0), rows->text(i, 1)));
  }
  return retained;
}

Status PostgresEndpoint::release_job(const std::string& job) {
  Result<std::unique_ptr<Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  Connection& db = **connection;
  for (const std::string& slot : job_slots(job)) {
    // A walsender may still hold the slot: one a killed daemon left until its
    // connection times out. It is ended, then the drop retried for a while.
    const Deadline deadline = Deadline::after(std::chrono::seconds(10));
    while (true) {
      Result<Rows> dropped = db.query(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 "
          "AND database = current_database() AND active_pid IS NOT NULL",
          {slot});
      if (dropped) {
        dropped = db.query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
            "slot_name = $1 AND database = current_database()",
            {slot});
      }
      if (dropped) {
        break;
      }
      if (deadline.expired() || dropped.error().message().find("is active") == std::string::npos) {
        return fail(dropped.error().with_context(
            fmt::format("drop replication slot {} (drop it yourself: SELECT "
                        "pg_drop_replication_slot('{}'))",
                        slot, slot)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (Status s = db.exec(fmt::format("DROP PUBLICATION IF EXISTS {}", quote_ident(slot))); !s) {
      return fail(s.error().with_context(fmt::format("drop publication {}", slot)));
    }
  }
  Result<Rows> table = db.query("SELECT to_regclass('public._megasync_checkpoints') IS NOT NULL");
  if (!table) {
    return fail(table.error());
  }
  if (table->text(0, 0) == "t") {
    Result<Rows> deleted =
        db.query("DELETE FROM public._megasync_checkpoints WHERE job = $1", {job});
    if (!deleted) {
      return fail(deleted.error().with_context("delete the job's checkpoints"));
    }
  }
  return ok();
}

}  // namespace megasync::connectors::postgres
