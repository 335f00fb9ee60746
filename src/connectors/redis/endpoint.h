// The `redis` endpoint: one Redis server (7.0 or later: PEXPIRETIME), reached
// with hiredis over RESP2. As a record source it reads databases (snapshot,
// then keyspace notifications; source.h); as a target it restores keys
// (sink.h); both can be read for verification (reader.h).
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, source, sinks, readers) opens its own
// connections; the endpoint holds only the settings.
#pragma once

#include "connectors/redis/service.h"
#include "engine/endpoint.h"

namespace megasync::connectors::redis {

class RedisEndpoint : public engine::Endpoint {
 public:
  explicit RedisEndpoint(RedisOptions options) : options_(std::move(options)) {}

  std::string type() const override { return "redis"; }
  // Connects before `deadline` and sends PING; never names the password.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;
  Result<std::unique_ptr<RecordReader>> open_record_reader() override;

 private:
  RedisOptions options_;
};

}  // namespace megasync::connectors::redis
