// The target worker's dead letters: rejected changes, changes that fail alone
// while the target works, a target that is down (never dead-lettered), and a
// dead-letter destination that fails (the checkpoint stays).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "engine/endpoint.h"
#include "events/bus.h"
#include "monitor/metrics.h"
#include "state/memory_store.h"
#include "state/state_store.h"
#include "sync/records/target_worker.h"

namespace megasync::sync::records {
namespace {

// What a ScriptedSink did, shared with the test.
struct SinkLog {
  std::mutex mutex;
  std::set<std::int64_t> reject;  // refused for good through apply_or_reject
  std::set<std::int64_t> fail;    // any batch holding one of these fails
  std::atomic<bool> down{false};  // every apply fails, and the probe too
  bool hold = false;              // holds the applied changes uncommitted (a snapshot's open COPY)
  std::vector<std::int64_t> applied;
  std::vector<Change> changes;  // as applied, with meta
  int applies = 0;
  std::vector<bool> snapshot;  // Batch::snapshot of each apply
};

std::int64_t key_of(const Change& change) {
  return std::get<std::int64_t>(change.key.front());
}

// A test target: applies, refuses or fails changes by key, as the log says.
class ScriptedSink : public RecordSink {
 public:
  explicit ScriptedSink(SinkLog* log) : log_(log) {}
  Status prepare(const std::vector<CollectionSchema>&) override { return ok(); }
  bool holds_uncommitted() const override {
    std::lock_guard lock(log_->mutex);
    return log_->hold && !log_->applied.empty();
  }
  Status apply(const Batch& batch) override {
    std::vector<Rejected> rejected;
    return apply_or_reject(batch, rejected);
  }
  Status apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) override {
    std::lock_guard lock(log_->mutex);
    ++log_->applies;
    log_->snapshot.push_back(batch.snapshot);
    if (log_->down) {
      return make_error(ErrorCode::kRetryable, "connection refused");
    }
    for (const Change& change : batch.changes) {
      if (log_->fail.count(key_of(change)) > 0) {
        return make_error(ErrorCode::kPermanent, "value too long for key {}", key_of(change));
      }
    }
    for (std::size_t i = 0; i < batch.changes.size(); ++i) {
      const Change& change = batch.changes[i];
      if (log_->reject.count(key_of(change)) > 0) {
        rejected.push_back({i, Error(ErrorCode::kPermanent, "no route for the message")});
        continue;
      }
      log_->applied.push_back(key_of(change));
      log_->changes.push_back(change);
    }
    return ok();
  }

 private:
  SinkLog* log_;
};

class DeadLetterEndpoint : public engine::Endpoint {
 public:
  explicit DeadLetterEndpoint(SinkLog* log) : log_(log) {}
  std::string type() const override { return "test"; }
  Status probe(Deadline) override { return ok(); }
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest&) override {
    return std::unique_ptr<RecordSink>(std::make_unique<ScriptedSink>(log_));
  }

 private:
  SinkLog* log_;
};

Batch batch_of(std::vector<std::int64_t> keys, const Position& end) {
  Batch batch;
  for (std::int64_t key : keys) {
    Change change;
    change.collection = "orders";
    change.key = {key};
    change.fields = {{"payload", Value{Bytes{"p" + std::to_string(key)}}}};
    change.meta = {{"header:trace", "t" + std::to_string(key)}};
    batch.changes.push_back(std::move(change));
  }
  batch.end = end;
  return batch;
}

class DeadLetterWorkerTest : public ::testing::Test {
 protected:
  // Runs one worker over `batches` to the end; returns its error, if any.
  std::optional<Error> run(std::vector<Batch> batches, int after,
                           std::shared_ptr<engine::Endpoint> endpoint = nullptr) {
    DeadLetterSettings dead{
        .after = after,
        .endpoint_name = endpoint ? "dlq" : "",
        .endpoint = endpoint,
        .schemas = {CollectionSchema{
            .name = "orders", .columns = {{"id", ColumnType::kInteger}}, .primary_key = {"id"}}},
        .probe = [this]() -> Status {
          if (target_.down) {
            return make_error(ErrorCode::kRetryable, "connection refused");
          }
          return ok();
        },
        .backoff = std::chrono::milliseconds(0),
        .events = &bus_,
        .metrics = &metrics_};
    TargetWorker worker(TargetSettings{.job = "orders",
                                       .target = "rabbit",
                                       .store = store_.get(),
                                       .dead_letters = std::move(dead)},
                        std::make_unique<ScriptedSink>(&target_));
    CancelSource cancel;
    for (Batch& batch : batches) {
      worker.push(std::make_shared<const Batch>(std::move(batch)), cancel.token());
    }
    worker.close(/*abandon=*/false);
    return worker.error();
  }

