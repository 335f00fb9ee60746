// The SQLite store under concurrent writers, across reconnection, and shared
// with a second connection (as `megasync status` shares the daemon's file).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "state/sqlite_store.h"
#include "state/tests/test_support.h"

namespace megasync::state {
namespace {

constexpr int kThreads = 4;
constexpr int kWritesPerThread = 500;

TEST(SqliteDurability, ConcurrentWritersAllLand) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  auto opened = open_sqlite_store(path);
  ASSERT_TRUE(opened) << opened.error().message();
  StateStore& store = **opened;

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, &failures, t] {
      std::string job = "job" + std::to_string(t);
      for (int i = 0; i < kWritesPerThread; ++i) {
        if (!store.put_checkpoint(job, "target" + std::to_string(i % 10), std::to_string(i))) {
          ++failures;
        }
        EventRecord event;
        event.type = "sync.completed";
        event.job = job;
        event.data = {{"i", i}};
        if (!store.append_event(event)) {
          ++failures;
        }
        // Readers interleave with writers on the same connection.
        if (i % 50 == 0 && !store.list_events(EventQuery{0, "sync.*", job, 10})) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);

  for (int t = 0; t < kThreads; ++t) {
    std::string job = "job" + std::to_string(t);
    auto checkpoints = store.list_checkpoints(job);
    ASSERT_TRUE(checkpoints);
    ASSERT_EQ(checkpoints->size(), 10u);
    for (const Checkpoint& checkpoint : *checkpoints) {
      // The last write to target<k> was i = 490 + k.
      int k = std::stoi(checkpoint.target.substr(6));
      EXPECT_EQ(checkpoint.position, std::to_string(kWritesPerThread - 10 + k));
    }
    auto events = store.list_events(EventQuery{0, "", job, 10'000});
    ASSERT_TRUE(events);
    EXPECT_EQ(events->size(), static_cast<std::size_t>(kWritesPerThread));
  }
  EXPECT_EQ(query_raw(path, "SELECT COUNT(*) FROM events"),
            std::to_string(kThreads * kWritesPerThread));
}

TEST(SqliteDurability, DataSurvivesCloseAndReopen) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  std::int64_t run_id = 0;
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error().message();
    ASSERT_TRUE((*store)->put_checkpoint("orders", "backup", "0/16B3748"));
    RunRecord run;
    run.job = "orders";
    run.trigger = "api";
    auto id = (*store)->begin_run(run);
    ASSERT_TRUE(id);
    run_id = *id;
    ASSERT_TRUE((*store)->append_audit({0, {}, "cli", "job.trigger", "orders", "ok", ""}));
  }
  // Closing the last connection checkpoints the WAL into the main file.
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));

  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store) << store.error().message();
  auto checkpoint = (*store)->get_checkpoint("orders", "backup");
  ASSERT_TRUE(checkpoint && *checkpoint);
  EXPECT_EQ((*checkpoint)->position, "0/16B3748");
  // A restart finds the run the previous process left running.
  auto closed = (*store)->close_interrupted_runs("interrupted");
  ASSERT_TRUE(closed);
  EXPECT_EQ(*closed, 1);
  auto runs = (*store)->list_runs("orders", 10);
  ASSERT_TRUE(runs && runs->size() == 1);
  EXPECT_EQ((*runs)[0].id, run_id);
  EXPECT_EQ((*runs)[0].outcome, Outcome::kFailed);
  auto audit = (*store)->list_audit(10);
  ASSERT_TRUE(audit && audit->size() == 1);
  EXPECT_EQ((*audit)[0].action, "job.trigger");
}

TEST(SqliteDurability, SecondConnectionSeesCommittedWrites) {
  TempDir dir;
  std::string path = dir.file("megasync.db");
  auto daemon = open_sqlite_store(path);
  ASSERT_TRUE(daemon) << daemon.error().message();
  auto status = open_sqlite_store(path);
  ASSERT_TRUE(status) << status.error().message();

  ASSERT_TRUE((*daemon)->put_checkpoint("orders", "backup", "lsn/1"));
  auto seen = (*status)->get_checkpoint("orders", "backup");
  ASSERT_TRUE(seen && *seen) << (seen ? "none" : seen.error().message());
  EXPECT_EQ((*seen)->position, "lsn/1");

  ASSERT_TRUE((*status)->check_writable());
  ASSERT_TRUE((*daemon)->put_checkpoint("orders", "backup", "lsn/2"));
  seen = (*status)->get_checkpoint("orders", "backup");
  ASSERT_TRUE(seen && *seen);
  EXPECT_EQ((*seen)->position, "lsn/2");
}

}  // namespace
}  // namespace megasync::state
