#include "connectors/postgres/endpoint.h"

#include <fmt/format.h>

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
      std::make_unique<PostgresSink>(std::move(*connection), request));
}

Result<std::unique_ptr<RecordReader>> PostgresEndpoint::open_record_reader() {
  Result<std::unique_ptr<Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  return std::unique_ptr<RecordReader>(std::make_unique<PostgresReader>(std::move(*connection)));
}

}  // namespace megasync::connectors::postgres