  std::vector<state::DeadLetter> letters() {
    auto listed = store_->list_dead_letters({.job = "orders"});
    EXPECT_TRUE(listed);
    return listed.value_or(std::vector<state::DeadLetter>{});
  }
  std::string checkpoint() {
    auto checkpoint = store_->get_checkpoint("orders", "rabbit");
    return checkpoint && *checkpoint ? (*checkpoint)->position : "";
  }
  double dead_letters_total() {
    return metrics_.counter("megasync_dead_letters_total", "", {"job", "target"})
        .with({"orders", "rabbit"})
        .value();
  }

  std::unique_ptr<state::StateStore> store_ = state::open_memory_store();
  events::Bus bus_{store_.get()};
  monitor::MetricsRegistry metrics_;
  SinkLog target_;
};

TEST_F(DeadLetterWorkerTest, RejectedChangeIsStoredAndTheBatchCheckpointed) {
  target_.reject = {2};
  EXPECT_FALSE(run({batch_of({1, 2, 3}, "005"), batch_of({4}, "006")}, /*after=*/0));
  EXPECT_EQ(target_.applied, (std::vector<std::int64_t>{1, 3, 4}));
  auto dead = letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].target, "rabbit");
  EXPECT_EQ(dead[0].attempts, 1);
  EXPECT_EQ(dead[0].error, "no route for the message");
  EXPECT_EQ(dead[0].change.key, std::vector<Value>{Value{std::int64_t{2}}});
  EXPECT_EQ(dead[0].change.fields.at("payload"), Value{Bytes{"p2"}});
  EXPECT_EQ(dead[0].change.meta.at("header:trace"), "t2");
  ASSERT_TRUE(dead[0].schema);
  EXPECT_EQ(dead[0].schema->primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(checkpoint(), "006");
  EXPECT_EQ(dead_letters_total(), 1);
  state::EventQuery query;
  query.type = "sync.dead_letter";
  auto events = store_->list_events(query);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].endpoint, "rabbit");
  EXPECT_EQ((*events)[0].data["key"], "2");
  EXPECT_EQ((*events)[0].data["attempts"], 1);
  EXPECT_EQ((*events)[0].data["destination"], "state store");
  EXPECT_FALSE((*events)[0].data.contains("payload"));
}

TEST_F(DeadLetterWorkerTest, ChangeFailingAloneIsDeadLetteredAfterNAttempts) {
  target_.fail = {2};
  EXPECT_FALSE(run({batch_of({1, 2, 3}, "005"), batch_of({4}, "006")}, /*after=*/3));
  EXPECT_EQ(target_.applied, (std::vector<std::int64_t>{1, 3, 4}));
  auto dead = letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attempts, 3);
  EXPECT_EQ(dead[0].error, "value too long for key 2");
  EXPECT_EQ(checkpoint(), "006");
  // The batch, then 1 alone, 2 alone three times, 3 alone, then batch 006.
  EXPECT_EQ(target_.applies, 7);
}

TEST_F(DeadLetterWorkerTest, SingleChangeBatchCountsAsItsFirstAttempt) {
  target_.fail = {7};
  EXPECT_FALSE(run({batch_of({7}, "001")}, /*after=*/2));
  auto dead = letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attempts, 2);
  EXPECT_EQ(target_.applies, 2);
  EXPECT_EQ(checkpoint(), "001");
}

TEST_F(DeadLetterWorkerTest, TargetDownNeverDeadLetters) {
  target_.down = true;
  std::optional<Error> error = run({batch_of({1, 2}, "002")}, /*after=*/3);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message().find("connection refused"), std::string::npos);
  EXPECT_TRUE(letters().empty());
  EXPECT_EQ(checkpoint(), "");
  EXPECT_EQ(target_.applies, 1);  // the probe failed: no change was tried alone
}

