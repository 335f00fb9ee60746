// The redis record source: a snapshot of the configured databases (SCAN with
// the key filter, pipelined DUMP + PEXPIRETIME), then the keys that keyspace
// notifications name, each read again (DUMP + PEXPIRETIME) and sent as an
// upsert, or as a delete when it is gone (deleted, expired, evicted).
//
// One collection per database ("db<N>"), the record key is the Redis key, the
// fields are `value` (the DUMP payload, opaque bytes restored by the target)
// and `expire_at` (absolute Unix milliseconds, null when the key does not
// expire), so a late apply never lengthens a key's life.
//
// The notifications are subscribed (PSUBSCRIBE __keyspace@<db>__:*) before
// the snapshot's first SCAN, so a key written during the snapshot is read
// again afterwards. They are not durable: what happens while no session is
// subscribed (between runs, while disconnected, after a restart) is seen by
// the job's comparison after runs, which repairs only the keys that differ
// (sees_deletes() is false for that reason); see README.md "Positions".
//
// Created by RedisEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns two connections (commands, notifications).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/redis/service.h"
#include "core/record_source.h"

namespace megasync::connectors::redis {

// The collections the endpoint's databases give, as a source describes them.
std::vector<CollectionSchema> describe_databases(const std::vector<int>& databases);

// The databases a source endpoint reads.
std::vector<int> source_databases(const RedisOptions& options);

class RedisSource : public RecordSource {
 public:
  RedisSource(RedisOptions options, std::vector<std::string> collection_patterns)
      : options_(std::move(options)), patterns_(std::move(collection_patterns)) {}

  Result<std::vector<CollectionSchema>> describe() override;
  // Checks (and when allowed, turns on) keyspace notifications, subscribes,
  // then starts the snapshot (no position) or waits for notifications.
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Nothing to release: the source keeps no log.
  Status release(const Position&) override { return ok(); }
  int compare(const Position& a, const Position& b) const override;
  // Notifications missed while no session was subscribed are invisible here:
  // the job's comparison after runs repairs what differs.
  bool sees_deletes() const override { return false; }
  // Keys waiting to be read again; with no position, the keys of the databases.
  Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) override;

 private:
  Status enable_notifications();
  Status subscribe();
  // Takes the notifications received so far (waiting up to `wait` for one).
  Status drain(std::chrono::milliseconds wait);
  // Reads `keys` of `db` (pipelined DUMP + PEXPIRETIME) into `batch`: upserts,
  // and deletes for keys gone when `deletes`.
  Status read_keys(int db, const std::vector<std::string>& keys, bool deletes,
                   const Position& position, Batch& batch);
  Result<std::optional<Batch>> next_snapshot(std::size_t max_changes);

  RedisOptions options_;
  std::vector<std::string> patterns_;
  std::vector<int> databases_;
  std::unique_ptr<Connection> db_;
  std::unique_ptr<Connection> notifications_;
  SourcePosition position_;

  bool in_snapshot_ = false;
  std::size_t snapshot_db_ = 0;  // index into databases_
  std::string cursor_ = "0";
  std::vector<std::string> scanned_;             // keys of the current database not read yet
  std::set<std::pair<int, std::string>> dirty_;  // keys notifications named
};

}  // namespace megasync::connectors::redis
