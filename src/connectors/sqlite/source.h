// The sqlite record source: a snapshot of the configured tables, then the rows
// changed since, captured by triggers into a log table inside the database.
//
// On open() it creates `_megasync_changes` if missing and (re)creates, per
// table, AFTER INSERT/UPDATE/DELETE triggers named `_megasync_<job>_<table>_{ins,
// upd,del}` that log (job, table, op, JSON array of the key). Positions are log
// sequence numbers, zero-padded to 20 digits so that text order is numeric
// order. See README.md for the guarantees and limits.
//
// Created by SqliteEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns its own connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/sqlite/db.h"
#include "core/record_source.h"

namespace megasync::connectors::sqlite {

// Log sequence numbers as positions.
Position encode_position(std::int64_t seq);
std::optional<std::int64_t> decode_position(const Position& position);

// The name of one of job `job`'s triggers on `table` (suffix "ins", "upd", "del").
std::string trigger_name(const std::string& job, const std::string& table, const char* suffix);

class SqliteSource : public RecordSource {
 public:
  SqliteSource(std::unique_ptr<Connection> db, std::string job, std::vector<std::string> patterns)
      : db_(std::move(db)), job_(std::move(job)), patterns_(std::move(patterns)) {}
  ~SqliteSource() override;

  Result<std::vector<CollectionSchema>> describe() override;
  // Installs the log table and triggers (one write transaction), then either
  // starts the snapshot or positions the log reader after `resume_after`.
  Status open(const std::optional<Position>& resume_after) override;
  // Snapshot batches first (only the last one carries an end position: the
  // snapshot is not resumable, see README.md), then log rows in order. Polls the
  // log every 100 ms until `until`.
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Deletes this job's log rows up to `durable_everywhere`.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;
  // Log rows of this job after `after`; with no position, the rows of the tables.
  Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) override;

 private:
  Status install_capture();
  Status begin_snapshot();
  Result<std::optional<Batch>> next_snapshot(std::size_t max_changes);
  Result<std::optional<Batch>> read_log(std::size_t max_changes);
  Result<std::optional<Statement>> open_table_scan(const CollectionSchema& schema);
  // The current row of `schema` with `key`, or nullopt when it no longer exists.
  Result<std::optional<Fields>> read_row(const CollectionSchema& schema,
                                         const std::vector<Value>& key);

  std::unique_ptr<Connection> db_;
  std::string job_;
  std::vector<std::string> patterns_;
  std::vector<CollectionSchema> schemas_;
  std::map<std::string, std::size_t> by_name_;  // index into schemas_

  bool in_snapshot_ = false;
  std::int64_t snapshot_seq_ = 0;  // max(seq) seen in the snapshot's read transaction
  std::size_t snapshot_table_ = 0;
  std::optional<Statement> snapshot_scan_;
  std::int64_t last_seq_ = 0;  // streaming reads log rows after this one
};

}  // namespace megasync::connectors::sqlite
