#include "sync/records/record_sync_job.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "events/bus.h"
#include "state/memory_store.h"
#include "state/state_store.h"

namespace megasync::sync::records {
namespace {

Position pos(int n) {
  return fmt::format("{:03}", n);
}

// A source of `count` batches of one change each; batch 1 is a snapshot batch
// without an end, batch 2 ends the snapshot.
struct SourceLog {
  std::atomic<int> count{10};  // grows while a streaming run reads
  std::atomic<int> reads{0};
  std::mutex mutex;
  std::vector<Position> released;
  std::atomic<int>* applied_by_slow = nullptr;  // for the backpressure check
  int max_ahead = 0;                            // reads minus the changes the slow target applied
  bool prefers_resync = false;
  std::optional<Position> resynced_from;  // open_resync's position
};

constexpr std::chrono::milliseconds kIdleWait{5};

class FakeSource : public RecordSource {
 public:
  explicit FakeSource(SourceLog* log) : log_(log) {}
  Result<std::vector<CollectionSchema>> describe() override {
    CollectionSchema schema;
    schema.name = "t";
    schema.columns = {{.name = "id", .type = ColumnType::kInteger}};
    schema.primary_key = {"id"};
    return std::vector<CollectionSchema>{schema};
  }
  Status open(const std::optional<Position>& resume) override {
    next_ = resume ? std::stoi(*resume) + 1 : 1;
    return ok();
  }
  Result<bool> prefers_resync(const Position&) override { return log_->prefers_resync; }
  // A snapshot of two batches (ids 100 and 101) ending at the last change,
  // then the changes after it.
  Status open_resync(const Position& resume) override {
    log_->resynced_from = resume;
    resync_ = 0;
    next_ = log_->count + 1;
    return ok();
  }
  Result<std::optional<Batch>> next(Deadline until, std::size_t) override {
    if (resync_ < 2) {
      Batch batch;
      Change change;
      change.collection = "t";
      change.key = {std::int64_t{100 + resync_}};
      change.fields["id"] = change.key[0];
      batch.changes.push_back(change);
      batch.snapshot = true;
      batch.end = resync_ == 1 ? pos(log_->count) : Position();
      ++resync_;
      return std::optional<Batch>(std::move(batch));
    }
    if (next_ > log_->count) {
      // As a real source waits for changes (briefly: until may be far off).
      std::this_thread::sleep_until(std::min(until.at(), SteadyClock::now() + kIdleWait));
      return std::optional<Batch>();
    }
    ++log_->reads;
    if (log_->applied_by_slow != nullptr) {
      std::lock_guard lock(log_->mutex);
      log_->max_ahead =
          std::max(log_->max_ahead, log_->reads.load() - log_->applied_by_slow->load());
    }
    Batch batch;
    Change change;
    change.collection = "t";
    change.key = {std::int64_t{next_}};
    change.fields["id"] = std::int64_t{next_};
    batch.changes.push_back(change);
    batch.snapshot = next_ <= 2;
    batch.end = next_ == 1 ? Position() : pos(next_);
    batch.bytes = 10;
    ++next_;
    return std::optional<Batch>(std::move(batch));
  }
  Status release(const Position& position) override {
    std::lock_guard lock(log_->mutex);
    log_->released.push_back(position);
    return ok();
  }
  int compare(const Position& a, const Position& b) const override {
    const int x = a.empty() ? -1 : std::stoi(a);
    const int y = b.empty() ? -1 : std::stoi(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }

 private:
  SourceLog* log_;
  int next_ = 1;
  int resync_ = 2;  // snapshot batches of a resync handed out (2: none pending)
};

struct TargetState {
  std::mutex mutex;
  std::vector<std::int64_t> applied;  // ids, in apply order
  std::atomic<int> applies{0};
  std::atomic<int> changes{0};  // applied
  int fail_at = 0;              // fail the n-th apply (1-based); 0: never
  std::chrono::milliseconds delay{0};
  bool replaces = false;            // can_replace()
  std::vector<bool> replace_flags;  // Batch::replace of each batch applied
};

class FakeSink : public RecordSink {
 public:
  explicit FakeSink(TargetState* state) : state_(state) {}
  Status prepare(const std::vector<CollectionSchema>&) override { return ok(); }
  Result<bool> can_replace() override { return state_->replaces; }
  Status apply(const Batch& batch) override {
    std::this_thread::sleep_for(state_->delay);
    std::lock_guard lock(state_->mutex);
    if (state_->fail_at != 0 && state_->applies.load() + 1 == state_->fail_at) {
      return make_error(ErrorCode::kRetryable, "disk full");
    }
    for (const Change& c : batch.changes) {
      state_->applied.push_back(std::get<std::int64_t>(c.key[0]));
    }
    state_->replace_flags.push_back(batch.replace);
    ++state_->applies;
    state_->changes += static_cast<int>(batch.changes.size());
    return ok();
  }

