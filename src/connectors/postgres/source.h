// The postgres record source: change data capture by logical replication
// (pgoutput, protocol 1). Per job a publication and a replication slot, both
// named `megasync_<job>` (letters, digits and _ kept, lowercased). A first
// start creates the slot with an exported snapshot and reads the tables in
// that snapshot, so that the snapshot and the changes streamed from the slot's
// consistent point meet with no gap and no duplicate. Positions are LSNs (the
// end of each transaction's commit record); release() confirms the flush LSN
// to the server, which then frees the WAL before it.
//
// Created by PostgresEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns two connections: one for SQL (catalog, snapshot) and
// one replication connection.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/lsn.h"
#include "connectors/postgres/relation_cache.h"
#include "connectors/postgres/service.h"
#include "connectors/postgres/snapshot.h"
#include "core/record_source.h"

namespace megasync::connectors::postgres {

// "megasync_" + the job name with every character other than [a-z0-9_]
// replaced by '_' (slot names allow only those), cut to 63 bytes.
std::string replication_name(const std::string& job);

// The source's settings from its endpoint's options (README.md).
struct SourceSettings {
  int snapshot_parallelism = 2;              // workers copying the initial snapshot
  std::int64_t snapshot_chunk_pages = 1024;  // at least this many pages per chunk
  bool resnapshot_on_slot_lost = false;      // on_slot_lost: resnapshot
  std::int64_t slot_lag_alert = 0;           // bytes; 0: no alert
  std::string skip_origin;  // a bidirectional pair's own applier (SourceRequest::skip_origin)
};

class PostgresSource : public RecordSource {
 public:
  PostgresSource(std::string conninfo, std::unique_ptr<Connection> db, std::string job,
                 std::vector<std::string> patterns, SourceSettings settings = {});
  ~PostgresSource() override;

  // The tables of the job (catalog.h); checks wal_level on the first call.
  Result<std::vector<CollectionSchema>> describe() override;
  // Creates or updates the publication; with no position, (re)creates the slot
  // and starts the snapshot; with one, checks the slot exists and streams
  // from it. A missing slot fails the job (kPermanent), or with
  // on_slot_lost: resnapshot gives kNotFound (the engine starts again).
  Status open(const std::optional<Position>& resume_after) override;
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // Confirms `durable_everywhere` as the slot's flush position.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;
  // Before a snapshot: the tables' estimated rows (pg_class.reltuples, as of
  // the last ANALYZE or VACUUM); nullopt when a table was never analyzed.
  // After a position: nullopt (the slot counts bytes, not changes).
  Result<std::optional<std::int64_t>> backlog(const std::optional<Position>& after) override;
  // WAL between the slot's confirmed flush and the server's current end.
  Result<std::optional<SourceLag>> lag() override;

 private:
  Status ensure_publication();
  Status begin_snapshot();
  // Starts the parallel copy of the snapshot `name`, which db_'s open
  // transaction is on.
  Status start_copy(const std::string& name);
  Result<std::optional<Batch>> next_snapshot(std::size_t max_changes);
  Status start_streaming(Lsn from);
  // Reads what the server sent until a batch is ready, caught up, or `until`.
  Result<std::optional<Batch>> next_stream(Deadline until, std::size_t max_changes);
  Status handle(std::string_view data, Batch& batch);
  // Compares a Relation message with the job's schema of that table: new
  // columns join the schema and, like drops and type changes, go out with the
  // next batch as a SchemaChange.
  void note_relation(Oid oid);
  Status send_status(bool reply_requested);

  std::string conninfo_;
  std::unique_ptr<Connection> db_;           // SQL
  std::unique_ptr<Connection> replication_;  // replication=database
  std::string job_;
  std::string name_;  // slot and publication
  std::vector<std::string> patterns_;
  std::vector<CollectionSchema> schemas_;
  SourceSettings settings_;

  // Snapshot.
  bool in_snapshot_ = false;
  std::unique_ptr<ParallelSnapshot> snapshot_;
  Lsn snapshot_lsn_ = 0;

  // Stream.
  bool streaming_ = false;
  RelationCache relations_;
  bool in_transaction_ = false;
  bool skip_transaction_ = false;  // applied by the pair's other direction (origin)
  std::vector<Change> transaction_;
  std::map<Oid, CollectionSchema> session_relations_;  // as last described in this stream
  std::vector<SchemaChange> pending_schema_changes_;
  Lsn received_ = 0;      // end of the last complete transaction seen
  Lsn flushed_ = 0;       // confirmed to the server
  Lsn caught_up_at_ = 0;  // the server's WAL end when streaming started
  bool caught_up_ = false;
  std::chrono::steady_clock::time_point last_status_{};
};

}  // namespace megasync::connectors::postgres
