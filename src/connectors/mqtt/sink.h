// The mqtt record target: every change of a batch is a message (core/
// message.h, mapping in convert.h) published at the endpoint's QoS (1 by
// default) to the topic its MessageTemplate names.
//
// A batch is published whole (pipelined: libmosquitto keeps up to
// max_inflight messages, and the broker's receive maximum, unacknowledged),
// then apply waits for every PUBACK, so a batch is with the broker when apply
// returns. A message the broker refuses for good (a v5 PUBACK reason of 0x80
// or more: not authorized, topic name invalid, packet too large, ...) or one
// that cannot be published at all (a topic name with a wildcard, a packet
// larger than the broker's maximum) is returned in `rejected`; a lost
// connection or a PUBACK not received within publish_timeout fails the batch
// (kRetryable), and the next batch connects again. With QoS 0 a batch is done
// once written (at most once).
//
// Created by MqttEndpoint::open_record_sink; used by the target's thread only
// (libmosquitto's callbacks run inside apply, on that thread).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "connectors/mqtt/client.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::mqtt {

class MqttSink : public RecordSink {
 public:
  MqttSink(MqttOptions options, MessageTemplate topic)
      : options_(std::move(options)), topic_(std::move(topic)) {}

  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override;

 private:
  Status ensure_connected();

  MqttOptions options_;
  MessageTemplate topic_;
  std::unique_ptr<Connection> connection_;
  std::map<int, std::size_t> pending_;  // message id -> change index, awaiting PUBACK
  std::map<std::size_t, int> refused_;  // change index -> v5 reason code
};

}  // namespace megasync::connectors::mqtt