 private:
  TargetState* state_;
};

class FakeEndpoint : public engine::Endpoint {
 public:
  FakeEndpoint(SourceLog* log, TargetState* target) : log_(log), target_(target) {}
  std::string type() const override { return "fake"; }
  Status probe(Deadline) override { return ok(); }
  Result<std::unique_ptr<RecordSource>> open_record_source(const engine::SourceRequest&) override {
    return std::unique_ptr<RecordSource>(std::make_unique<FakeSource>(log_));
  }
  Result<std::unique_ptr<RecordSink>> open_record_sink(const engine::SinkRequest&) override {
    return std::unique_ptr<RecordSink>(std::make_unique<FakeSink>(target_));
  }

 private:
  SourceLog* log_;
  TargetState* target_;
};

class RecordSyncJobTest : public ::testing::Test {
 protected:
  RecordSyncJob make_job(std::size_t queue, Duration stream_for = Duration{0},
                         std::size_t batch_size = 1000) {
    RecordSyncOptions options;
    options.batch_size = batch_size;
    options.stop_when_caught_up = stream_for.count() == 0;
    options.stream_for = stream_for;
    options.job = "orders";
    options.source_name = "src";
    options.source = std::make_shared<FakeEndpoint>(&log_, nullptr);
    options.targets = {{"fast", std::make_shared<FakeEndpoint>(nullptr, &fast_)},
                       {"slow", std::make_shared<FakeEndpoint>(nullptr, &slow_)},
                       {"bad", std::make_shared<FakeEndpoint>(nullptr, &bad_)}};
    options.queue_batches = queue;
    return RecordSyncJob(std::move(options), [] { return transforms::Chain(); });
  }
  Status run(RecordSyncJob& job) {
    engine::RunContext ctx;
    ctx.job = "orders";
    ctx.store = store_.get();
    ctx.progress = &progress_;
    return job.run(ctx);
  }
  std::optional<Position> checkpoint(const std::string& target) {
    auto found = store_->get_checkpoint("orders", target);
    EXPECT_TRUE(found);
    return found && *found ? std::optional<Position>((*found)->position) : std::nullopt;
  }

