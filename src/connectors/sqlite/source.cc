#include "connectors/sqlite/source.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/sqlite/schema.h"

namespace megasync::connectors::sqlite {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr const char* kNowMillis = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

std::string key_json(const CollectionSchema& schema, const char* row) {
  std::string out = "json_array(";
  for (std::size_t i = 0; i < schema.primary_key.size(); ++i) {
    out += fmt::format("{}{}.{}", i == 0 ? "" : ", ", row, quote_ident(schema.primary_key[i]));
  }
  return out + ")";
}

std::string column_list(const CollectionSchema& schema) {
  std::string out;
  for (std::size_t i = 0; i < schema.columns.size(); ++i) {
    out += (i == 0 ? "" : ", ") + quote_ident(schema.columns[i].name);
  }
  return out;
}

Result<std::vector<Value>> parse_key(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) {
    return make_error(ErrorCode::kPermanent, "change log key {} is not a JSON array", text);
  }
  std::vector<Value> key;
  for (const auto& item : parsed) {
    if (item.is_number_integer()) {
      key.emplace_back(item.get<std::int64_t>());
    } else if (item.is_number()) {
      key.emplace_back(item.get<double>());
    } else if (item.is_string()) {
      key.emplace_back(item.get<std::string>());
    } else if (item.is_null()) {
      key.emplace_back(std::monostate{});
    } else {
      return make_error(ErrorCode::kPermanent, "change log key {} holds a non-scalar", text);
    }
  }
  return key;
}

std::size_t approximate_size(const Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    return s->size();
  }
  if (const auto* b = std::get_if<Bytes>(&value)) {
    return b->data.size();
  }
  return 8;
}

std::size_t approximate_size(const Change& change) {
  std::size_t size = change.collection.size();
  for (const Value& v : change.key) {
    size += approximate_size(v);
  }
  for (const auto& [name, v] : change.fields) {
    size += name.size() + approximate_size(v);
  }
  return size;
}

}  // namespace

Position encode_position(std::int64_t seq) {
  return fmt::format("{:020}", seq);
}

std::optional<std::int64_t> decode_position(const Position& position) {
  std::int64_t seq = 0;
  const char* end = position.data() + position.size();
  auto [ptr, ec] = std::from_chars(position.data(), end, seq);
  if (ec != std::errc() || ptr != end || seq < 0) {
    return std::nullopt;
  }
  return seq;
}

std::string trigger_name(const std::string& job, const std::string& table, const char* suffix) {
  return fmt::format("_megasync_{}_{}_{}", job, table, suffix);
}

SqliteSource::~SqliteSource() {
  snapshot_scan_.reset();
  if (in_snapshot_) {
    (void)db_->exec("ROLLBACK");
  }
}

Result<std::vector<CollectionSchema>> SqliteSource::describe() {
  if (schemas_.empty()) {
    Result<std::vector<CollectionSchema>> schemas = describe_tables(*db_, patterns_);
    if (!schemas) {
      return fail(schemas.error());
    }
    for (const CollectionSchema& schema : *schemas) {
      for (const std::string& key : schema.primary_key) {
        // json_array() cannot hold a blob: the trigger would fail the application's write.
        if (schema.column(key)->type == ColumnType::kBytes) {
          return make_error(ErrorCode::kInvalidConfig,
                            "{}: table {}: primary key column {} is a BLOB, which change capture "
                            "cannot log",
                            db_->path(), schema.name, key);
        }
      }
    }
    schemas_ = std::move(*schemas);
    by_name_.clear();
    for (std::size_t i = 0; i < schemas_.size(); ++i) {
      by_name_[schemas_[i].name] = i;
    }
  }
  return schemas_;
}

