// The `rabbitmq` endpoint: one RabbitMQ broker (AMQP 0-9-1, rabbitmq-c 0.11).
// As a record source it consumes queues (source.h); as a target it publishes
// to an exchange with publisher confirms (sink.h). Messages travel as
// core/message.h describes.
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, source, sinks) opens its own
// connection; the endpoint holds only the settings, so probe() is safe to call
// from the monitor thread.
#pragma once

#include "connectors/rabbitmq/service.h"
#include "core/message.h"
#include "engine/endpoint.h"

namespace megasync::connectors::rabbitmq {

class RabbitEndpoint : public engine::Endpoint {
 public:
  RabbitEndpoint(RabbitOptions options, MessageTemplate routing_key)
      : options_(std::move(options)), routing_key_(std::move(routing_key)) {}

  std::string type() const override { return "rabbitmq"; }
  // Connects, logs in and opens a channel before `deadline`.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;

 private:
  RabbitOptions options_;
  MessageTemplate routing_key_;
};

}  // namespace megasync::connectors::rabbitmq
