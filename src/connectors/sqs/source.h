// The sqs record source: ReceiveMessage on each configured queue (up to 10
// messages a call, with the endpoint's visibility_timeout, all message and
// system attributes), several receives per next() to fill the batch, long
// polling (WaitTimeSeconds up to 20, never past the run's deadline) only when
// every queue came back empty. Messages are converted as convert.h says.
//
// Each received message's receipt handle is held until release(): once
// every target confirmed a batch, its messages are deleted with
// DeleteMessageBatch (10 a call). Nothing is deleted before. A message whose
// visibility timeout ran out before it was deleted (a cycle slower than
// visibility_timeout, a crash) is delivered again, and so is one a delete
// did not reach: at-least-once, the targets drop the duplicates by id.
//
// Positions are session positions (core/message.h): the session of this
// open() and the number of the delivery within it. A position of an earlier
// session is void (its receipt handles are gone; SQS redelivers those
// messages once their visibility timeout ends), so open() ignores
// resume_after.
//
// "Caught up" (next() returning no batch) means every queue answered empty
// and every delivery of the session was released; while deliveries wait for
// release(), next() returns an empty batch ending at the last one instead, so
// that a run that stops once caught up does not stop before deleting them.
//
// Created by SqsEndpoint::open_record_source on the job's thread; used by that
// thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/sqs/api.h"
#include "core/record_source.h"

namespace megasync::connectors::sqs {

class SqsSource : public RecordSource {
 public:
  explicit SqsSource(SqsOptions options);

  // One message collection per queue (its name); resolves each queue's URL
  // (creating it when `create`): a missing queue is kInvalidConfig naming it.
  Result<std::vector<CollectionSchema>> describe() override;
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Deletes every message of this session up to the position; a position of
  // an earlier session releases nothing.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;

 private:
  struct Queue {
    std::string name;  // the topic
    std::string url;
  };
  struct Held {
    std::uint64_t sequence = 0;
    std::size_t queue = 0;  // in queues_
    std::string receipt_handle;
  };

  Status resolve();
  // One ReceiveMessage on queue `q`; appends to `batch`. Returns how many came.
  Result<std::size_t> receive(std::size_t q, std::size_t max, int wait_seconds, Batch& batch);
  // DeleteMessageBatch for `held` (one queue, at most 10).
  void remove(std::size_t q, const std::vector<Held>& held);

  SqsOptions options_;
  std::unique_ptr<SqsApi> api_;
  std::vector<Queue> queues_;
  std::uint64_t session_ = 0;
  std::uint64_t delivered_ = 0;  // the last delivery number of this session
  std::deque<Held> held_;        // received, not yet deleted, in delivery order
  std::size_t next_queue_ = 0;   // where the next long poll goes (round robin)
};

}  // namespace megasync::connectors::sqs
