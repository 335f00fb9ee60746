// The `mqtt` endpoint: an MQTT broker (v5 or 3.1.1). As a record source it
// subscribes to topic filters with a persistent session and acknowledges in
// release() (source.h, with its own client: receiver.h); as a target it
// publishes at QoS 1 with libmosquitto 2.0 and waits for the PUBACKs
// (sink.h). Messages travel as core/message.h describes; the mapping
// to MQTT is in convert.h.
//
// Created by the registry from an endpoint's config (factory.cc); shared by the
// jobs that use it. Each user (probe, source, sinks) opens its own
// connection; the endpoint holds only the settings, so probe() is safe to call
// from the monitor thread.
#pragma once

#include "connectors/mqtt/client.h"
#include "core/message.h"
#include "engine/endpoint.h"

namespace megasync::connectors::mqtt {

class MqttEndpoint : public engine::Endpoint {
 public:
  MqttEndpoint(MqttOptions options, MessageTemplate topic)
      : options_(std::move(options)), topic_(std::move(topic)) {}

  std::string type() const override { return "mqtt"; }
  // Connects (a clean session of its own) and waits for the CONNACK before
  // `deadline`.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;
  // The persistent session a job's source keeps on the broker (only the one
  // named after the job: a configured `client_id` is left to the user).
  Result<std::vector<std::string>> retained_for(const std::string& job) override;
  // Ends that session (the broker drops its subscriptions and queued messages).
  Status release_job(const std::string& job) override;

 private:
  std::string client_id_for(const std::string& job) const;

  MqttOptions options_;
  MessageTemplate topic_;
};

}  // namespace megasync::connectors::mqtt
