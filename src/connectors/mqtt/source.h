// The mqtt record source: subscribes to topic filters with a persistent
// session (fixed client id, clean start off, v5 session expiry) at QoS 1.
//
// Each message received becomes an upsert Change (core/message.h, mapping in
// convert.h): collection = its topic. Positions are session positions
// (core/message.h).
//
// Delivery guarantee (README.md, "Delivery"): libmosquitto 2.0 sends the
// PUBACK of a QoS 1 message before the application sees it and has no manual
// acknowledgement, so the broker forgets a message as soon as it reaches
// megasync. While megasync runs nothing is lost: a broker restart or a lost
// connection is survived by the persistent session (messages not yet read
// are queued by the broker and come after the reconnect), and the messages
// read are held until the targets have them. What megasync has read and not
// yet seen confirmed by every target is lost if megasync stops or crashes at
// that moment: at most `max_unreleased` messages, since no more is read while
// that many are unconfirmed.
//
// Created by MqttEndpoint::open_record_source on the job's thread; used by that
// thread only (libmosquitto's callbacks run inside next(), on that thread).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mqtt/client.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::mqtt {

// The wire form of a received message (its v5 properties read).
WireMessage wire_of(const mosquitto_message* msg, const mosquitto_property* properties);

class MqttSource : public RecordSource {
 public:
  MqttSource(MqttOptions options, std::string client_id)
      : options_(std::move(options)), client_id_(std::move(client_id)) {}

  // One message_schema per configured topic filter.
  Result<std::vector<CollectionSchema>> describe() override;
  // Connects with the persistent session and subscribes. The position is not
  // used (see above): a new session starts.
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Counts the messages up to `durable_everywhere` as confirmed (they were
  // acknowledged to the broker on receipt).
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;
  // The messages received and not yet in a batch.
  Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) override;

 private:
  Status connect(Deadline deadline);

  MqttOptions options_;
  std::string client_id_;
  std::unique_ptr<Connection> connection_;
  bool lost_ = false;
  std::deque<Message> inbox_;  // received, not yet in a batch
  std::uint64_t session_ = 0;
  std::uint64_t sequence_ = 0;  // of the last message put in a batch
  std::uint64_t released_ = 0;  // of the last message every target confirmed
};

}  // namespace megasync::connectors::mqtt
