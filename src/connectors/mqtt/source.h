// The mqtt record source: subscribes to topic filters with a persistent
// session (fixed client id, clean start off, v5 session expiry) at QoS 1.
//
// Each message received becomes an upsert Change (core/message.h, mapping in
// convert.h): collection = its topic. Positions are session positions
// (core/message.h).
//
// Delivery: at least once, across kill -9 (README.md, "Delivery"). The
// source speaks MQTT itself (receiver.h: no client library lets the PUBACK
// wait) and acknowledges a QoS 1 message only in release(), once every
// target has it, in the order the PUBLISHes came. What was not acknowledged
// when megasync stops, crashes or loses the connection, the broker's
// persistent session sends again (DUP set) after the reconnect.
//
// Packet ids are valid on one connection only: every connection starts a new
// session of positions (core/message.h) and forgets the acknowledgements it
// held for the previous one (those messages come again), so a release() of
// an older connection's position acknowledges nothing of the new one.
//
// "Caught up" (next() returning no batch): MQTT cannot ask how many messages
// the broker queues for the session, so it means 300 ms without a message,
// even when asked to return at once, with every message released. While
// acknowledgements are held (the broker's in-flight window may be full, and
// it then sends nothing more), next() returns an empty batch ending at the
// last message instead, so that a run that stops once caught up (`megasync
// sync`) reads the whole queue.
//
// Created by MqttEndpoint::open_record_source on the job's thread; used by
// that thread only (the receiver is driven inside next() and release()).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mqtt/client.h"
#include "connectors/mqtt/receiver.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::mqtt {

// The wire form of a received PUBLISH.
WireMessage wire_of(const Publish& publish);

class MqttSource : public RecordSource {
 public:
  MqttSource(MqttOptions options, std::string client_id)
      : options_(std::move(options)), client_id_(std::move(client_id)) {}
  ~MqttSource() override;

  // One message_schema per configured topic filter.
  Result<std::vector<CollectionSchema>> describe() override;
  // Connects with the persistent session and subscribes. The position is not
  // used (see above): a new session starts.
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Acknowledges (PUBACK) the QoS 1 messages up to `durable_everywhere`, when
  // it is a position of the current connection.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;
  // The messages received and not yet in a batch.
  Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) override;

 private:
  // A message received, not yet in a batch.
  struct Received {
    Message message;
    std::uint64_t connection = 0;  // connection_ when it came
    std::uint16_t packet_id = 0;   // QoS 1: to acknowledge; 0: QoS 0
  };
  // A QoS 1 message in a batch, not yet acknowledged.
  struct Held {
    std::uint64_t sequence = 0;
    std::uint16_t packet_id = 0;
  };

  // Connects (a new connection: new session of positions) and subscribes.
  Status connect(Deadline deadline);
  void drop_connection(const Error& why);

  MqttOptions options_;
  std::string client_id_;
  std::unique_ptr<Receiver> receiver_;
  std::uint64_t connection_ = 0;  // connections made so far
  SteadyTime retry_at_{};         // the next connection attempt, after a failure
  std::chrono::milliseconds backoff_{0};
  std::deque<Received> inbox_;
  std::deque<Held> held_;  // in receive order (PUBACKs must follow it)
  std::uint64_t session_ = 0;
  std::uint64_t sequence_ = 0;  // of the last message put in a batch
  std::uint64_t released_ = 0;  // of the last message every target confirmed
};

}  // namespace megasync::connectors::mqtt
