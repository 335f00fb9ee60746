// The `sqlite` endpoint: one SQLite database file.
//
// Created by the registry from an endpoint's config; shared by the jobs that use
// it. Each user opens its own connection (SQLite connections are not shared
// across threads here), so the endpoint holds only the path and options.
#pragma once

#include <string>

#include "core/duration.h"
#include "engine/endpoint.h"

namespace megasync::connectors::sqlite {

struct SqliteOptions {
  std::string path;  // absolute
  bool create = false;
  Duration busy_timeout = std::chrono::seconds(5);
};

class SqliteEndpoint : public engine::Endpoint {
 public:
  explicit SqliteEndpoint(SqliteOptions options) : options_(std::move(options)) {}

  std::string type() const override { return "sqlite"; }
  // Ok when the file opens as a SQLite database and answers a query.
  Status probe(Deadline deadline) override;
  // A trigger-based change capture over the requested tables (source.h). Fails
  // when the file is missing or a table is missing or has no PRIMARY KEY.
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  // Upserts into tables of this file (sink.h); creates the file when `create`.
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;
  // Reads tables of this file for verification (reader.h); a missing file with
  // `create` reads as empty.
  Result<std::unique_ptr<RecordReader>> open_record_reader() override;
  const SqliteOptions& options() const { return options_; }

 private:
  SqliteOptions options_;
};

}  // namespace megasync::connectors::sqlite
