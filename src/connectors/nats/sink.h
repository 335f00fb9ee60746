// The nats record target: every change of a batch is a message (core/
// message.h) published to the subject its MessageTemplate names.
//
// JetStream (jetstream: true): published asynchronously with Nats-Msg-Id = the
// message id, then the batch waits for every PubAck, so a batch is durable in
// its streams when apply returns; a redelivered message is dropped by the
// stream's duplicate window. A message the server refuses for good (no stream
// takes its subject, larger than allowed, a stream limit) is returned in
// `rejected`; a lost connection or a PubAck not received in time fails the
// batch (kRetryable). Core NATS (jetstream: false): published, then one flush
// (the server received them; at most once beyond that).
//
// Created by NatsEndpoint::open_record_sink; apply runs on the target's thread
// only. cnats calls on_pub_error from its own thread: `failures_` is guarded.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "connectors/nats/service.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::nats {

class NatsSink : public RecordSink {
 public:
  // Connects; `subject` is the parsed subject template.
  static Result<std::unique_ptr<NatsSink>> open(const NatsOptions& options,
                                                MessageTemplate subject);
  // Closes the connection first: cnats' threads may call on_pub_error until then.
  ~NatsSink() override { connection_.reset(); }

  // Creates the target `stream` when create_stream is set and it is missing.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override;

 private:
  NatsSink(NatsOptions options, MessageTemplate subject)
      : options_(std::move(options)), subject_(std::move(subject)) {}
  static void on_pub_error(jsCtx* js, jsPubAckErr* error, void* closure);
  // The message to publish for `change` (subject, headers, payload); nullptr
  // with `why` set when it cannot be built.
  natsMsg* build(const Change& change, std::string& subject, std::string& why);

  NatsOptions options_;
  MessageTemplate subject_;
  std::unique_ptr<Connection> connection_;

  struct Failure {
    natsStatus status = NATS_OK;
    int code = 0;  // JetStream error code, 0 when none
    std::string text;
  };
  std::mutex mutex_;
  std::map<const natsMsg*, std::size_t> in_flight_;  // published message -> change index
  std::map<std::size_t, Failure> failures_;          // by change index
};

}  // namespace megasync::connectors::nats