Status SqliteSource::install_capture() {
  // One write transaction: the log and every trigger appear together, and the
  // triggers are recreated so they follow a changed primary key.
  std::string sql = fmt::format(
      "BEGIN IMMEDIATE;"
      "CREATE TABLE IF NOT EXISTS _megasync_changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, "
      "job TEXT, tbl TEXT, op TEXT, pk TEXT, at INTEGER);"
      "CREATE INDEX IF NOT EXISTS _megasync_changes_job ON _megasync_changes(job, seq);");
  const std::string job = quote_literal(job_);
  for (const CollectionSchema& schema : schemas_) {
    const std::string table = quote_ident(schema.name);
    const std::string tbl = quote_literal(schema.name);
    const std::string old_key = key_json(schema, "OLD");
    const std::string new_key = key_json(schema, "NEW");
    const std::string ins = quote_ident(trigger_name(job_, schema.name, "ins"));
    const std::string upd = quote_ident(trigger_name(job_, schema.name, "upd"));
    const std::string del = quote_ident(trigger_name(job_, schema.name, "del"));
    const std::string insert = "INSERT INTO _megasync_changes(job, tbl, op, pk, at)";
    sql += fmt::format(
        "DROP TRIGGER IF EXISTS {0}; DROP TRIGGER IF EXISTS {1};"
        "DROP TRIGGER IF EXISTS {2};",
        ins, upd, del);
    sql += fmt::format(
        "CREATE TRIGGER {} AFTER INSERT ON {} BEGIN {} VALUES({}, {}, 'upsert', {}, {}); END;", ins,
        table, insert, job, tbl, new_key, kNowMillis);
    // A key change is a delete of the old key and an upsert of the new one.
    sql += fmt::format(
        "CREATE TRIGGER {0} AFTER UPDATE ON {1} BEGIN "
        "{2} SELECT {3}, {4}, 'delete', {5}, {7} WHERE {5} IS NOT {6}; "
        "{2} VALUES({3}, {4}, 'upsert', {6}, {7}); END;",
        upd, table, insert, job, tbl, old_key, new_key, kNowMillis);
    sql += fmt::format(
        "CREATE TRIGGER {} AFTER DELETE ON {} BEGIN {} VALUES({}, {}, 'delete', {}, {}); END;", del,
        table, insert, job, tbl, old_key, kNowMillis);
  }
  sql += "COMMIT;";
  if (Status s = db_->exec(sql); !s) {
    (void)db_->exec("ROLLBACK");
    return fail(s.error().with_context("install change capture"));
  }
  return ok();
}

Status SqliteSource::open(const std::optional<Position>& resume_after) {
  if (Result<std::vector<CollectionSchema>> schemas = describe(); !schemas) {
    return fail(schemas.error());
  }
  if (Status s = install_capture(); !s) {
    return s;
  }
  if (!resume_after) {
    return begin_snapshot();
  }
  std::optional<std::int64_t> seq = decode_position(*resume_after);
  if (!seq) {
    return make_error(ErrorCode::kPermanent, "checkpoint {:?} is not a sqlite source position",
                      *resume_after);
  }
  last_seq_ = *seq;
  return ok();
}

Status SqliteSource::begin_snapshot() {
  // The log position and the table contents come from one read transaction: a
  // write committed before it is in the snapshot, one committed after it is in
  // the log with a higher seq (SQLite has one writer at a time).
  if (Status s = db_->exec("BEGIN"); !s) {
    return s;
  }
  in_snapshot_ = true;
  Result<Statement> max = db_->prepare("SELECT coalesce(max(seq), 0) FROM _megasync_changes");
  if (!max) {
    return fail(max.error());
  }
  Result<bool> row = max->step();
  if (!row) {
    return fail(row.error().with_context("start snapshot"));
  }
  snapshot_seq_ = max->column_int64(0);
  last_seq_ = snapshot_seq_;
  snapshot_table_ = 0;
  return ok();
}

Result<std::optional<Statement>> SqliteSource::open_table_scan(const CollectionSchema& schema) {
  Result<Statement> scan =
      db_->prepare(fmt::format("SELECT {} FROM {}", column_list(schema), quote_ident(schema.name)));
  if (!scan) {
    return fail(scan.error().with_context(fmt::format("snapshot {}", schema.name)));
  }
  return std::optional<Statement>(std::move(*scan));
}

