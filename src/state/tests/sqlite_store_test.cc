// The StateStore operations of the SQLite store, on a file with a fake clock.
#include "state/sqlite_store.h"

#include <gtest/gtest.h>

#include "state/sqlite_store_internal.h"
#include "state/tests/test_support.h"

namespace megasync::state {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

WallTime at(std::int64_t millis) {
  return WallTime(milliseconds(millis));
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOpenOptions options;
    options.clock = [this] { return now_; };
    auto opened = open_sqlite_store(path_, options);
    ASSERT_TRUE(opened) << opened.error().message();
    store_ = std::move(*opened);
  }

  std::int64_t add_event(const std::string& type, const std::string& job, WallTime time) {
    EventRecord event;
    event.type = type;
    event.job = job;
    event.time = time;
    auto id = store_->append_event(event);
    EXPECT_TRUE(id) << id.error().message();
    return id.value_or(0);
  }

  std::vector<std::int64_t> event_ids(const EventQuery& query) {
    auto events = store_->list_events(query);
    EXPECT_TRUE(events) << events.error().message();
    std::vector<std::int64_t> ids;
    for (const EventRecord& event : events.value_or(std::vector<EventRecord>{})) {
      ids.push_back(event.id);
    }
    return ids;
  }

  std::int64_t begin(const std::string& job, WallTime started_at) {
    RunRecord run;
    run.job = job;
    run.trigger = "schedule";
    run.started_at = started_at;
    auto id = store_->begin_run(run);
    EXPECT_TRUE(id) << id.error().message();
    return id.value_or(0);
  }

  TempDir dir_;
  std::string path_ = dir_.file("megasync.db");
  WallTime now_ = at(1'700'000'000'000);
  std::unique_ptr<StateStore> store_;
};

TEST(Outcome, RoundTripsEveryValue) {
  for (Outcome outcome : {Outcome::kRunning, Outcome::kSucceeded, Outcome::kFailed,
                          Outcome::kTimedOut, Outcome::kCancelled}) {
    EXPECT_EQ(outcome_from_string(to_string(outcome)), outcome);
  }
  EXPECT_EQ(to_string(Outcome::kTimedOut), "timed_out");
  EXPECT_EQ(outcome_from_string("done"), std::nullopt);
}

TEST_F(SqliteStoreTest, CheckpointPutGetOverwriteListDelete) {
  auto missing = store_->get_checkpoint("orders", "backup");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);

  ASSERT_TRUE(store_->put_checkpoint("orders", "backup", "lsn/1"));
  ASSERT_TRUE(store_->put_checkpoint("orders", "", "job-wide"));
  ASSERT_TRUE(store_->put_checkpoint("users", "backup", "offset/9"));
  now_ += hours(1);
  ASSERT_TRUE(store_->put_checkpoint("orders", "backup", "lsn/2"));

  auto got = store_->get_checkpoint("orders", "backup");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->position, "lsn/2");
  EXPECT_EQ((*got)->updated_at, now_);

  auto orders = store_->list_checkpoints("orders");
  ASSERT_TRUE(orders);
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ((*orders)[0].target, "");
  EXPECT_EQ((*orders)[1].target, "backup");
  auto all = store_->list_checkpoints("");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);

  // An empty position deletes that one checkpoint.
  ASSERT_TRUE(store_->put_checkpoint("orders", "", ""));
  auto erased = store_->get_checkpoint("orders", "");
  ASSERT_TRUE(erased);
  EXPECT_FALSE(*erased);
  ASSERT_TRUE(store_->put_checkpoint("orders", "", "job-wide"));

  ASSERT_TRUE(store_->delete_checkpoints("orders"));
  orders = store_->list_checkpoints("orders");
  ASSERT_TRUE(orders);
  EXPECT_TRUE(orders->empty());
  auto users = store_->get_checkpoint("users", "backup");
  ASSERT_TRUE(users && *users);
  EXPECT_EQ((*users)->position, "offset/9");
}

