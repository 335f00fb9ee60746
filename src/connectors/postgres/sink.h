// The postgres record sink: applies batches to tables of a PostgreSQL database,
// one transaction per batch, with the job's checkpoint for this target written
// in that same transaction (table `_megasync_checkpoints`). The exception: the
// snapshot batches of a table that was empty go in with one COPY and commit
// with the snapshot's last batch (apply_spanning; nothing resumes from a
// snapshot batch before the last anyway).
//
// A batch is folded per key (the last change of a key wins; the fields of
// successive upserts merge), then applied per table as COPY into a temporary
// staging table and one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`, and one
// `DELETE ... USING` for the deleted keys. Truncates split the batch, so that
// what came before a truncate is applied before it. Applying a batch twice
// leaves the same state.
//
// For one side of a bidirectional pair (SinkRequest::origin set), prepare()
// puts the session under a replication origin, so that every transaction it
// commits carries it and the pair's reverse source skips them; upserts then
// follow last writer wins on the version column (the ON CONFLICT update has a
// WHERE), and the staged rows that lose to a newer target row are counted and
// reported after the commit. Deletes always apply (README "Bidirectional pairs").
//
// Created by PostgresEndpoint::open_record_sink on the job's thread, then used
// by its target's thread only. Owns its own connection.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/postgres/copy_binary.h"
#include "connectors/postgres/service.h"
#include "core/net_changes.h"
#include "core/record_source.h"
#include "engine/endpoint.h"

namespace megasync::connectors::postgres {

// "orders" -> "orders"; "sales.orders" -> "sales"."orders".
std::string qualified_name(const std::string& collection);
// "orders" -> {"public", "orders"}; "sales.orders" -> {"sales", "orders"}.
std::pair<std::string, std::string> split_collection(const std::string& collection);

class PostgresSink : public RecordSink {
 public:
  // `truncate`: a resync empties the tables with TRUNCATE (resync_clear).
  PostgresSink(std::unique_ptr<Connection> db, engine::SinkRequest request, bool truncate = false);
  ~PostgresSink() override;

  // Creates missing tables (and schemas) with the mapped types and the primary
  // key, adds missing columns; never drops or retypes anything. With an origin,
  // creates it if missing and sets it up for the session (fails when the role
  // may not, or when another session holds it); with a version column, fails
  // when a table lacks it.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;
  bool keeps_checkpoints() const override { return true; }
  Result<std::optional<Position>> load_checkpoint() override;
  Status reset_checkpoint() override;
  // While a snapshot COPY is open across batches (apply_spanning), or a
  // resync's transaction (apply_replacing).
  bool holds_uncommitted() const override { return open_copy_ != nullptr || replacing_; }
  // Unless one side of a pair, or a prepared table is referenced by another
  // table's foreign key.
  Result<bool> can_replace() override;