Result<std::optional<Batch>> SqliteSource::next_snapshot(std::size_t max_changes) {
  Batch batch;
  batch.snapshot = true;
  while (snapshot_table_ < schemas_.size() && batch.changes.size() < max_changes) {
    const CollectionSchema& schema = schemas_[snapshot_table_];
    if (!snapshot_scan_) {
      Result<std::optional<Statement>> scan = open_table_scan(schema);
      if (!scan) {
        return fail(scan.error());
      }
      snapshot_scan_.emplace(std::move(**scan));
    }
    Result<bool> row = snapshot_scan_->step();
    if (!row) {
      return fail(row.error().with_context(fmt::format("snapshot {}", schema.name)));
    }
    if (!*row) {
      snapshot_scan_.reset();
      ++snapshot_table_;
      continue;
    }
    Change change;
    change.collection = schema.name;
    change.position = encode_position(snapshot_seq_);
    for (std::size_t i = 0; i < schema.columns.size(); ++i) {
      change.fields[schema.columns[i].name] = snapshot_scan_->column(static_cast<int>(i));
    }
    for (const std::string& key : schema.primary_key) {
      change.key.push_back(change.fields[key]);
    }
    batch.bytes += approximate_size(change);
    batch.changes.push_back(std::move(change));
  }
  if (snapshot_table_ == schemas_.size()) {
    if (Status s = db_->exec("COMMIT"); !s) {
      return fail(s.error().with_context("finish snapshot"));
    }
    in_snapshot_ = false;
    // Only the last snapshot batch says where the log continues: a restart in
    // the middle of the snapshot starts it again.
    batch.end = encode_position(snapshot_seq_);
  }
  return std::optional<Batch>(std::move(batch));
}

Result<std::optional<Fields>> SqliteSource::read_row(const CollectionSchema& schema,
                                                     const std::vector<Value>& key) {
  std::string where;
  for (std::size_t i = 0; i < schema.primary_key.size(); ++i) {
    where += fmt::format("{}{} = ?", i == 0 ? "" : " AND ", quote_ident(schema.primary_key[i]));
  }
  Result<Statement> select = db_->prepare(fmt::format(
      "SELECT {} FROM {} WHERE {}", column_list(schema), quote_ident(schema.name), where));
  if (!select) {
    return fail(select.error());
  }
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (Status s = select->bind(static_cast<int>(i + 1), key[i]); !s) {
      return fail(s.error());
    }
  }
  Result<bool> row = select->step();
  if (!row) {
    return fail(row.error());
  }
  if (!*row) {
    return std::optional<Fields>();
  }
  Fields fields;
  for (std::size_t i = 0; i < schema.columns.size(); ++i) {
    fields[schema.columns[i].name] = select->column(static_cast<int>(i));
  }
  return std::optional<Fields>(std::move(fields));
}