TEST_F(SqliteStoreTest, ObjectIndexPutReplaceRemoveAndForget) {
  auto empty = store_->load_object_index("files", "bucket");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());

  const WallTime mtime = WallTime(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  ASSERT_TRUE(store_->update_object_index(
      "files", "bucket",
      {{"a/b.txt", "\"etag-1\"", 10, mtime, "ab12"}, {"c d.bin", "\"etag-2\"", 0, mtime, ""}}, {}));
  ASSERT_TRUE(store_->update_object_index("files", "other", {{"x", "e", 1, mtime, ""}}, {}));
  ASSERT_TRUE(store_->update_object_index("logs", "bucket", {{"y", "e", 1, mtime, ""}}, {}));
  // Replace one, remove the other (and an unknown path), in one call.
  ASSERT_TRUE(store_->update_object_index(
      "files", "bucket", {{"a/b.txt", "\"etag-3\"", 11, mtime, ""}}, {"c d.bin", "never"}));

  auto index = store_->load_object_index("files", "bucket");
  ASSERT_TRUE(index);
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ((*index)[0].path, "a/b.txt");
  EXPECT_EQ((*index)[0].etag, "\"etag-3\"");
  EXPECT_EQ((*index)[0].size, 11u);
  EXPECT_EQ((*index)[0].mtime, mtime);  // to the nanosecond
  EXPECT_EQ((*index)[0].sha256, "");

  // Forgetting a job's checkpoints forgets its index, and only its own.
  ASSERT_TRUE(store_->delete_checkpoints("files"));
  EXPECT_TRUE(store_->load_object_index("files", "bucket")->empty());
  EXPECT_TRUE(store_->load_object_index("files", "other")->empty());
  EXPECT_EQ(store_->load_object_index("logs", "bucket")->size(), 1u);
}

TEST_F(SqliteStoreTest, RunsBeginFinishAndListNewestFirst) {
  std::int64_t first = begin("orders", at(1000));
  std::int64_t second = begin("users", at(2000));
  std::int64_t third = begin("orders", at(3000));
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);

  RunRecord finished;
  finished.id = first;
  finished.job = "orders";
  finished.outcome = Outcome::kSucceeded;
  finished.finished_at = at(1500);
  finished.attempts = 2;
  finished.records = 120;
  finished.bytes = 4096;
  ASSERT_TRUE(store_->finish_run(finished));

  auto orders = store_->list_runs("orders", 10);
  ASSERT_TRUE(orders) << orders.error().message();
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ((*orders)[0].id, third);
  EXPECT_EQ((*orders)[0].outcome, Outcome::kRunning);
  EXPECT_FALSE((*orders)[0].finished_at);
  const RunRecord& done = (*orders)[1];
  EXPECT_EQ(done.id, first);
  EXPECT_EQ(done.trigger, "schedule");
  EXPECT_EQ(done.started_at, at(1000));
  EXPECT_EQ(done.finished_at, at(1500));
  EXPECT_EQ(done.outcome, Outcome::kSucceeded);
  EXPECT_EQ(done.attempts, 2);
  EXPECT_EQ(done.records, 120);
  EXPECT_EQ(done.bytes, 4096);

  auto all = store_->list_runs("", 2);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, third);
  EXPECT_EQ((*all)[1].id, second);
  // A limit below 1 is clamped to 1, not "no limit" and not an error.
  all = store_->list_runs("", 0);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(SqliteStoreTest, FinishingAnUnknownRunIsNotFound) {
  RunRecord run;
  run.id = 999;
  run.job = "orders";
  run.outcome = Outcome::kFailed;
  auto finished = store_->finish_run(run);
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(finished.error().message().find("finish run 999 of orders"), std::string::npos);
}

TEST_F(SqliteStoreTest, FinishWithoutTimeUsesTheClock) {
  RunRecord run;
  run.id = begin("orders", at(1000));
  run.outcome = Outcome::kCancelled;
  ASSERT_TRUE(store_->finish_run(run));
  auto runs = store_->list_runs("orders", 1);
  ASSERT_TRUE(runs && runs->size() == 1);
  EXPECT_EQ((*runs)[0].finished_at, now_);
  EXPECT_EQ((*runs)[0].outcome, Outcome::kCancelled);
}

