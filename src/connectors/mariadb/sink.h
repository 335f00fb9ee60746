// The mariadb record sink: applies batches to tables of a MariaDB server, one
// transaction per batch, with the job's checkpoint for this target written in
// that same transaction (table `_megasync_checkpoints` of the endpoint's
// database).
//
// A batch is folded per key (the last change of a key wins; the fields of
// successive upserts merge), then applied per table as multi-row
// `DELETE ... WHERE (key) IN (...)` and `INSERT ... VALUES ... ON DUPLICATE KEY
// UPDATE` statements of at most 500 rows or about 1 MiB each, values spliced as
// escaped literals (values.h). Truncates split the batch and are `DELETE FROM`
// (MariaDB's TRUNCATE would commit). Applying a batch twice leaves the same state.
// A resync's snapshot (Batch::replace) is one transaction across its batches.
//
// Created by MariadbEndpoint::open_record_sink on the job's thread, then used
// by its target's thread only. Owns its own connection.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/mariadb/service.h"
#include "core/net_changes.h"
#include "core/record_source.h"

namespace megasync::connectors::mariadb {

// "orders" -> {default_database, "orders"}; "sales.orders" -> {"sales", "orders"}.
std::pair<std::string, std::string> split_name(const std::string& collection,
                                               const std::string& default_database);
// The backtick-quoted `database`.`table` of a collection.
std::string qualified_name(const std::string& collection, const std::string& default_database);

class MariadbSink : public RecordSink {
 public:
  MariadbSink(std::unique_ptr<Connection> db, std::string database, std::string job,
              std::string target)
      : db_(std::move(db)),
        database_(std::move(database)),
        job_(std::move(job)),
        target_(std::move(target)) {}

  // Creates missing databases and tables (InnoDB, utf8mb4_nopad_bin) with the
  // mapped types and the primary key, adds missing columns; never drops or
  // retypes anything.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;
  bool keeps_checkpoints() const override { return true; }
  Result<std::optional<Position>> load_checkpoint() override;
  Status reset_checkpoint() override;
  // Unless a prepared table is referenced by another table's foreign key.
  Result<bool> can_replace() override;
  // While a resync's transaction is open (Batch::replace).
  bool holds_uncommitted() const override { return replacing_; }

 private:
  Status apply_in_transaction(const Batch& batch);
  Status flush(NetChanges& pending);
  Status flush_table(const CollectionSchema& schema, NetRows& rows);

  std::unique_ptr<Connection> db_;
  std::string database_;
  std::string job_;
  std::string target_;
  std::map<std::string, CollectionSchema> schemas_;
  // A resync's batches share one transaction: the first deletes every
  // prepared table's rows, the last (with an end) commits.
  bool replacing_ = false;
};

}  // namespace megasync::connectors::mariadb
