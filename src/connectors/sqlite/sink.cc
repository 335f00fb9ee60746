#include "connectors/sqlite/sink.h"

#include <fmt/format.h>

#include <algorithm>

#include "connectors/sqlite/schema.h"

namespace megasync::connectors::sqlite {

Result<std::unique_ptr<SqliteSink>> SqliteSink::create(std::unique_ptr<Connection> db,
                                                       std::string job, std::string target) {
  // WAL keeps readers of the target unblocked; FULL makes every commit durable.
  if (Status s = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s) {
    return fail(s.error().with_context("configure target"));
  }
  return std::unique_ptr<SqliteSink>(
      new SqliteSink(std::move(db), std::move(job), std::move(target)));
}

Result<std::optional<Position>> SqliteSink::load_checkpoint() {
  Result<Statement> select =
      db_->prepare("SELECT position FROM _megasync_checkpoints WHERE job = ? AND target = ?");
  if (!select) {
    return fail(select.error().with_context("read checkpoint"));
  }
  (void)select->bind(1, job_);
  (void)select->bind(2, target_);
  Result<bool> row = select->step();
  if (!row) {
    return fail(row.error().with_context("read checkpoint"));
  }
  return *row ? std::optional<Position>(select->column_text(0)) : std::optional<Position>();
}

Status SqliteSink::prepare(const std::vector<CollectionSchema>& schemas) {
  if (Status s = db_->exec(
          "CREATE TABLE IF NOT EXISTS _megasync_checkpoints(job TEXT NOT NULL, target TEXT NOT "
          "NULL, position TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (job, target))");
      !s) {
    return fail(s.error().with_context("create _megasync_checkpoints"));
  }
  for (const CollectionSchema& schema : schemas) {
    Result<CollectionSchema> existing = describe_table(*db_, schema.name);
    if (!existing && existing.error().code() == ErrorCode::kNotFound) {
      std::string sql = fmt::format("CREATE TABLE {} (", quote_ident(schema.name));
      for (const Column& column : schema.columns) {
        sql += fmt::format("{} {}, ", quote_ident(column.name), declared_type(column.type));
      }
      sql += "PRIMARY KEY (";
      for (std::size_t i = 0; i < schema.primary_key.size(); ++i) {
        sql += (i == 0 ? "" : ", ") + quote_ident(schema.primary_key[i]);
      }
      sql += "))";
      if (Status s = db_->exec(sql); !s) {
        return fail(s.error().with_context(fmt::format("create table {}", schema.name)));
      }
    } else if (!existing) {
      return fail(existing.error().with_context(fmt::format("prepare table {}", schema.name)));
    } else {
      for (const Column& column : schema.columns) {
        if (existing->column(column.name) != nullptr) {
          continue;
        }
        const std::string sql =
            fmt::format("ALTER TABLE {} ADD COLUMN {} {}", quote_ident(schema.name),
                        quote_ident(column.name), declared_type(column.type));
        if (Status s = db_->exec(sql); !s) {
          return fail(
              s.error().with_context(fmt::format("add column {} to {}", column.name, schema.name)));
        }
      }
    }
    schemas_[schema.name] = schema;
  }
  return ok();
}

Result<Statement*> SqliteSink::statement(const std::string& sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    Result<Statement> prepared = db_->prepare(sql);
    if (!prepared) {
      return fail(prepared.error());
    }
    found = statements_.emplace(sql, std::move(*prepared)).first;
  }
  found->second.reset();
  return &found->second;
}