TEST_F(SqliteStoreTest, CloseInterruptedRunsMarksOnlyRunningOnesFailed) {
  std::int64_t done = begin("orders", at(1000));
  begin("orders", at(2000));
  begin("users", at(3000));
  RunRecord finished;
  finished.id = done;
  finished.outcome = Outcome::kSucceeded;
  finished.finished_at = at(1100);
  ASSERT_TRUE(store_->finish_run(finished));

  auto closed = store_->close_interrupted_runs("interrupted: megasync stopped during the run");
  ASSERT_TRUE(closed) << closed.error().message();
  EXPECT_EQ(*closed, 2);
  auto runs = store_->list_runs("", 10);
  ASSERT_TRUE(runs && runs->size() == 3);
  for (const RunRecord& run : *runs) {
    if (run.id == done) {
      EXPECT_EQ(run.outcome, Outcome::kSucceeded);
      EXPECT_EQ(run.error, "");
    } else {
      EXPECT_EQ(run.outcome, Outcome::kFailed);
      EXPECT_EQ(run.finished_at, now_);
      EXPECT_EQ(run.error, "interrupted: megasync stopped during the run");
    }
  }
  closed = store_->close_interrupted_runs("again");
  ASSERT_TRUE(closed);
  EXPECT_EQ(*closed, 0);
}

TEST_F(SqliteStoreTest, EventsRoundTripAndFilter) {
  EventRecord event;
  event.type = "endpoint.down";
  event.severity = "error";
  event.job = "orders";
  event.endpoint = "pg_backup";
  event.time = at(5000);
  event.data = {{"reason", "connection refused"}, {"attempt", 3}, {"nested", {1, 2}}};
  auto id = store_->append_event(event);
  ASSERT_TRUE(id) << id.error().message();

  std::int64_t sync_orders = add_event("sync.completed", "orders", at(6000));
  std::int64_t sync_users = add_event("sync.failed", "users", at(7000));
  std::int64_t other = add_event("syncx.odd", "orders", at(8000));
  std::int64_t wild = add_event("sync_%.literal", "", at(9000));

  auto events = store_->list_events(EventQuery{});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 5u);
  const EventRecord& stored = events->back();
  EXPECT_EQ(stored.id, *id);
  EXPECT_EQ(stored.type, "endpoint.down");
  EXPECT_EQ(stored.severity, "error");
  EXPECT_EQ(stored.job, "orders");
  EXPECT_EQ(stored.endpoint, "pg_backup");
  EXPECT_EQ(stored.time, at(5000));
  EXPECT_EQ(stored.data, event.data);

  using Ids = std::vector<std::int64_t>;
  EXPECT_EQ(event_ids({0, "", "", 100}), (Ids{wild, other, sync_users, sync_orders, *id}));
  // Paging forward from a cursor: oldest first, so a small limit misses nothing.
  EXPECT_EQ(event_ids({sync_orders, "", "", 100}), (Ids{sync_users, other, wild}));
  EXPECT_EQ(event_ids({sync_orders, "", "", 1}), (Ids{sync_users}));
  EXPECT_EQ(event_ids({0, "sync.*", "", 100}), (Ids{sync_users, sync_orders}));
  EXPECT_EQ(event_ids({0, "sync*", "", 100}), (Ids{wild, other, sync_users, sync_orders}));
  EXPECT_EQ(event_ids({0, "sync_%*", "", 100}), (Ids{wild}));
  EXPECT_EQ(event_ids({0, "*", "", 100}).size(), 5u);
  EXPECT_EQ(event_ids({0, "sync.completed", "", 100}), (Ids{sync_orders}));
  EXPECT_EQ(event_ids({0, "sync.", "", 100}), Ids{});
  EXPECT_EQ(event_ids({0, "", "orders", 100}), (Ids{other, sync_orders, *id}));
  EXPECT_EQ(event_ids({0, "sync.*", "orders", 100}), (Ids{sync_orders}));
  EXPECT_EQ(event_ids({sync_orders, "sync.*", "orders", 100}), Ids{});
  EXPECT_EQ(event_ids({0, "", "", 2}), (Ids{wild, other}));
  EXPECT_EQ(event_ids({0, "", "", -5}), (Ids{wild}));
}

TEST_F(SqliteStoreTest, EventDataWithInvalidUtf8IsStoredNotThrown) {
  EventRecord event;
  event.type = "sync.failed";
  event.data = {{"error", std::string("bad \xff byte")}};
  auto id = store_->append_event(event);
  ASSERT_TRUE(id) << id.error().message();
  auto events = store_->list_events(EventQuery{});
  ASSERT_TRUE(events && events->size() == 1);
  EXPECT_TRUE((*events)[0].data["error"].is_string());
}

