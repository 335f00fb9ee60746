// The nats record source: a JetStream stream read through a durable pull
// consumer with explicit acks.
//
// Each fetched message becomes an upsert Change (core/message.h): collection =
// its subject, key = its Nats-Msg-Id header, else "<stream>:<stream
// sequence>"; headers kept; timestamp from its JetStream metadata. Positions
// are session positions (core/message.h): JetStream redelivers what was not
// acked, so a restart needs no position of its own. The fetched messages of
// batches not yet released are held, and release(position) acks exactly those
// numbered up to the position: nothing is acked before every target confirmed
// it. A held message older than half of ack_wait is marked in progress so the
// server does not redeliver it while the targets are slow; what is held when
// the source closes is nak'ed (redelivered at once to the next run).
//
// Created by NatsEndpoint::open_record_source on the job's thread; used by that
// thread only. Owns its connection.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/nats/service.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::nats {

// The message of a fetched JetStream message (its subject, id, payload,
// headers and timestamp); `stream` and `sequence` come from its metadata.
Message message_of(natsMsg* msg, const std::string& stream, std::uint64_t sequence,
                   std::int64_t timestamp_ns);

class NatsSource : public RecordSource {
 public:
  NatsSource(NatsOptions options, std::string durable)
      : options_(std::move(options)), durable_(std::move(durable)) {}
  ~NatsSource() override;

  // One message_schema per configured subject filter (the stream's subjects
  // when none is configured, known after open(); "<stream>" before).
  Result<std::vector<CollectionSchema>> describe() override;
  // Connects, creates the stream when allowed and missing, creates or updates
  // the durable consumer, binds a pull subscription. The position is not used
  // (see above): a new session starts.
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Acks the held messages numbered up to `durable_everywhere`.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;
  // Messages the consumer has not delivered yet, plus those held.
  Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) override;

 private:
  struct Held {
    std::uint64_t sequence = 0;  // within the session
    natsMsg* msg = nullptr;
    std::chrono::steady_clock::time_point touched;
  };
  Status ensure_consumer();
  void keep_alive();

  NatsOptions options_;
  std::string durable_;
  std::unique_ptr<Connection> connection_;
  natsSubscription* subscription_ = nullptr;
  std::uint64_t session_ = 0;
  std::uint64_t sequence_ = 0;
  std::deque<Held> held_;
  bool warned_disconnected_ = false;
};

}  // namespace megasync::connectors::nats