  SourceLog log_;
  TargetState fast_, slow_, bad_;
  std::unique_ptr<state::StateStore> store_ = state::open_memory_store();
  engine::RunProgress progress_;
};

std::vector<std::int64_t> range(int from, int to) {
  std::vector<std::int64_t> out;
  for (int i = from; i <= to; ++i) {
    out.push_back(i);
  }
  return out;
}

TEST_F(RecordSyncJobTest, FansOutAndCheckpointsEachTarget) {
  RecordSyncJob job = make_job(2);
  ASSERT_TRUE(run(job));
  for (TargetState* t : {&fast_, &slow_, &bad_}) {
    EXPECT_EQ(t->applied, range(1, 10));
  }
  EXPECT_EQ(checkpoint("fast"), pos(10));
  EXPECT_EQ(checkpoint("bad"), pos(10));
  ASSERT_FALSE(log_.released.empty());
  EXPECT_EQ(log_.released.back(), pos(10));
  EXPECT_EQ(progress_.snapshot().per_target["slow"].first, 10);

  // Nothing new: the next run reads nothing and applies nothing.
  ASSERT_TRUE(run(job));
  EXPECT_EQ(fast_.applied.size(), 10u);
}

TEST_F(RecordSyncJobTest, SlowTargetBoundsHowFarTheSourceReadsAhead) {
  slow_.delay = std::chrono::milliseconds(5);
  log_.count = 100;
  log_.applied_by_slow = &slow_.changes;
  // Batches of one change, merged by a target up to 10 × batch_size (10).
  RecordSyncJob job = make_job(2, Duration{0}, /*batch_size=*/1);
  ASSERT_TRUE(run(job));
  EXPECT_EQ(slow_.applied, range(1, 100));
  // At most the queue (2 batches, or more while they hold fewer than 10
  // changes), the merged batch being applied (10), the batch being pushed and
  // the one being read.
  EXPECT_LE(log_.max_ahead, 10 + 10 + 2);
}

TEST_F(RecordSyncJobTest, FailingTargetFailsTheRunAndCatchesUpFromItsOwnCheckpoint) {
  bad_.fail_at = 3;  // batches 1 and 2 (the snapshot) apply, batch 3 fails
  slow_.delay = std::chrono::milliseconds(1);
  RecordSyncJob job = make_job(2);
  Status first = run(job);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(first.error().message().find("target bad"), std::string::npos);
  EXPECT_NE(first.error().message().find("disk full"), std::string::npos);
  EXPECT_EQ(checkpoint("bad"), pos(2));
  // The healthy targets applied everything that was read, in order, and are ahead.
  EXPECT_EQ(fast_.applied, slow_.applied);
  const std::optional<Position> fast_first = checkpoint("fast");
  ASSERT_TRUE(fast_first);
  EXPECT_GE(std::stoi(*fast_first), 3);
  for (const Position& released : log_.released) {
    EXPECT_LE(std::stoi(released), 2);  // never past the failed target
  }

  bad_.fail_at = 0;
  ASSERT_TRUE(run(job));
  EXPECT_EQ(bad_.applied, range(1, 10));
  // The others resumed where they were: nothing applied twice.
  EXPECT_EQ(fast_.applied, range(1, 10));
  EXPECT_EQ(slow_.applied, range(1, 10));
  EXPECT_EQ(checkpoint("bad"), pos(10));
  EXPECT_EQ(log_.released.back(), pos(10));
}

TEST_F(RecordSyncJobTest, ATargetWithoutACheckpointMakesEveryTargetSnapshotAgain) {
  RecordSyncJob job = make_job(4);
  ASSERT_TRUE(run(job));
  ASSERT_TRUE(store_->delete_checkpoints("orders"));
  ASSERT_TRUE(store_->put_checkpoint("orders", "fast", pos(10)));
  ASSERT_TRUE(store_->put_checkpoint("orders", "slow", pos(10)));
  ASSERT_TRUE(run(job));
  EXPECT_EQ(bad_.applied.size(), 20u);
  EXPECT_EQ(fast_.applied.size(), 20u);  // re-applied: harmless, apply is idempotent
}

TEST_F(RecordSyncJobTest, AStreamingRunAppliesWhatArrivesUntilItsWindowEnds) {
  RecordSyncJob job = make_job(2, std::chrono::milliseconds(400));
  std::thread writer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log_.count = 15;  // arrives while the run streams
  });
  const SteadyTime started = SteadyClock::now();
  Status status = run(job);
  writer.join();
  ASSERT_TRUE(status);
  EXPECT_GE(SteadyClock::now() - started, std::chrono::milliseconds(400));
  EXPECT_EQ(fast_.applied, range(1, 15));
  EXPECT_EQ(checkpoint("fast"), pos(15));
}

TEST_F(RecordSyncJobTest, AStreamingRunEndsAtOnceWhenWoundDown) {
  RecordSyncJob job = make_job(2, std::chrono::hours(1));
  engine::RunContext ctx;
  ctx.job = "orders";
  ctx.store = store_.get();
  ctx.deadline = Deadline::after(std::chrono::seconds(30));  // a regression fails, not hangs
  CancelSource wind_down;
  ctx.wind_down = wind_down.token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    wind_down.cancel();
  });
  const SteadyTime started = SteadyClock::now();
  Status status = job.run(ctx);
  stopper.join();
  ASSERT_TRUE(status);  // ended as if caught up, not cancelled
  EXPECT_LT(SteadyClock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(fast_.applied, range(1, 10));
}