 private:
  // Snapshot batches of one table that was empty go into it with one COPY
  // left open across them (a COPY a batch costs the target's backend more:
  // each starts with new buffers), committed with the snapshot's last batch
  // (and its checkpoint), or every kSpanBytes of rows. True when the batch
  // went that way; false when the general path is to apply it (the open COPY
  // committed first). Its rows are not committed when it returns ok, which
  // holds_uncommitted() tells the engine: a failure then loses the earlier
  // batches' rows too, and the run fails so that the snapshot starts again.
  Result<bool> apply_spanning(const Batch& batch);
  // Ends the open COPY and commits it (with the checkpoint `end`, when given).
  Status close_copy(const Position* end = nullptr);
  struct OpenCopy;
  // The COPY of rows with `first`'s fields into `schema`'s table: its layout
  // and encoders, binary unless the table is in text_copy_ or one of its
  // columns has no binary form here.
  Result<std::unique_ptr<OpenCopy>> copy_shape(const CollectionSchema& schema, const Fields& first);
  // Starts a COPY into `schema`'s table for rows shaped like `first` (binary
  // unless the table is in text_copy_), in the open transaction.
  Status begin_copy(const CollectionSchema& schema, const Change& first);
  // Ends the open COPY, leaving its transaction open.
  Status end_copy();
  // A replacing snapshot's batch (Batch::replace): the first one opens a
  // transaction and deletes every prepared table's rows; the rows go in with
  // COPY; the last one commits with the checkpoint. A failure rolls it all
  // back.
  Status apply_replacing(const Batch& batch);
  // Whether `schema`'s table held no row when this session first looked.
  Result<bool> started_empty(const CollectionSchema& schema);
  Status save_checkpoint(const Position& end);
  Status setup_origin();
  Status apply_in_transaction(const Batch& batch);
  // Snapshot rows of tables that allow it (may_copy_directly) go straight
  // into the table with one COPY, unfolded; returns those tables. A table
  // whose COPY fails (a row already there) is left to the general path.
  Result<std::set<std::string>> copy_snapshot(const Batch& batch);
  // The net effect of a run of changes per key, as fold_change folds it
  // (core/net_changes.h), without copying values: a row points into the
  // batch being applied, which outlives it.
  struct RowRef {
    const std::vector<Value>* key = nullptr;
    bool deleted = false;
    const Fields* last = nullptr;  // the one upsert since a delete
    std::optional<Fields> merged;  // two or more, merged
    const Fields& fields() const;
  };
  using TableRefs = std::map<std::string, RowRef>;       // rows by encoded key
  using PendingRefs = std::map<std::string, TableRefs>;  // tables by collection name
  static void fold_ref(const Change& change, PendingRefs& pending);
  Status flush(PendingRefs& pending);
  Status flush_table(const CollectionSchema& schema, TableRefs& rows);
  // Whether snapshot rows of `schema` may be copied straight into the table:
  // no version column, and a unique index on exactly the key checked at once
  // (so a row already there fails the COPY rather than being duplicated).
  // Asked of the server once per table and session.
  Result<bool> may_copy_directly(const CollectionSchema& schema);
  // The temporary table staging `columns` of `schema`, created on first use.
  Result<std::string> stage(const CollectionSchema& schema,
                            const std::vector<std::string>& columns);
  // Applies the staged upserts of `columns` (no version column) as an UPDATE
  // of the rows found by key, then an INSERT of the rest, when the table's
  // upserts are mostly updates: that costs the server less than INSERT ... ON
  // CONFLICT DO UPDATE (which suits new rows better). Returns false, having
  // done nothing, when the table's last upserts were mostly new rows and the
  // caller should use INSERT ... ON CONFLICT.
  // The binary encoder for `columns` of the table, nullopt when one of them
  // has no binary form here (the rows then go as text).
  Result<std::optional<BinaryRowEncoder>> binary_encoder(const CollectionSchema& schema,
                                                         const std::vector<std::string>& columns);
  Result<bool> update_first(const CollectionSchema& schema, const std::string& stage_name,
                            const std::vector<std::string>& columns, std::size_t staged);
  // Counts the staged rows that lose to the target's row (last writer wins)
  // and differ from it; queues a report when there are any.
  Status count_conflicts(const CollectionSchema& schema, const std::string& stage_name,
                         const std::vector<std::string>& columns);

  std::unique_ptr<Connection> db_;
  engine::SinkRequest request_;
  bool origin_ready_ = false;
  std::vector<engine::ConflictReport> conflicts_;  // of the open transaction
  std::map<std::string, CollectionSchema> schemas_;
  std::map<std::string, std::set<std::string>> array_columns_;  // array-typed columns per table
  std::map<std::string, std::string> stages_;  // "table\0col\0col" -> temp table name
  // Staging tables holding rows in the open transaction: emptied before their
  // next use in it (ON COMMIT DELETE ROWS empties them all at its end).
  std::set<std::string> filled_stages_;
  // Per table: snapshot rows go straight in with COPY (false once a COPY met
  // a row already there, or when the table allows no such check).
  std::map<std::string, bool> copy_directly_;
  // Per table, its columns' types for a binary COPY (loaded on first use,
  // reloaded after prepare()); tables whose values met one binary cannot
  // write are copied as text from then on.
  std::map<std::string, std::map<std::string, TargetType>> column_types_;
  std::set<std::string> text_copy_;
  std::unique_ptr<OpenCopy> open_copy_;
  std::map<std::string, bool> started_empty_;
  bool replacing_ = false;  // a resync's transaction is open (apply_replacing)
  bool truncate_ = false;   // it empties the tables with TRUNCATE, not DELETE
  int next_stage_ = 0;      // names are never reused in a session
  // Per table, how its upserts are applied: UPDATE-first while at least half
  // of the staged rows of the last group were found; otherwise INSERT ... ON
  // CONFLICT, with UPDATE-first tried again every few groups.
  struct UpsertMode {
    bool update_first = true;
    int batches_since_probe = 0;
  };
  std::map<std::string, UpsertMode> upsert_modes_;
};

}  // namespace megasync::connectors::postgres
