// The rabbitmq record target: each message of a batch published to the
// endpoint's exchange with a routing key from the `routing_key` template, on
// a channel in confirm mode (confirm.select); apply returns once the broker
// confirmed every one (for a persistent message to a durable queue: written
// to disk).
//
// A message the broker returns (mandatory, no queue bound for its routing
// key) or nacks is refused for good: apply_or_reject names it in `rejected`
// (the job dead-letters it) and the others count as applied. A lost
// connection, a timeout waiting for confirms, or the broker closing the
// channel (a missing exchange) fails the whole batch; the next apply
// connects again. Checkpoints stay in the state store.
//
// Created by RabbitEndpoint::open_record_sink; used by the target's thread
// only. Owns its connection.
#pragma once

#include <memory>
#include <optional>

#include "connectors/rabbitmq/service.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::rabbitmq {

class RabbitSink : public RecordSink {
 public:
  RabbitSink(RabbitOptions options, MessageTemplate routing_key)
      : options_(std::move(options)), routing_key_(std::move(routing_key)) {}

  // Connects and declares `declare_queues` (durable).
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  // apply_or_reject for an engine that does not dead-letter: each refused
  // message is logged (error) and dropped, so that one unroutable message
  // does not stall the job; the others are applied.
  Status apply(const Batch& batch) override;
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override;

 private:
  // A connection in confirm mode (a new one when there is none or it broke).
  Status ensure_connected();
  Status publish(const Batch& batch, std::vector<Rejected>& rejected);

  RabbitOptions options_;
  MessageTemplate routing_key_;
  std::unique_ptr<Connection> connection_;
  std::uint64_t published_ = 0;  // publish sequence numbers used on this channel
  SteadyTime last_used_{};       // the end of the last publish
};

}  // namespace megasync::connectors::rabbitmq
