// The target worker applies the stream batches queued behind the one it takes
// as one batch (TargetSettings::merge_changes): in order, up to the limit,
// never snapshot batches nor past a batch with schema changes.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "sync/records/target_worker.h"

namespace megasync::sync::records {
namespace {

struct Applied {
  std::vector<std::int64_t> keys;
  Position end;
  bool snapshot = false;
  std::size_t schema_changes = 0;
};

// Records each apply; the first one waits until the test opens the gate, so
// that the batches pushed meanwhile queue up behind it.
class GatedSink : public RecordSink {
 public:
  Status prepare(const std::vector<CollectionSchema>&) override { return ok(); }
  Status apply(const Batch& batch) override {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    Applied applied{.end = batch.end, .snapshot = batch.snapshot};
    for (const Change& change : batch.changes) {
      applied.keys.push_back(std::get<std::int64_t>(change.key.front()));
    }
    applied.schema_changes = batch.schema_changes.size();
    applies_.push_back(std::move(applied));
    return ok();
  }

  void wait_entered() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  std::vector<Applied> applies() {
    std::lock_guard lock(mutex_);
    return applies_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool open_ = false;
  std::vector<Applied> applies_;
};

std::shared_ptr<const Batch> batch(std::vector<std::int64_t> keys, Position end,
                                   bool snapshot = false, bool schema_change = false) {
  auto out = std::make_shared<Batch>();
  for (std::int64_t key : keys) {
    Change change;
    change.collection = "t";
    change.key = {Value(key)};
    out->changes.push_back(std::move(change));
  }
  out->end = std::move(end);
  out->snapshot = snapshot;
  if (schema_change) {
    out->schema_changes.push_back(SchemaChange{.schema = {.name = "t"}, .added = {"c"}});
  }
  out->bytes = keys.size();
  return out;
}

// Pushes `first`, waits until the sink holds it, pushes `rest`, opens the
// gate and closes the worker: what the sink applied, in order.
std::vector<Applied> run(std::size_t merge_changes, std::shared_ptr<const Batch> first,
                         const std::vector<std::shared_ptr<const Batch>>& rest,
                         std::optional<Position>* durable = nullptr) {
  auto owned = std::make_unique<GatedSink>();
  GatedSink* sink = owned.get();
  TargetWorker worker(TargetSettings{.job = "j", .target = "t", .merge_changes = merge_changes},
                      std::move(owned));
  CancelToken cancel;
  EXPECT_TRUE(worker.push(std::move(first), cancel));
  sink->wait_entered();
  for (const auto& next : rest) {
    EXPECT_TRUE(worker.push(next, cancel));
  }
  sink->open();
  worker.close(/*abandon=*/false);
  EXPECT_FALSE(worker.error().has_value());
  if (durable != nullptr) {
    *durable = worker.durable();
  }
  return sink->applies();
}

TEST(TargetWorkerMerge, QueuedStreamBatchesApplyAsOne) {
  std::optional<Position> durable;
  const std::vector<Applied> applies =
      run(100, batch({1}, "a"), {batch({2, 3}, "b"), batch({4}, "c"), batch({5}, "d")}, &durable);
  ASSERT_EQ(applies.size(), 2u);
  EXPECT_EQ(applies[0].keys, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(applies[1].keys, (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(applies[1].end, "d");
  EXPECT_EQ(durable, Position("d"));
}

TEST(TargetWorkerMerge, MergedBatchesStayWithinTheLimit) {
  const std::vector<Applied> applies =
      run(3, batch({1}, "a"), {batch({2, 3}, "b"), batch({4}, "c"), batch({5}, "d")});
  ASSERT_EQ(applies.size(), 3u);
  EXPECT_EQ(applies[1].keys, (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(applies[1].end, "c");
  EXPECT_EQ(applies[2].keys, (std::vector<std::int64_t>{5}));
}

TEST(TargetWorkerMerge, SnapshotsAndSchemaChangesAreNotMergedPast) {
  const std::vector<Applied> applies =
      run(100, batch({1}, "a"),
          {batch({2}, "", /*snapshot=*/true), batch({3}, "s", /*snapshot=*/true), batch({4}, "e"),
           batch({5}, "f", false, /*schema_change=*/true), batch({6}, "g")});
  ASSERT_EQ(applies.size(), 5u);
  EXPECT_TRUE(applies[1].snapshot);
  EXPECT_TRUE(applies[2].snapshot);
  EXPECT_EQ(applies[3].keys, (std::vector<std::int64_t>{4}));
  // A batch with schema changes may lead a merge: they apply before its changes.
  EXPECT_EQ(applies[4].keys, (std::vector<std::int64_t>{5, 6}));
  EXPECT_EQ(applies[4].schema_changes, 1u);
  EXPECT_EQ(applies[4].end, "g");
}

TEST(TargetWorkerMerge, WithoutALimitEachBatchAppliesAlone) {
  const std::vector<Applied> applies = run(0, batch({1}, "a"), {batch({2}, "b"), batch({3}, "c")});
  ASSERT_EQ(applies.size(), 3u);
}

}  // namespace
}  // namespace megasync::sync::records
