// The postgres record source in `mode: poll`, for roles without the
// REPLICATION attribute: changes are the rows whose cursor column (an
// `updated_at` timestamp or an integer version the application advances on
// every insert and update) is past the last row read, in (cursor, primary key)
// order, a page at a time (keyset pagination). It needs SELECT on the tables
// and nothing else; it creates nothing in the database.
//
// Snapshot: every table is read through a cursor in one REPEATABLE READ
// transaction, which first notes each table's last row in (cursor, key) order;
// the snapshot's position holds those marks, and polling continues after them.
//
// A sweep reads every table once from its mark to its end. With a timestamp or
// date cursor, the first sweep of a run (and, in a continuous run, one every
// `overlap`) starts `overlap` before the mark instead: rows committed late with
// an older cursor value (now() is the transaction's start, a sequence value is
// taken before the commit) are read then. Rows are upserts, so a re-read is
// harmless. Deletes are not visible to a poll: sees_deletes() is false, and the
// record job's periodic comparison applies them (sync/records/verify.cc).
//
// Created by PostgresEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns one connection (session TimeZone UTC, DateStyle ISO,
// client_encoding UTF8, so the marks' text reads back as the same values).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/poll_position.h"
#include "connectors/postgres/service.h"
#include "core/duration.h"
#include "core/record_source.h"

namespace megasync::connectors::postgres {

struct PollSettings {
  std::string cursor_column;                  // the same name in every table of the job
  Duration overlap{std::chrono::minutes(1)};  // re-read window for time cursors; 0: none
};

class PostgresPollSource : public RecordSource {
 public:
  PostgresPollSource(std::unique_ptr<Connection> db, PollSettings settings,
                     std::vector<std::string> patterns);

  // The tables of the job (catalog.h). kInvalidConfig, naming the table, when
  // one lacks the cursor column or has it with a type that cannot be a cursor
  // (integer, timestamp, timestamptz and date can).
  Result<std::vector<CollectionSchema>> describe() override;
  // With no position, starts the snapshot; with one, polls after its marks.
  Status open(const std::optional<Position>& resume_after) override;
  // Snapshot pages, then the rows past each table's mark. A periodic run
  // (`until` expired) ends after one sweep found nothing more; a continuous
  // one sweeps again at most once a second until `until`.
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Nothing to release: the database keeps nothing for the source.
  Status release(const Position&) override { return ok(); }
  int compare(const Position& a, const Position& b) const override;
  bool sees_deletes() const override { return false; }

 private:
  struct Table {
    CollectionSchema schema;
    std::size_t cursor = 0;         // index of the cursor column in schema.columns
    std::vector<std::size_t> keys;  // indexes of the key columns
    bool time_cursor = false;       // timestamp, timestamptz or date: overlap applies
  };

  Status begin_snapshot();
  Result<std::optional<Batch>> next_snapshot(std::size_t max_changes);
  Status start_sweep();
  // Reads one page of the current table into `batch`; moves to the next table
  // when the page was short.
  Status read_page(Batch& batch, std::size_t limit);
  // A row's change; its fields by type OID.
  Result<Change> row_change(const Table& table, const Rows& rows, int row) const;
  PollMark mark_of(const Table& table, const Rows& rows, int row) const;

  std::unique_ptr<Connection> db_;
  PollSettings settings_;
  std::vector<std::string> patterns_;
  std::vector<Table> tables_;
  bool opened_ = false;
  PollPosition position_;  // of the last batch returned

  // Snapshot.
  bool in_snapshot_ = false;
  std::size_t snapshot_table_ = 0;
  bool cursor_open_ = false;

  // Sweeps.
  bool sweeping_ = false;
  bool swept_ = false;  // a sweep finished since open()
  std::size_t sweep_table_ = 0;
  std::optional<PollMark> page_after_;  // the last row read of the current table in this sweep
  bool overlap_sweep_ = false;          // this sweep starts `overlap` before the marks
  std::chrono::steady_clock::time_point sweep_started_{};
  std::optional<std::chrono::steady_clock::time_point> last_overlap_;
};

}  // namespace megasync::connectors::postgres
