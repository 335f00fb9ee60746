// The sqlite record sink: upserts and deletes by primary key into tables of a
// SQLite database, one transaction per batch (a resync's snapshot,
// Batch::replace, is one transaction across its batches).
//
// The target runs in WAL mode with synchronous=FULL, so a batch is durable when
// apply() returns ok. Applying a batch twice leaves the same state.
//
// Created by SqliteEndpoint::open_record_sink on the job's thread, then used by
// its target's thread only. Owns its own connection.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/sqlite/db.h"
#include "core/record_source.h"

namespace megasync::connectors::sqlite {

class SqliteSink : public RecordSink {
 public:
  // Sets the journal mode and synchronous level on `db`. The checkpoint of
  // (`job`, `target`) is kept in the table `_megasync_checkpoints`.
  static Result<std::unique_ptr<SqliteSink>> create(std::unique_ptr<Connection> db, std::string job,
                                                    std::string target);

  // Creates missing tables (columns mapped back from ColumnType, PRIMARY KEY
  // kept) and adds missing columns to existing ones. Never drops anything.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  // One transaction: INSERT .. ON CONFLICT(key) DO UPDATE of the columns present,
  // DELETE by key, truncate as DELETE FROM. Rolls back on any error.
  Status apply(const Batch& batch) override;
  bool keeps_checkpoints() const override { return true; }
  Result<std::optional<Position>> load_checkpoint() override;
  Status reset_checkpoint() override;
  // Unless another table of the database has a foreign key to a prepared one.
  Result<bool> can_replace() override;
  // While a resync's transaction is open (Batch::replace).
  bool holds_uncommitted() const override { return replacing_; }

 private:
  SqliteSink(std::unique_ptr<Connection> db, std::string job, std::string target)
      : db_(std::move(db)), job_(std::move(job)), target_(std::move(target)) {}
  Status apply_change(const Change& change);
  Result<Statement*> statement(const std::string& sql);

  std::unique_ptr<Connection> db_;
  std::string job_;
  std::string target_;
  std::map<std::string, CollectionSchema> schemas_;
  std::map<std::string, Statement> statements_;  // prepared once per distinct SQL
  // Per table: the statement of the last upsert (delete) and the non-key
  // columns it names, in order.
  struct Prepared {
    std::vector<std::string> fields;
    Statement* stmt = nullptr;
  };
  std::map<std::string, Prepared> upserts_;
  std::map<std::string, Prepared> deletes_;
  // A resync's batches share one transaction: the first deletes every
  // prepared table's rows, the last (with an end) commits.
  bool replacing_ = false;
};

}  // namespace megasync::connectors::sqlite