Status SqliteSink::apply_change(const Change& change) {
  auto schema_it = schemas_.find(change.collection);
  if (schema_it == schemas_.end()) {
    return make_error(ErrorCode::kPermanent, "table {} was not prepared", change.collection);
  }
  const CollectionSchema& schema = schema_it->second;
  const std::string table = quote_ident(schema.name);
  if (change.op == Op::kTruncate) {
    return db_->exec(fmt::format("DELETE FROM {}", table));
  }
  if (change.key.size() != schema.primary_key.size()) {
    return make_error(ErrorCode::kPermanent, "table {}: a change has {} key values, expected {}",
                      schema.name, change.key.size(), schema.primary_key.size());
  }
  auto is_key = [&](const std::string& name) {
    return std::find(schema.primary_key.begin(), schema.primary_key.end(), name) !=
           schema.primary_key.end();
  };
  std::vector<const Value*> values;
  for (const Value& value : change.key) {
    values.push_back(&value);
  }
  // The SQL depends only on the table, the op and which columns are present:
  // the statement of the previous change of the table is reused while they
  // match (the common case: every change has every column).
  Prepared& prepared = change.op == Op::kDelete ? deletes_[schema.name] : upserts_[schema.name];
  bool same = prepared.stmt != nullptr;
  std::size_t n = 0;
  for (const auto& [name, value] : change.fields) {
    if (change.op == Op::kDelete || is_key(name)) {
      continue;
    }
    same = same && n < prepared.fields.size() && prepared.fields[n] == name;
    ++n;
    values.push_back(&value);
  }
  same = same && n == prepared.fields.size();
  if (!same) {
    std::string sql;
    prepared.fields.clear();
    if (change.op == Op::kDelete) {
      sql = fmt::format("DELETE FROM {} WHERE ", table);
      for (std::size_t i = 0; i < schema.primary_key.size(); ++i) {
        sql += fmt::format("{}{} = ?", i == 0 ? "" : " AND ", quote_ident(schema.primary_key[i]));
      }
    } else {
      // The key columns come from change.key; every other column only when
      // present, so that a column the source could not read keeps its value.
      std::string columns;
      std::string placeholders;
      std::string updates;
      std::string conflict;
      for (std::size_t i = 0; i < schema.primary_key.size(); ++i) {
        columns += (i == 0 ? "" : ", ") + quote_ident(schema.primary_key[i]);
        placeholders += i == 0 ? "?" : ", ?";
        conflict += (i == 0 ? "" : ", ") + quote_ident(schema.primary_key[i]);
      }
      for (const auto& [name, value] : change.fields) {
        if (is_key(name)) {
          continue;
        }
        prepared.fields.push_back(name);
        columns += ", " + quote_ident(name);
        placeholders += ", ?";
        updates += fmt::format("{}{} = excluded.{}", updates.empty() ? "" : ", ", quote_ident(name),
                               quote_ident(name));
      }
      sql = fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO {}", table, columns,
                        placeholders, conflict,
                        updates.empty() ? "NOTHING" : "UPDATE SET " + updates);
    }
    Result<Statement*> built = statement(sql);
    if (!built) {
      prepared.stmt = nullptr;
      return fail(built.error().with_context(fmt::format("table {}", schema.name)));
    }
    prepared.stmt = *built;  // statement() hands it out reset
  } else {
    prepared.stmt->reset();
  }
  Statement* stmt = prepared.stmt;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (Status s = stmt->bind(static_cast<int>(i + 1), *values[i]); !s) {
      return s;
    }
  }
  return with_context(stmt->run(), fmt::format("{} into {}", to_string(change.op), schema.name));
}

Status SqliteSink::reset_checkpoint() {
  Result<Statement> remove =
      db_->prepare("DELETE FROM _megasync_checkpoints WHERE job = ? AND target = ?");
  if (!remove) {
    return fail(remove.error().with_context("reset checkpoint"));
  }
  (void)remove->bind(1, job_);
  (void)remove->bind(2, target_);
  Result<bool> done = remove->step();
  return done ? ok() : fail(done.error().with_context("reset checkpoint"));
}

Result<bool> SqliteSink::can_replace() {
  for (const auto& [name, schema] : schemas_) {
    // Deleting a table's rows would cascade to, or be refused by, another's.
    Result<Statement> referenced = db_->prepare(
        "SELECT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = "
        "'table' AND f.\"table\" = ? AND m.name <> ? LIMIT 1");
    if (!referenced) {
      return fail(referenced.error().with_context(fmt::format("foreign keys to {}", name)));
    }
    (void)referenced->bind(1, name);
    (void)referenced->bind(2, name);
    Result<bool> row = referenced->step();
    if (!row) {
      return fail(row.error().with_context(fmt::format("foreign keys to {}", name)));
    }
    if (*row) {
      return false;
    }
  }
  return true;
}

Status SqliteSink::apply(const Batch& batch) {
  if (replacing_ && !batch.replace) {
    replacing_ = false;
    (void)db_->exec("ROLLBACK");
    return make_error(ErrorCode::kRetryable,
                      "a resync's snapshot stopped before its last batch and was rolled back");
  }
  Status applied = [&]() -> Status {
    if (!replacing_) {
      if (Status s = db_->exec("BEGIN IMMEDIATE"); !s) {
        return s;
      }
      if (batch.replace) {
        // The resync's transaction: readers see the old rows until it commits.
        replacing_ = true;
        for (const auto& [name, schema] : schemas_) {
          if (Status s = db_->exec(fmt::format("DELETE FROM {}", quote_ident(name))); !s) {
            return fail(s.error().with_context(fmt::format("clear {}", name)));
          }
        }
      }
    }
    for (const Change& change : batch.changes) {
      if (Status s = apply_change(change); !s) {
        return s;
      }
    }
    if (replacing_ && batch.end.empty()) {
      return ok();  // the resync's next batch goes on in this transaction
    }
    if (!batch.end.empty()) {
      // In the batch's transaction: what is applied and what is checkpointed agree.
      Result<Statement*> save = statement(
          "INSERT INTO _megasync_checkpoints(job, target, position, updated_at) VALUES (?, ?, ?, "
          "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT (job, target) DO UPDATE SET "
          "position = excluded.position, updated_at = excluded.updated_at");
      Status saved = save ? (*save)->bind(1, job_) : fail(save.error());
      if (saved) {
        (void)(*save)->bind(2, target_);
        (void)(*save)->bind(3, batch.end);
        saved = (*save)->run();
      }
      if (!saved) {
        return fail(saved.error().with_context("save checkpoint"));
      }
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

}  // namespace megasync::connectors::sqlite