Result<std::optional<Batch>> SqliteSource::read_log(std::size_t max_changes) {
  // One read transaction: the rows read for upserts are consistent with each
  // other and at least as new as the log rows that name them.
  if (Status s = db_->exec("BEGIN"); !s) {
    return fail(s.error());
  }
  auto result = [&]() -> Result<std::optional<Batch>> {
    Result<Statement> log = db_->prepare(
        "SELECT seq, tbl, op, pk FROM _megasync_changes WHERE job = ? AND seq > ? ORDER BY seq "
        "LIMIT ?");
    if (!log) {
      return fail(log.error());
    }
    if (Status s = log->bind(1, job_); !s) {
      return fail(s.error());
    }
    (void)log->bind(2, std::int64_t{last_seq_});
    (void)log->bind(3, static_cast<std::int64_t>(std::max<std::size_t>(max_changes, 1)));
    Batch batch;
    std::int64_t last = last_seq_;
    while (true) {
      Result<bool> row = log->step();
      if (!row) {
        return fail(row.error().with_context("read change log"));
      }
      if (!*row) {
        break;
      }
      last = log->column_int64(0);
      auto table = by_name_.find(log->column_text(1));
      if (table == by_name_.end()) {
        continue;  // a table no longer configured; its rows are pruned with the rest
      }
      const CollectionSchema& schema = schemas_[table->second];
      Result<std::vector<Value>> key = parse_key(log->column_text(3));
      if (!key) {
        return fail(key.error());
      }
      Change change;
      change.collection = schema.name;
      change.key = std::move(*key);
      change.position = encode_position(last);
      change.op = Op::kDelete;
      if (log->column_text(2) == "upsert") {
        Result<std::optional<Fields>> fields = read_row(schema, change.key);
        if (!fields) {
          return fail(fields.error().with_context(fmt::format("read {}", schema.name)));
        }
        // A row deleted since it was logged is a delete (its own delete row follows).
        if (*fields) {
          change.op = Op::kUpsert;
          change.fields = std::move(**fields);
        }
      }
      batch.bytes += approximate_size(change);
      batch.changes.push_back(std::move(change));
    }
    if (last == last_seq_) {
      return std::optional<Batch>();
    }
    batch.end = encode_position(last);
    last_seq_ = last;
    return std::optional<Batch>(std::move(batch));
  }();
  (void)db_->exec("COMMIT");
  return result;
}

Result<std::optional<Batch>> SqliteSource::next(Deadline until, std::size_t max_changes) {
  if (in_snapshot_) {
    return next_snapshot(std::max<std::size_t>(max_changes, 1));
  }
  while (true) {
    Result<std::optional<Batch>> batch = read_log(max_changes);
    if (!batch || *batch || until.expired()) {
      return batch;
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(kPollInterval, until.remaining()));
  }
}

Status SqliteSource::release(const Position& durable_everywhere) {
  std::optional<std::int64_t> seq = decode_position(durable_everywhere);
  if (!seq || in_snapshot_) {
    return ok();  // nothing to prune yet; a write inside the snapshot's read would conflict
  }
  Result<Statement> prune =
      db_->prepare("DELETE FROM _megasync_changes WHERE job = ? AND seq <= ?");
  if (!prune) {
    return fail(prune.error());
  }
  (void)prune->bind(1, job_);
  (void)prune->bind(2, *seq);
  return with_context(prune->run(), "prune change log");
}

Result<std::optional<std::int64_t>> SqliteSource::backlog(const std::optional<Position>& after) {
  auto count = [&](const std::string& sql, bool bind) -> Result<std::int64_t> {
    Result<Statement> query = db_->prepare(sql);
    if (!query) {
      return fail(query.error());
    }
    if (bind) {
      (void)query->bind(1, job_);
      (void)query->bind(2, decode_position(*after).value_or(0));
    }
    Result<bool> row = query->step();
    if (!row) {
      return fail(row.error());
    }
    return *row ? query->column_int64(0) : 0;
  };
  if (after) {
    Result<std::int64_t> n =
        count("SELECT count(*) FROM _megasync_changes WHERE job = ? AND seq > ?", true);
    return n ? Result<std::optional<std::int64_t>>(*n) : fail(n.error());
  }
  // No checkpoint: the target needs the whole snapshot.
  std::int64_t total = 0;
  for (const CollectionSchema& schema : schemas_) {
    Result<std::int64_t> n =
        count(fmt::format("SELECT count(*) FROM {}", quote_ident(schema.name)), false);
    if (!n) {
      return fail(n.error());
    }
    total += *n;
  }
  return std::optional<std::int64_t>(total);
}

int SqliteSource::compare(const Position& a, const Position& b) const {
  const std::int64_t x = decode_position(a).value_or(-1);
  const std::int64_t y = decode_position(b).value_or(-1);
  return x < y ? -1 : (x > y ? 1 : 0);
}

}  // namespace megasync::connectors::sqlite
