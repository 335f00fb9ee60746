// The `nats` endpoint: a NATS server or cluster (2.9 or later, JetStream for
// a source and a JetStream target), reached with cnats. As a record source it
// reads a JetStream stream through a durable pull consumer (source.h); as a
// target it publishes messages (sink.h).
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, source, sinks) opens its own connection;
// the endpoint holds only the settings, so probe() is safe to call from the
// monitor thread at any time.
#pragma once

#include "connectors/nats/service.h"
#include "core/message.h"
#include "engine/endpoint.h"

namespace megasync::connectors::nats {

class NatsEndpoint : public engine::Endpoint {
 public:
  NatsEndpoint(NatsOptions options, MessageTemplate subject)
      : options_(std::move(options)), subject_(std::move(subject)) {}

  std::string type() const override { return "nats"; }
  // Connects before `deadline`, and with a stream configured checks that
  // JetStream has it (or may create it); never names a credential.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;
  // The durable consumer a job's source keeps on the server (only the one
  // named after the job: a configured `durable` is left to the user).
  Result<std::vector<std::string>> retained_for(const std::string& job) override;
  Status release_job(const std::string& job) override;

 private:
  std::string durable_for(const std::string& job) const;

  NatsOptions options_;
  MessageTemplate subject_;
};

}  // namespace megasync::connectors::nats
