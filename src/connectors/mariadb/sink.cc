#include "connectors/mariadb/sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "connectors/mariadb/values.h"

namespace megasync::connectors::mariadb {
namespace {

constexpr std::size_t kMaxRows = 500;
constexpr std::size_t kMaxBytes = 1u << 20;

constexpr const char* kTableOptions =
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";

std::string join_quoted(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    out += fmt::format("{}{}", out.empty() ? "" : ", ", quote_ident(name));
  }
  return out;
}

ColumnType type_of(const CollectionSchema& schema, const std::string& name) {
  const Column* column = schema.column(name);
  return column != nullptr ? column->type : ColumnType::kText;
}

// Sends `head` + items joined by ", " + `tail` in statements of at most
// kMaxRows items or about kMaxBytes.
class Chunker {
 public:
  Chunker(Connection& db, std::string head, std::string tail)
      : db_(db), head_(std::move(head)), tail_(std::move(tail)) {}

  Status add(const std::string& item) {
    sql_ += sql_.empty() ? head_ : ", ";
    sql_ += item;
    if (++rows_ >= kMaxRows || sql_.size() >= kMaxBytes) {
      return send();
    }
    return ok();
  }
  Status send() {
    if (sql_.empty()) {
      return ok();
    }
    sql_ += tail_;
    Status s = db_.exec(sql_);
    sql_.clear();
    rows_ = 0;
    return s;
  }

 private:
  Connection& db_;
  std::string head_;
  std::string tail_;
  std::string sql_;
  std::size_t rows_ = 0;
};

}  // namespace

std::pair<std::string, std::string> split_name(const std::string& collection,
                                               const std::string& default_database) {
  const std::size_t dot = collection.find('.');
  if (dot == std::string::npos) {
    return {default_database, collection};
  }
  return {collection.substr(0, dot), collection.substr(dot + 1)};
}

std::string qualified_name(const std::string& collection, const std::string& default_database) {
  const auto [database, table] = split_name(collection, default_database);
  return quote_ident(database) + "." + quote_ident(table);
}