TEST_F(SqliteStoreTest, AuditAppendAndListNewestFirst) {
  ASSERT_TRUE(store_->append_audit(
      {0, at(1000), "ops-token", "job.trigger", "orders", "ok", "10.0.0.7:51234"}));
  ASSERT_TRUE(store_->append_audit({0, at(2000), "cli", "config.reload", "", "denied", ""}));
  auto audit = store_->list_audit(10);
  ASSERT_TRUE(audit) << audit.error().message();
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].action, "config.reload");
  EXPECT_EQ((*audit)[0].outcome, "denied");
  const AuditRecord& first = (*audit)[1];
  EXPECT_GT((*audit)[0].id, first.id);
  EXPECT_EQ(first.time, at(1000));
  EXPECT_EQ(first.actor, "ops-token");
  EXPECT_EQ(first.target, "orders");
  EXPECT_EQ(first.remote, "10.0.0.7:51234");
  audit = store_->list_audit(1);
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->size(), 1u);
}

TEST_F(SqliteStoreTest, PruneByAge) {
  add_event("sync.completed", "orders", at(1000));
  add_event("sync.completed", "orders", at(2000));
  std::int64_t kept = add_event("sync.completed", "orders", at(3000));
  std::int64_t old_done = begin("orders", at(1000));
  std::int64_t old_running = begin("orders", at(1000));
  std::int64_t recent = begin("orders", at(5000));
  RunRecord finished;
  finished.id = old_done;
  finished.outcome = Outcome::kSucceeded;
  finished.finished_at = at(1200);
  ASSERT_TRUE(store_->finish_run(finished));

  auto deleted = store_->prune(at(3000), 0, at(4000));
  ASSERT_TRUE(deleted) << deleted.error().message();
  EXPECT_EQ(*deleted, 3);
  EXPECT_EQ(event_ids({0, "", "", 100}), std::vector<std::int64_t>{kept});
  auto runs = store_->list_runs("", 100);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, recent);
  EXPECT_EQ((*runs)[1].id, old_running);
}

TEST_F(SqliteStoreTest, PruneByCountKeepsTheNewestAndNeverReusesIds) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(add_event("sync.completed", "orders", at(10'000 + i)));
  }
  auto deleted = store_->prune(at(0), 4, at(0));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 6);
  EXPECT_EQ(event_ids({0, "", "", 100}),
            (std::vector<std::int64_t>{ids[9], ids[8], ids[7], ids[6]}));
  deleted = store_->prune(at(0), 4, at(0));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 0);

  // Even with every event pruned, a client paging with after_id sees new ones.
  ASSERT_TRUE(store_->prune(at(20'000), 0, at(0)));
  std::int64_t next = add_event("sync.completed", "orders", at(30'000));
  EXPECT_GT(next, ids[9]);
  EXPECT_EQ(event_ids({ids[9], "", "", 100}), std::vector<std::int64_t>{next});
}

TEST_F(SqliteStoreTest, CheckWritableSucceedsRepeatedly) {
  EXPECT_TRUE(store_->check_writable());
  EXPECT_TRUE(store_->check_writable());
  EXPECT_NE(query_raw(path_, "SELECT value FROM meta WHERE key = 'heartbeat'"), "");
}

// Root ignores file permissions, so a chmod 0444 file would still be written;
// a read-only connection is what a read-only file or mount looks like to SQLite.
TEST_F(SqliteStoreTest, CheckWritableFailsOnAReadOnlyStore) {
  ASSERT_TRUE(store_->put_checkpoint("orders", "backup", "lsn/7"));
  SqliteOpenOptions options;
  options.read_only = true;
  auto reader = open_sqlite_store(path_, options);
  ASSERT_TRUE(reader) << reader.error().message();

  auto writable = (*reader)->check_writable();
  ASSERT_FALSE(writable);
  EXPECT_EQ(writable.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(writable.error().message().find("state store " + path_ + ": check writable: "),
            std::string::npos)
      << writable.error().message();
  EXPECT_NE(writable.error().message().find("read-only"), std::string::npos);

  auto put = (*reader)->put_checkpoint("orders", "backup", "lsn/8");
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message().find("put checkpoint orders/backup"), std::string::npos);
  auto got = (*reader)->get_checkpoint("orders", "backup");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->position, "lsn/7");
}

}  // namespace
}  // namespace megasync::state
