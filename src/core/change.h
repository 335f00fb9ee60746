// The record sync vocabulary: a Change to a keyed record, and a Batch of changes
// ending on a source transaction boundary — the unit that is applied,
// acknowledged and checkpointed (docs/design.md).
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/fields.h"
#include "core/value.h"

namespace megasync {

// An opaque, source-ordered cursor: an LSN, an offset, a log sequence number.
// Sources define the encoding; the engine only stores and compares them through
// the source (positions of different sources are never compared).
using Position = std::string;

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
  bool nullable = true;
  std::string source_type;  // the type as the source names it ("varchar(20)")
};

// What a source emits for one collection (table, keyspace, topic, index).
struct CollectionSchema {
  std::string name;
  std::vector<Column> columns;
  std::vector<std::string> primary_key;  // column names, in key order; never empty
  // Whose type names the columns' source_type holds ("postgres", "sqlite"; empty
  // when unknown). A target of the same system may create columns of exactly
  // that type, when the source_type still agrees with the column's ColumnType.
  std::string type_system;

  const Column* column(const std::string& name) const;
};

enum class Op { kUpsert, kDelete, kTruncate };
std::string_view to_string(Op op);

struct Change {
  Op op = Op::kUpsert;
  std::string collection;
  std::vector<Value> key;  // primary key values, in CollectionSchema::primary_key order
  // Upsert: the record's columns by name. Delete: empty. Columns a source could
  // not read (an unchanged TOASTed value) are absent, and sinks leave them as they are.
  Fields fields;
  std::map<std::string, std::string> meta;  // ttl, headers, origin, commit_time
  // Of the transaction this change belongs to; for a snapshot row, the position
  // the snapshot is consistent at (the engine remembers it, see RecordSyncJob).
  Position position;
};

// A collection whose columns changed at the source (ALTER TABLE) before the
// changes of the batch that carries it.
struct SchemaChange {
  CollectionSchema schema;  // its columns now
  std::vector<std::string> added;
  std::vector<std::string> dropped;  // the targets keep them; new rows leave them empty
  std::vector<std::string> retyped;  // the targets keep their type; values may not fit
};

struct Batch {
  // Applied first: each target prepares these collections (adds new columns).
  std::vector<SchemaChange> schema_changes;
  std::vector<Change> changes;
  // The position after the batch's last transaction: resuming after it neither
  // skips nor repeats a transaction.
  Position end;
  bool snapshot = false;  // part of the initial snapshot
  // A snapshot that replaces the targets' rows (a resync: RecordSink::
  // can_replace): at its last batch, the one with an end, each target holds
  // exactly the rows its batches brought of every collection of the job.
  bool replace = false;
  std::size_t bytes = 0;  // approximate size, for memory bounds and metrics
};

// The canonical encoding of a key (for ordering, hashing and maps).
std::string encode_key(const std::vector<Value>& key);

}  // namespace megasync
