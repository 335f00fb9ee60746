// The `mariadb` endpoint: one MariaDB (or MySQL) database, reached with
// MariaDB Connector/C.
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, sinks, readers) opens its own
// connection; the endpoint holds only the connection settings.
#pragma once

#include <string>
#include <string_view>

#include "engine/endpoint.h"

namespace megasync::connectors::mariadb {

struct MariadbOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user;
  std::string password;
  std::string database;  // the default database: plain collection names and checkpoints
};

// Fills host, port, user, password and database of `options` from
// `mysql://user:password@host:port/database` (also `mariadb://`; user,
// password and port optional, %XX escapes decoded, a `?query` ignored; IPv6
// hosts in brackets). Fails with kInvalidConfig, never quoting the URL (it
// holds the password), when it is not of that form or names no database.
Status parse_url(std::string_view url, MariadbOptions& options);

class MariadbEndpoint : public engine::Endpoint {
 public:
  explicit MariadbEndpoint(MariadbOptions options) : options_(std::move(options)) {}

  std::string type() const override { return "mariadb"; }
  // Connects before `deadline` and runs SELECT 1; the error says what failed
  // (access denied, unknown database, server down) without the password.
  Status probe(Deadline deadline) override;
  // Applies batches to tables of this server (sink.h).
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;
  // Reads tables for verification (reader.h).
  Result<std::unique_ptr<RecordReader>> open_record_reader() override;

  const MariadbOptions& options() const { return options_; }

 private:
  MariadbOptions options_;
};

}  // namespace megasync::connectors::mariadb
