// The `kafka` endpoint: a Kafka cluster reached with librdkafka (C API). As a
// record source it reads topics through a consumer group (source.h); as a
// target it produces messages with an idempotent producer (sink.h).
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, source, sink) creates its own client;
// the endpoint holds only the settings, so probe() is safe to call from the
// monitor thread at any time.
#pragma once

#include "connectors/kafka/client.h"
#include "core/message.h"
#include "engine/endpoint.h"

namespace megasync::connectors::kafka {

class KafkaEndpoint : public engine::Endpoint {
 public:
  KafkaEndpoint(KafkaOptions options, MessageTemplate topic)
      : options_(std::move(options)), topic_(std::move(topic)) {}

  std::string type() const override { return "kafka"; }
  // Fetches the cluster's metadata before `deadline`.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;

 private:
  KafkaOptions options_;
  MessageTemplate topic_;
};

}  // namespace megasync::connectors::kafka