Status MariadbSink::prepare(const std::vector<CollectionSchema>& schemas) {
  if (Status s = db_->exec(fmt::format(
          "CREATE TABLE IF NOT EXISTS {}.`_megasync_checkpoints` (job VARCHAR(255) NOT NULL, "
          "target VARCHAR(255) NOT NULL, position VARCHAR(255) NOT NULL, updated_at DATETIME(6) "
          "NOT NULL, PRIMARY KEY (job, target)) {}",
          quote_ident(database_), kTableOptions));
      !s) {
    return fail(s.error().with_context("create _megasync_checkpoints"));
  }
  for (const CollectionSchema& schema : schemas) {
    const auto [database, table] = split_name(schema.name, database_);
    Result<Rows> existing =
        db_->query(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                               "TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                               quote_literal(database), quote_literal(table)));
    if (!existing) {
      return fail(existing.error().with_context(fmt::format("describe table {}", schema.name)));
    }
    std::set<std::string> columns;
    for (const auto& row : *existing) {
      columns.insert(row[0].value_or(""));
    }
    const std::string name = qualified_name(schema.name, database_);
    auto is_key = [&](const std::string& column) {
      return std::find(schema.primary_key.begin(), schema.primary_key.end(), column) !=
             schema.primary_key.end();
    };
    std::vector<std::string> statements;
    if (columns.empty()) {
      if (database != database_) {
        // Only when missing: CREATE DATABASE needs a privilege the user may lack.
        Result<Rows> found = db_->query(
            fmt::format("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                        quote_literal(database)));
        if (!found) {
          return fail(found.error().with_context(fmt::format("look up database {}", database)));
        }
        if (found->empty()) {
          statements.push_back(fmt::format("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
                                           quote_ident(database)));
        }
      }
      std::string sql = fmt::format("CREATE TABLE IF NOT EXISTS {} (", name);
      for (const Column& column : schema.columns) {
        sql += fmt::format("{} {}, ", quote_ident(column.name),
                           declared_type(column.type, is_key(column.name)));
      }
      sql += fmt::format("PRIMARY KEY ({})) {}", join_quoted(schema.primary_key), kTableOptions);
      statements.push_back(std::move(sql));
    } else {
      std::string added;
      for (const Column& column : schema.columns) {
        if (!columns.contains(column.name)) {
          added += fmt::format("{}ADD COLUMN IF NOT EXISTS {} {}", added.empty() ? "" : ", ",
                               quote_ident(column.name),
                               declared_type(column.type, is_key(column.name)));
        }
      }
      if (!added.empty()) {
        statements.push_back(fmt::format("ALTER TABLE {} {}", name, added));
      }
    }
    for (const std::string& sql : statements) {
      if (Status s = db_->exec(sql); !s) {
        return fail(s.error().with_context(fmt::format("prepare table {}", schema.name)));
      }
    }
    schemas_[schema.name] = schema;
  }
  return ok();
}

Result<std::optional<Position>> MariadbSink::load_checkpoint() {
  Result<Rows> rows = db_->query(
      fmt::format("SELECT position FROM {}.`_megasync_checkpoints` WHERE job = {} AND target = {}",
                  quote_ident(database_), quote_literal(job_), quote_literal(target_)));
  if (!rows) {
    if (db_->last_errno() == 1146) {  // ER_NO_SUCH_TABLE: nothing was ever applied
      return std::optional<Position>();
    }
    return fail(rows.error().with_context("read checkpoint"));
  }
  if (rows->empty() || !(*rows)[0][0]) {
    return std::optional<Position>();
  }
  return std::optional<Position>(*(*rows)[0][0]);
}

Status MariadbSink::reset_checkpoint() {
  Status s =
      db_->exec(fmt::format("DELETE FROM {}.`_megasync_checkpoints` WHERE job = {} AND target = {}",
                            quote_ident(database_), quote_literal(job_), quote_literal(target_)));
  if (!s && db_->last_errno() == 1146) {  // no table: nothing to forget
    return ok();
  }
  return with_context(std::move(s), "reset checkpoint");
}

Result<bool> MariadbSink::can_replace() {
  for (const auto& [collection, schema] : schemas_) {
    const auto [database, table] = split_name(collection, database_);
    // Deleting a table's rows would cascade to, or be refused by, another's.
    Result<Rows> referenced = db_->query(fmt::format(
        "SELECT TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
        "UNIQUE_CONSTRAINT_SCHEMA = {} AND REFERENCED_TABLE_NAME = {} AND NOT (CONSTRAINT_SCHEMA "
        "= {} AND TABLE_NAME = {}) LIMIT 1",
        quote_literal(database), quote_literal(table), quote_literal(database),
        quote_literal(table)));
    if (!referenced) {
      return fail(referenced.error().with_context(fmt::format("foreign keys to {}", collection)));
    }
    if (!referenced->empty()) {
      spdlog::info(
          "target {}: table {} is referenced by a foreign key of {}: its rows are not "
          "replaced by a resync (the source's changes are replayed instead)",
          target_, collection, (*referenced)[0][0].value_or(""));
      return false;
    }
  }
  return true;
}

Status MariadbSink::apply(const Batch& batch) {
  if (replacing_ && !batch.replace) {
    replacing_ = false;
    (void)db_->exec("ROLLBACK");
    return make_error(ErrorCode::kRetryable,
                      "a resync's snapshot stopped before its last batch and was rolled back");
  }
  Status applied = [&]() -> Status {
    if (!replacing_) {
      if (Status s = db_->exec("START TRANSACTION"); !s) {
        return s;
      }
      if (batch.replace) {
        // The resync's transaction: readers see the old rows until it commits.
        replacing_ = true;
        for (const auto& [collection, schema] : schemas_) {
          if (Status s =
                  db_->exec(fmt::format("DELETE FROM {}", qualified_name(collection, database_)));
              !s) {
            return fail(s.error().with_context(fmt::format("clear {}", collection)));
          }
        }
      }
    }
    if (Status s = apply_in_transaction(batch); !s) {
      return s;
    }
    if (replacing_ && batch.end.empty()) {
      return ok();  // the resync's next batch goes on in this transaction
    }
    replacing_ = false;
    return db_->exec("COMMIT");
  }();
  if (!applied) {
    replacing_ = false;
    (void)db_->exec("ROLLBACK");
    return fail(applied.error().with_context(batch.replace ? "resync" : "apply batch"));
  }
  return ok();
}

Status MariadbSink::apply_in_transaction(const Batch& batch) {
  NetChanges pending;
  for (const Change& change : batch.changes) {
    auto schema = schemas_.find(change.collection);
    if (schema == schemas_.end()) {
      return make_error(ErrorCode::kPermanent, "table {} was not prepared", change.collection);
    }
    if (change.op == Op::kTruncate) {
      // What came before the truncate is applied before it (other tables too,
      // keeping the batch's order). DELETE, not TRUNCATE: TRUNCATE commits.
      if (Status s = flush(pending); !s) {
        return s;
      }
      if (Status s = db_->exec(
              fmt::format("DELETE FROM {}", qualified_name(change.collection, database_)));
          !s) {
        return s;
      }
      continue;
    }
    if (change.key.size() != schema->second.primary_key.size()) {
      return make_error(ErrorCode::kPermanent, "table {}: a change has {} key values, expected {}",
                        change.collection, change.key.size(), schema->second.primary_key.size());
    }
    fold_change(change, pending);
  }
  if (Status s = flush(pending); !s) {
    return s;
  }
  if (!batch.end.empty()) {
    if (Status s = db_->exec(fmt::format(
            "INSERT INTO {}.`_megasync_checkpoints` (job, target, position, updated_at) VALUES "
            "({}, {}, {}, NOW(6)) ON DUPLICATE KEY UPDATE position = VALUES(position), "
            "updated_at = VALUES(updated_at)",
            quote_ident(database_), quote_literal(job_), quote_literal(target_),
            quote_literal(batch.end)));
        !s) {
      return fail(s.error().with_context("save checkpoint"));
    }
  }
  return ok();
}

Status MariadbSink::flush(NetChanges& pending) {
  for (auto& [collection, rows] : pending) {
    if (Status s = flush_table(schemas_.at(collection), rows); !s) {
      return fail(s.error().with_context(fmt::format("table {}", collection)));
    }
  }
  pending.clear();
  return ok();
}

Status MariadbSink::flush_table(const CollectionSchema& schema, NetRows& rows) {
  const std::vector<std::string>& key_columns = schema.primary_key;
  auto is_key = [&](const std::string& name) {
    return std::find(key_columns.begin(), key_columns.end(), name) != key_columns.end();
  };
  const std::string table = qualified_name(schema.name, database_);
  // Upserts grouped by the columns they carry (all of them, unless a source
  // could not read some).
  std::map<std::vector<std::string>, std::vector<const NetRow*>> upserts;
  std::vector<const NetRow*> deletes;
  for (const auto& [encoded, row] : rows) {
    if (row.deleted) {
      deletes.push_back(&row);
      continue;
    }
    std::vector<std::string> columns = key_columns;
    for (const auto& [name, value] : row.fields) {
      if (!is_key(name)) {
        columns.push_back(name);
      }
    }
    upserts[columns].push_back(&row);
  }

  // "(v1, v2)" of `row` for `columns` (keys first); a lone value without
  // parentheses unless `parens`.
  auto tuple = [&](const NetRow& row, const std::vector<std::string>& columns, bool parens,
                   std::string& out) -> Status {
    parens = parens || columns.size() > 1;
    if (parens) {
      out += '(';
    }
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) {
        out += ", ";
      }
      const Value& value = i < key_columns.size() ? row.key[i] : row.fields.at(columns[i]);
      if (Status s = append_literal(value, type_of(schema, columns[i]), out); !s) {
        return fail(s.error().with_context(columns[i]));
      }
    }
    if (parens) {
      out += ')';
    }
    return ok();
  };

  if (!deletes.empty()) {
    const std::string match = key_columns.size() == 1 ? quote_ident(key_columns[0])
                                                      : "(" + join_quoted(key_columns) + ")";
    Chunker chunker(*db_, fmt::format("DELETE FROM {} WHERE {} IN (", table, match), ")");
    std::string item;
    for (const NetRow* row : deletes) {
      item.clear();
      if (Status s = tuple(*row, key_columns, false, item); !s) {
        return s;
      }
      if (Status s = chunker.add(item); !s) {
        return s;
      }
    }
    if (Status s = chunker.send(); !s) {
      return s;
    }
  }
  for (const auto& [columns, group] : upserts) {
    std::string updates;
    for (std::size_t i = key_columns.size(); i < columns.size(); ++i) {
      updates += fmt::format("{}{} = VALUES({})", updates.empty() ? "" : ", ",
                             quote_ident(columns[i]), quote_ident(columns[i]));
    }
    if (updates.empty()) {  // only key columns: keep the row as it is
      updates = fmt::format("{} = {}", quote_ident(key_columns[0]), quote_ident(key_columns[0]));
    }
    Chunker chunker(*db_, fmt::format("INSERT INTO {} ({}) VALUES ", table, join_quoted(columns)),
                    " ON DUPLICATE KEY UPDATE " + updates);
    std::string item;
    for (const NetRow* row : group) {
      item.clear();
      if (Status s = tuple(*row, columns, true, item); !s) {
        return s;
      }
      if (Status s = chunker.add(item); !s) {
        return s;
      }
    }
    if (Status s = chunker.send(); !s) {
      return s;
    }
  }
  return ok();
}

}  // namespace megasync::connectors::mariadb
