// The sqs record target: each message of a batch sent with SendMessageBatch
// (10 a call, and no more than max_message_bytes a call) to the queue the
// `queue` template names (its URL looked up once with GetQueueUrl; created
// when `create`). Calls go one after the other; apply returns once SQS
// accepted every message (SQS stores a message durably before it answers).
//
// FIFO queues (name ending in .fifo): MessageGroupId is the message's key,
// else the endpoint's message_group_id; MessageDeduplicationId is the message
// id, so that a batch sent again after a crash or a failed call is dropped by
// SQS within its 5-minute deduplication window.
//
// Refused for good, named in `rejected` (the job dead-letters them): what
// to_entry() refuses (too large, too many attributes, FIFO without a group
// id: convert.h), a delete or other non-message change, and an entry SQS
// answers in Failed[] with SenderFault=true. An entry failed with
// SenderFault=false, throttling, a 5xx or a lost connection fail the whole
// batch as retryable (the job sends it again: a standard queue may then hold
// duplicates, which a reader drops by the message-id attribute). A missing
// queue fails the batch, naming it.
//
// Created by SqsEndpoint::open_record_sink; used by the target's thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "connectors/sqs/api.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::sqs {

class SqsSink : public RecordSink {
 public:
  SqsSink(SqsOptions options, MessageTemplate queue);

  // Looks up the queue when the template names a single one (fails early when
  // it is missing); others are looked up on first use.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  // apply_or_reject for an engine that does not dead-letter: each refused
  // message is logged (error) and dropped; the others are applied.
  Status apply(const Batch& batch) override;
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override;

 private:
  Result<std::string> url_of(const std::string& queue);

  SqsOptions options_;
  MessageTemplate queue_;
  std::unique_ptr<SqsApi> api_;
  std::map<std::string, std::string> urls_;  // queue name -> URL
};

}  // namespace megasync::connectors::sqs