TEST_F(DeadLetterWorkerTest, TargetRefusingEveryChangeFailsTheBatch) {
  target_.fail = {1, 2, 3};
  std::optional<Error> error = run({batch_of({1, 2, 3}, "003")}, /*after=*/2);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message().find("none applied"), std::string::npos) << error->message();
  EXPECT_TRUE(letters().empty());
  EXPECT_EQ(checkpoint(), "");
}

TEST_F(DeadLetterWorkerTest, FailureWithEarlierBatchesUncommittedFailsWithoutIsolating) {
  // The first snapshot batch went into a COPY the sink keeps open; the second
  // fails, and takes the first with it: isolating its changes would leave
  // the first batch's lost, so the worker fails (the snapshot starts again).
  target_.hold = true;
  target_.fail = {5};
  Batch first = batch_of({1, 2, 3}, "");
  Batch second = batch_of({4, 5}, "");
  first.snapshot = second.snapshot = true;
  std::optional<Error> error = run({std::move(first), std::move(second)}, /*after=*/3);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message().find("the snapshot starts again"), std::string::npos)
      << error->message();
  EXPECT_NE(error->message().find("value too long for key 5"), std::string::npos);
  EXPECT_EQ(target_.applies, 2);
  EXPECT_TRUE(letters().empty());
  EXPECT_EQ(dead_letters_total(), 0);
}

TEST_F(DeadLetterWorkerTest, ChangesOfASnapshotBatchAreAppliedAloneAsStreamChanges) {
  // So that each is committed when it returns (a sink may hold snapshot
  // batches uncommitted until the snapshot's last).
  target_.fail = {2};
  Batch batch = batch_of({1, 2, 3}, "");
  batch.snapshot = true;
  EXPECT_FALSE(run({std::move(batch)}, /*after=*/1));
  EXPECT_EQ(target_.applied, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(target_.snapshot, (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(letters().size(), 1u);
}

TEST_F(DeadLetterWorkerTest, WithoutDeadLetterAfterAFailingBatchFailsAsBefore) {
  target_.fail = {2};
  std::optional<Error> error = run({batch_of({1, 2, 3}, "003")}, /*after=*/0);
  ASSERT_TRUE(error);
  EXPECT_TRUE(letters().empty());
  EXPECT_EQ(checkpoint(), "");
  EXPECT_TRUE(target_.applied.empty());
}

TEST_F(DeadLetterWorkerTest, DeadLetterEndpointGetsTheChangeWithHeaders) {
  SinkLog dlq;
  target_.reject = {2};
  EXPECT_FALSE(run({batch_of({1, 2}, "002")}, 0, std::make_shared<DeadLetterEndpoint>(&dlq)));
  EXPECT_TRUE(letters().empty());
  ASSERT_EQ(dlq.changes.size(), 1u);
  const Change& sent = dlq.changes[0];
  EXPECT_EQ(key_of(sent), 2);
  EXPECT_EQ(sent.meta.at("header:trace"), "t2");
  EXPECT_EQ(sent.meta.at("header:x-megasync-error"), "no route for the message");
  EXPECT_EQ(sent.meta.at("header:x-megasync-attempts"), "1");
  EXPECT_EQ(sent.meta.at("header:x-megasync-target"), "rabbit");
  EXPECT_EQ(sent.meta.at("header:x-megasync-job"), "orders");
  EXPECT_EQ(checkpoint(), "002");
}

TEST_F(DeadLetterWorkerTest, FailingDeadLetterTargetKeepsTheCheckpoint) {
  SinkLog dlq;
  dlq.down = true;
  target_.reject = {2};
  std::optional<Error> error =
      run({batch_of({1, 2}, "002")}, 0, std::make_shared<DeadLetterEndpoint>(&dlq));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message().find("dead-letter target dlq"), std::string::npos) << error->message();
  EXPECT_EQ(checkpoint(), "");
  EXPECT_EQ(dead_letters_total(), 0);
}

}  // namespace
}  // namespace megasync::sync::records
