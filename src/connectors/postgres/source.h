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
  bool resync_catch_up = false;              // catch_up: resync
  std::int64_t resync_above = 0;             // bytes of backlog a resync needs at least
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
  // With catch_up: resync, when the slot holds more WAL after `resume_after`
  // than resync_above and than the tables take on disk, or is missing.
  Result<bool> prefers_resync(const Position& resume_after) override;
  // A temporary slot's exported snapshot, read like a first one; the job's
  // slot is advanced to the snapshot's position once release() says every
  // target holds it, and streams from there.
  Status open_resync(const Position& resume_after) override;

 private:
  // Checks the settings and the role, ensures the publication, opens the
  // replication connection.
  Status connect();
  // The LSN to stream from after `resume_after`; checks the slot exists.
  Result<Lsn> resume_point(const Position& resume_after);
  // Moves the job's slot up to `to` (durable at every target) without
  // decoding what lies before; a failure is only logged.
  void advance_slot(Lsn to);
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
  bool resync_ = false;            // the snapshot is a resync's (open_resync)
  bool awaiting_release_ = false;  // a resync's snapshot is out; targets not yet durable

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
