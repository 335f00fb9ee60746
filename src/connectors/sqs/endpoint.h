// The `sqs` endpoint: queues of Amazon SQS or an SQS-compatible service,
// spoken to with the SQS JSON protocol over libcurl, signed with SigV4
// (api.h). As a record source it receives from queues and deletes what every
// target confirmed (source.h); as a target it sends in batches (sink.h).
// Messages travel as core/message.h describes, converted as convert.h says.
//
// Created by the registry from an endpoint's config (factory.cc); shared by
// the jobs that use it. Holds only the settings: each user (probe, source,
// sinks) has its own client, so probe() is safe to call from the monitor
// thread.
#pragma once

#include "connectors/sqs/api.h"
#include "core/message.h"
#include "engine/endpoint.h"

namespace megasync::connectors::sqs {

class SqsEndpoint : public engine::Endpoint {
 public:
  SqsEndpoint(SqsOptions options, MessageTemplate queue)
      : options_(std::move(options)), queue_(std::move(queue)) {}

  std::string type() const override { return "sqs"; }
  // ListQueues (one result) before `deadline`: reachable, and the credentials
  // are accepted.
  Status probe(Deadline deadline) override;
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override;
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest& request) override;

 private:
  SqsOptions options_;
  MessageTemplate queue_;
};

}  // namespace megasync::connectors::sqs
