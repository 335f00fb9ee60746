// The rabbitmq record source: basic.consume with manual acks on each
// configured queue (one channel, prefetch `prefetch`), deliveries gathered
// into batches of messages (convert.h), acknowledged only in release().
//
// Positions are session positions (core/message.h): the session of the
// current connection and the delivery tag, which is channel-wide and grows
// with each delivery, so that release() acks everything up to a batch's end
// with one basic.ack(multiple). A position of an earlier session (an earlier
// connection or process) is void: the broker redelivers what that session did
// not ack, so nothing is lost and nothing needs resuming (open() ignores
// resume_after).
//
// "Caught up" (next() returning no batch) means no delivery came for 200 ms,
// even when asked to return at once, every delivery of the session was
// released, and the queues report no message ready (a passive queue.declare
// each). Otherwise next() returns an empty batch ending at the last delivery
// instead, so that a run that stops once caught up does not stop early: while
// deliveries wait for release() the prefetch window may be full (the broker
// then sends nothing), and a queue with messages on disk may take longer than
// 200 ms to push them. A queue reporting ready messages that never come (a
// single-active-consumer queue another consumer holds) counts as caught up
// after 10 s, with a warning.
//
// Connection loss: next() drops the connection and connects again, waiting
// 0.5 s, 1 s, 2 s ... 30 s between attempts and returning no batch
// meanwhile; after 60 s without a connection it returns the error (the job
// then reports it and retries).
//
// Created by RabbitEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns its connection.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/rabbitmq/service.h"
#include "core/record_source.h"

namespace megasync::connectors::rabbitmq {

class RabbitSource : public RecordSource {
 public:
  explicit RabbitSource(RabbitOptions options) : options_(std::move(options)) {}

  // One message collection per queue; checks that each exists (declares it
  // when `declare`).
  Result<std::vector<CollectionSchema>> describe() override;
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Acks (multiple) up to the position's delivery tag when it belongs to the
  // current session; otherwise nothing (those messages come again).
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;

 private:
  // Connects, sets the prefetch and starts a consumer on each queue.
  Status connect(Deadline deadline);
  // Drops the connection after `error` and schedules the next attempt.
  void lost(const Error& error);
  // Whether the queues hold messages ready for delivery (a passive
  // queue.declare each); false once they have for kUndeliveredGiveUp without
  // a delivery, or when the connection is lost meanwhile.
  bool messages_ready();

  RabbitOptions options_;
  std::unique_ptr<Connection> connection_;
  std::uint64_t session_ = 0;
  std::uint64_t acked_ = 0;                       // the last tag acked in this session
  std::uint64_t delivered_ = 0;                   // the last tag received in this session
  std::map<std::string, std::string> consumers_;  // consumer tag -> queue
  std::optional<SteadyTime> undelivered_since_;   // ready messages seen, none delivered
  // Reconnection.
  std::chrono::milliseconds backoff_{0};
  SteadyTime retry_at_{};
  std::optional<SteadyTime> down_since_;
};

}  // namespace megasync::connectors::rabbitmq
