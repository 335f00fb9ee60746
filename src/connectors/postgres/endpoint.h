// The `postgres` endpoint: one PostgreSQL database, reached with libpq.
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, and later sources, sinks and readers)
// opens its own connection; the endpoint holds only the connection settings.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "connectors/postgres/poll_source.h"
#include "engine/endpoint.h"

namespace megasync::connectors::postgres {

class Connection;  // service.h

struct PostgresOptions {
  // Either a whole conninfo / postgresql:// URL, or the parts below.
  std::string url;
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string user;
  std::string password;
  std::string database;
  std::string sslmode = "prefer";
  // As a record source.
  int snapshot_parallelism = 2;
  std::int64_t snapshot_chunk_pages = 1024;
  bool resnapshot_on_slot_lost = false;
  bool resync_catch_up = false;  // catch_up: resync
  std::int64_t resync_above = std::int64_t{64} << 20;
  std::int64_t slot_lag_alert = std::int64_t{1} << 30;
  // As a record sink: a resync clears the tables with TRUNCATE rather than
  // DELETE (resync_clear: truncate).
  bool resync_truncate = false;
  // How the record source reads changes: "cdc" (logical replication, source.h)
  // or "poll" (a cursor column, poll_source.h, for roles without REPLICATION).
  std::string mode = "cdc";
  PollSettings poll;  // mode "poll" only
};

// The libpq conninfo string for `options` (key='value' pairs, quoted).
std::string conninfo(const PostgresOptions& options);

class PostgresEndpoint : public engine::Endpoint {
 public:
  explicit PostgresEndpoint(PostgresOptions options) : options_(std::move(options)) {}

  std::string type() const override { return "postgres"; }
  // Connects before `deadline` and runs SELECT 1; the error says what failed
  // (authentication, database missing, server down) without the password.
  Status probe(Deadline deadline) override;
  // Change data capture by logical replication (source.h), or with mode
  // "poll" by a cursor column (poll_source.h).
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  // Applies batches to tables of this database (sink.h).
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;
  // Reads tables for verification (reader.h).
  Result<std::unique_ptr<RecordReader>> open_record_reader() override;
  // Replication origins and last-writer-wins upserts (README "Bidirectional
  // pairs"); not in `mode: poll`, which cannot tell its own writes apart.
  bool pairs_bidirectionally() const override { return options_.mode != "poll"; }
  // The job's replication slots (its own and a pair's reverse one) in this
  // database, with the WAL each retains; release_job drops them (ending the
  // walsender still attached to one), their publications and the job's rows
  // in _megasync_checkpoints.
  Result<std::vector<std::string>> retained_for(const std::string& job) override;
  Status release_job(const std::string& job) override;

  const PostgresOptions& options() const { return options_; }

 private:
  // A connection for a source, sink or reader (the probe uses its own deadline).
  Result<std::unique_ptr<Connection>> connect() const;
  static constexpr auto kConnectTimeout = std::chrono::seconds(30);

  PostgresOptions options_;
};

}  // namespace megasync::connectors::postgres
