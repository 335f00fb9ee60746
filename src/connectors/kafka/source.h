// The kafka record source: a consumer group subscribed to `topics` (names or
// ^regex), offsets committed only in release().
//
// Each message becomes an upsert Change (core/message.h): collection = its
// topic; id = its id header ("message-id", then "id", or `id_header`), else
// "<topic>:<partition>:<offset>"; key, headers and timestamp kept. Positions
// are session positions (core/message.h): the group's committed offsets are
// the resume point, so a restart needs no position of its own. The (topic,
// partition, offset) of every message handed out is held until
// release(position), which commits synchronously, per partition, the offset
// after the highest released message: nothing is committed before every target
// confirmed it (enable.auto.commit and enable.auto.offset.store are off).
// After a restart or a rebalance the group resumes from the committed offsets;
// what was delivered but not committed comes again (at-least-once).
//
// "Caught up" (next() returning no batch) means every assigned partition
// reported its end (enable.partition.eof) with no message since; for 20 s after
// open() next() waits for that (the group's assignment and first fetch take a
// moment) rather than report caught up early.
//
// Created by KafkaEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns its consumer.
#pragma once

#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/kafka/client.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::kafka {

class KafkaSource : public RecordSource {
 public:
  KafkaSource(KafkaOptions options, std::string group)
      : options_(std::move(options)), group_(std::move(group)) {}
  ~KafkaSource() override;

  // One message_schema per configured topic (pattern).
  Result<std::vector<CollectionSchema>> describe() override;
  // Creates the consumer and subscribes; the position is not used (see above).
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Commits the held messages numbered up to `durable_everywhere`.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;

 private:
  struct Held {
    std::uint64_t sequence = 0;  // within the session
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
  };
  Message message_of(const rd_kafka_message_t& m) const;
  // Every assigned partition reached its end (no message since).
  bool caught_up() const;

  KafkaOptions options_;
  std::string group_;
  Handle consumer_;
  std::uint64_t session_ = 0;
  std::uint64_t sequence_ = 0;
  std::deque<Held> held_;
  std::set<std::pair<std::string, std::int32_t>> at_end_;  // partitions at their end
  SteadyTime settle_until_{};
};

}  // namespace megasync::connectors::kafka
