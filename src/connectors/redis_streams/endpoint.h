// The `redis_streams` endpoint: Redis streams (Redis 5 or later; 7 for
// SCAN ... TYPE with stream globs) as messages. As a record source it reads
// streams through a consumer group (source.h); as a target it appends to
// streams (sink.h). The connection code is the redis connector's.
//
// Created by the registry from an endpoint's config (factory.cc); shared by
// the jobs that use it. Each user (probe, source, sinks) opens its own
// connection; the endpoint holds only the settings.
#pragma once

#include "connectors/redis_streams/options.h"
#include "core/message.h"
#include "engine/endpoint.h"

namespace megasync::connectors::redis_streams {

class StreamsEndpoint : public engine::Endpoint {
 public:
  StreamsEndpoint(StreamsOptions options, MessageTemplate stream)
      : options_(std::move(options)), stream_(std::move(stream)) {}

  std::string type() const override { return "redis_streams"; }
  // Connects before `deadline` and sends PING; never names the password.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;

  // The consumer group a job reads with: `group`, else "megasync-<job>".
  std::string group_for(const std::string& job) const;

  // The job's own consumer group (not a configured `group`, which the user
  // manages) on each stream the endpoint's `streams` stand for (every stream
  // when it names none), with its entries delivered and not acked; a group
  // keeps those and its place in the stream until it is destroyed.
  Result<std::vector<std::string>> retained_for(const std::string& job) override;
  // XGROUP DESTROY of that group on each of those streams.
  Status release_job(const std::string& job) override;

 private:
  struct JobGroup {
    std::string stream;
    long long pending = 0;  // entries delivered and not acked
  };
  Result<std::unique_ptr<redis::Connection>> connect();
  // The streams holding the consumer group group_for(job).
  Result<std::vector<JobGroup>> job_groups(redis::Connection& connection, const std::string& job);

  StreamsOptions options_;
  MessageTemplate stream_;
};

}  // namespace megasync::connectors::redis_streams
