// The redis_streams record target: every change of a batch is a message
// (core/message.h) appended (XADD) to the stream its MessageTemplate names,
// with fields payload, key (when it has one), id (the message id) and one per
// header; MAXLEN ~ N when configured.
//
// A batch is one pipeline: every XADD is sent, then every reply read, so a
// batch costs one round trip and is in Redis (durable as its persistence
// settings make it) when apply returns. An entry Redis refuses (WRONGTYPE: the
// key is not a stream; another permanent error reply) is returned in
// `rejected`; a lost connection fails the batch (kRetryable) and the next
// batch reconnects.
//
// Created by StreamsEndpoint::open_record_sink; apply runs on the target's
// thread only. Owns its connection.
#pragma once

#include <memory>
#include <vector>

#include "connectors/redis/service.h"
#include "connectors/redis_streams/options.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::redis_streams {

// The XADD arguments for `message` into `stream` (pure, for tests).
std::vector<std::string> xadd_args(const StreamsOptions& options, const std::string& stream,
                                   const Message& message);

class StreamsSink : public RecordSink {
 public:
  StreamsSink(StreamsOptions options, MessageTemplate stream)
      : options_(std::move(options)), stream_(std::move(stream)) {}

  // Nothing to create: XADD creates a stream with its first entry.
  Status prepare(const std::vector<CollectionSchema>&) override { return ok(); }
  Status apply(const Batch& batch) override;
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override;

 private:
  Status connect();

  StreamsOptions options_;
  MessageTemplate stream_;
  std::unique_ptr<redis::Connection> connection_;
};

}  // namespace megasync::connectors::redis_streams
