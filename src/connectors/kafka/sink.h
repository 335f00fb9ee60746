// The kafka record target: an idempotent producer (enable.idempotence,
// acks=all); every change of a batch is a message (core/message.h) produced to
// the topic its MessageTemplate names, with its key, headers (plus
// "message-id" = the message id when absent) and timestamp.
//
// apply_or_reject produces the batch, flushes and waits for every delivery
// report, so the batch is durable in Kafka when it returns. A message Kafka
// refuses for good (too large, unknown topic when auto-create is off, invalid,
// a policy) is returned in `rejected`; a transport error or a timeout fails the
// batch (kRetryable). A fatal error of the idempotent producer drops it; the
// next batch creates a new one.
//
// Created by KafkaEndpoint::open_record_sink; apply runs on the target's thread
// only. librdkafka calls the delivery report callback from rd_kafka_poll /
// rd_kafka_flush, i.e. on that thread.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "connectors/kafka/client.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::kafka {

class KafkaSink : public RecordSink {
 public:
  KafkaSink(KafkaOptions options, MessageTemplate topic)
      : options_(std::move(options)), topic_(std::move(topic)) {}

  // Creates the producer (topics are not created here: the cluster's
  // auto-create decides, else a message to a missing topic is rejected).
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override;

 private:
  Status connect();
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  KafkaOptions options_;
  MessageTemplate topic_;
  Handle producer_;
  // The current batch's delivery reports: change index -> error (0: delivered).
  std::map<std::size_t, rd_kafka_resp_err_t> reports_;
};

}  // namespace megasync::connectors::kafka