TEST_F(RecordSyncJobTest, SyncFromTheCommandLineOfAStreamingJobStopsWhenCaughtUp) {
  RecordSyncJob job = make_job(2, std::chrono::hours(1));
  engine::RunContext ctx;
  ctx.job = "orders";
  ctx.trigger = "cli";
  ctx.store = store_.get();
  ctx.deadline = Deadline::after(std::chrono::seconds(30));  // a regression fails, not hangs
  const SteadyTime started = SteadyClock::now();
  ASSERT_TRUE(job.run(ctx));
  EXPECT_LT(SteadyClock::now() - started, std::chrono::seconds(10));  // not streaming for an hour
  EXPECT_EQ(fast_.applied, range(1, 10));
}

TEST_F(RecordSyncJobTest, ResyncsWhenTheSourcePrefersItAndEveryTargetCanReplace) {
  RecordSyncJob job = make_job(2);
  ASSERT_TRUE(run(job));
  log_.count = 20;
  log_.prefers_resync = true;
  for (TargetState* t : {&fast_, &slow_, &bad_}) {
    t->replaces = true;
    t->replace_flags.clear();
  }
  ASSERT_TRUE(run(job));
  ASSERT_EQ(log_.resynced_from, pos(10));
  for (TargetState* t : {&fast_, &slow_, &bad_}) {
    // The resync's snapshot, marked to replace; none of the replayed changes.
    std::vector<std::int64_t> expected = range(1, 10);
    expected.push_back(100);
    expected.push_back(101);
    EXPECT_EQ(t->applied, expected);
    EXPECT_EQ(t->replace_flags, std::vector<bool>({true, true}));
  }
  EXPECT_EQ(checkpoint("slow"), pos(20));
  EXPECT_EQ(log_.released.back(), pos(20));
}

TEST_F(RecordSyncJobTest, ReplaysWhenATargetCannotReplace) {
  RecordSyncJob job = make_job(2);
  ASSERT_TRUE(run(job));
  log_.count = 20;
  log_.prefers_resync = true;
  fast_.replaces = true;
  bad_.replaces = true;  // slow_ cannot
  ASSERT_TRUE(run(job));
  EXPECT_FALSE(log_.resynced_from);
  EXPECT_EQ(fast_.applied, range(1, 20));
  EXPECT_EQ(std::count(fast_.replace_flags.begin(), fast_.replace_flags.end(), true), 0);
}

TEST_F(RecordSyncJobTest, CancelledRunReturnsCancelled) {
  RecordSyncJob job = make_job(2);
  engine::RunContext ctx;
  ctx.job = "orders";
  ctx.store = store_.get();
  CancelSource cancel;
  cancel.cancel();
  ctx.cancel = cancel.token();
  Status status = job.run(ctx);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kCancelled);
}

// One side of a bidirectional pair: a source and a sink that remember what
// they were asked for; its sink reports one conflict per batch.
class PairEndpoint : public engine::Endpoint {
 public:
  PairEndpoint(SourceLog* log, TargetState* target) : log_(log), target_(target) {}
  std::string type() const override { return "fake"; }
  Status probe(Deadline) override { return ok(); }
  bool pairs_bidirectionally() const override { return true; }
  Result<std::unique_ptr<RecordSource>> open_record_source(
      const engine::SourceRequest& request) override {
    std::lock_guard lock(mutex_);
    source_request_ = request;
    return std::unique_ptr<RecordSource>(std::make_unique<FakeSource>(log_));
  }
  Result<std::unique_ptr<RecordSink>> open_record_sink(
      const engine::SinkRequest& request) override {
    std::lock_guard lock(mutex_);
    sink_request_ = request;
    return std::unique_ptr<RecordSink>(std::make_unique<ConflictingSink>(target_, request));
  }
  engine::SourceRequest source_request() {
    std::lock_guard lock(mutex_);
    return source_request_;
  }
  engine::SinkRequest sink_request() {
    std::lock_guard lock(mutex_);
    return sink_request_;
  }

 private:
  class ConflictingSink : public FakeSink {
   public:
    ConflictingSink(TargetState* state, engine::SinkRequest request)
        : FakeSink(state), request_(std::move(request)) {}
    Status apply(const Batch& batch) override {
      Status s = FakeSink::apply(batch);
      if (s && request_.on_conflicts) {
        request_.on_conflicts({.collection = "t", .count = 1, .samples = {}});
      }
      return s;
    }

