// The postgres record sink: applies batches to tables of a PostgreSQL database,
// one transaction per batch, with the job's checkpoint for this target written
// in that same transaction (table `_megasync_checkpoints`).
//
// A batch is folded per key (the last change of a key wins; the fields of
// successive upserts merge), then applied per table as COPY into a temporary
// staging table and one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`, and one
// `DELETE ... USING` for the deleted keys. Truncates split the batch, so that
// what came before a truncate is applied before it. Applying a batch twice
// leaves the same state.
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

#include "connectors/postgres/service.h"
#include "core/net_changes.h"
#include "core/record_source.h"

namespace megasync::connectors::postgres {

// "orders" -> "orders"; "sales.orders" -> "sales"."orders".
std::string qualified_name(const std::string& collection);
// "orders" -> {"public", "orders"}; "sales.orders" -> {"sales", "orders"}.
std::pair<std::string, std::string> split_collection(const std::string& collection);

class PostgresSink : public RecordSink {
 public:
  PostgresSink(std::unique_ptr<Connection> db, std::string job, std::string target)
      : db_(std::move(db)), job_(std::move(job)), target_(std::move(target)) {}

  // Creates missing tables (and schemas) with the mapped types and the primary
  // key, adds missing columns; never drops or retypes anything.
  Status prepare(const std::vector<CollectionSchema>& schemas) override;
  Status apply(const Batch& batch) override;
  bool keeps_checkpoints() const override { return true; }
  Result<std::optional<Position>> load_checkpoint() override;
  Status reset_checkpoint() override;

 private:
  Status apply_in_transaction(const Batch& batch);
  Status flush(NetChanges& pending);
  Status flush_table(const CollectionSchema& schema, NetRows& rows);
  // The temporary table staging `columns` of `schema`, created on first use.
  Result<std::string> stage(const CollectionSchema& schema,
                            const std::vector<std::string>& columns);

  std::unique_ptr<Connection> db_;
  std::string job_;
  std::string target_;
  std::map<std::string, CollectionSchema> schemas_;
  std::map<std::string, std::set<std::string>> array_columns_;  // array-typed columns per table
  std::map<std::string, std::string> stages_;  // "table\0col\0col" -> temp table name
  int next_stage_ = 0;                         // names are never reused in a session
};

}  // namespace megasync::connectors::postgres