   private:
    engine::SinkRequest request_;
  };

  SourceLog* log_;
  TargetState* target_;
  std::mutex mutex_;
  engine::SourceRequest source_request_;
  engine::SinkRequest sink_request_;
};

class PairTest : public ::testing::Test {
 protected:
  RecordSyncJob make_job() {
    RecordSyncOptions options;
    options.job = "orders";
    options.source_name = "a";
    options.source = a_;
    options.targets = {{"b", b_}};
    options.pair = PairOptions{.version_column = "v", .winner = "b"};
    return RecordSyncJob(std::move(options), [] { return transforms::Chain(); });
  }
  Status run(RecordSyncJob& job) {
    engine::RunContext ctx;
    ctx.job = "orders";
    ctx.store = store_.get();
    ctx.events = &bus_;
    return job.run(ctx);
  }
  std::optional<Position> checkpoint(const std::string& target) {
    auto found = store_->get_checkpoint("orders", target);
    EXPECT_TRUE(found);
    return found && *found ? std::optional<Position>((*found)->position) : std::nullopt;
  }

  SourceLog log_a_, log_b_;
  TargetState into_a_, into_b_;
  std::shared_ptr<PairEndpoint> a_ = std::make_shared<PairEndpoint>(&log_a_, &into_a_);
  std::shared_ptr<PairEndpoint> b_ = std::make_shared<PairEndpoint>(&log_b_, &into_b_);
  std::unique_ptr<state::StateStore> store_ = state::open_memory_store();
  events::Bus bus_{nullptr};
};

TEST_F(PairTest, RunsBothDirectionsEachWithItsOwnSlotOriginAndCheckpoint) {
  std::mutex mutex;
  std::vector<std::string> conflicts;  // the endpoints named by sync.conflict events
  bus_.subscribe([&](const state::EventRecord& event) {
    if (event.type == "sync.conflict") {
      std::lock_guard lock(mutex);
      conflicts.push_back(event.endpoint);
    }
  });
  log_b_.count = 5;
  RecordSyncJob job = make_job();
  ASSERT_TRUE(run(job));
  EXPECT_EQ(into_b_.applied, range(1, 10));  // a's changes
  EXPECT_EQ(into_a_.applied, range(1, 5));   // b's changes
  EXPECT_EQ(checkpoint("b"), pos(10));
  EXPECT_EQ(checkpoint("a"), pos(5));

  // Each source skips what the sink writing to its side applied.
  EXPECT_EQ(a_->source_request().job, "orders");
  EXPECT_EQ(a_->source_request().skip_origin, "megasync_orders_a");
  EXPECT_EQ(b_->source_request().job, "orders_reverse");
  EXPECT_EQ(b_->source_request().skip_origin, "megasync_orders_b");
  EXPECT_EQ(a_->sink_request().origin, "megasync_orders_a");
  EXPECT_EQ(b_->sink_request().origin, "megasync_orders_b");
  EXPECT_EQ(b_->sink_request().version_column, "v");
  // b wins ties: what comes from b wins at a, what comes from a loses at b.
  EXPECT_TRUE(a_->sink_request().incoming_wins_ties);
  EXPECT_FALSE(b_->sink_request().incoming_wins_ties);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(std::count(conflicts.begin(), conflicts.end(), "a"), into_a_.applies.load());
    EXPECT_EQ(std::count(conflicts.begin(), conflicts.end(), "b"), into_b_.applies.load());
  }

  // Nothing new on either side: nothing applied.
  ASSERT_TRUE(run(job));
  EXPECT_EQ(into_b_.applied.size(), 10u);
  EXPECT_EQ(into_a_.applied.size(), 5u);
}

TEST_F(PairTest, AFailingDirectionFailsTheRunNamingIt) {
  into_a_.fail_at = 1;
  RecordSyncJob job = make_job();
  Status status = run(job);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message().find("b to a"), std::string::npos) << status.error().message();
  EXPECT_NE(status.error().message().find("disk full"), std::string::npos);
  EXPECT_FALSE(checkpoint("a"));
}

}  // namespace
}  // namespace megasync::sync::records
