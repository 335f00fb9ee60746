#include "connectors/postgres/sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>

#include "connectors/postgres/copy_text.h"
#include "connectors/postgres/lsn.h"
#include "connectors/postgres/text_format.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

constexpr std::size_t kCopyChunk = 64 * 1024;  // bytes of COPY data sent at once
// A snapshot COPY open across batches is committed at least this often: the
// transaction a failure rolls back stays bounded.
constexpr std::size_t kSpanBytes = std::size_t{256} << 20;
// Planner settings of every batch's transaction (see PostgresSink::apply).
constexpr std::string_view kPlan =
    "SET LOCAL jit = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";
// Batches an upsert group goes INSERT ... ON CONFLICT before it tries
// UPDATE-first again (PostgresSink::UpsertMode).
constexpr int kUpdateProbeEvery = 8;

// Writes rows in COPY text form for `columns` of `schema`: JSON arrays into
// array columns as array literals, dates and timestamps with BC years in
// PostgreSQL's form, everything else by append_copy_value.
class RowEncoder {
 public:
  RowEncoder(const CollectionSchema& schema, const std::vector<std::string>& columns,
             const std::set<std::string>& arrays) {
    for (const std::string& column : columns) {
      is_array_.push_back(arrays.contains(column));
      const Column* described = schema.column(column);
      const ColumnType type = described != nullptr ? described->type : ColumnType::kText;
      is_time_.push_back(type == ColumnType::kDate || type == ColumnType::kTimestamp ||
                         type == ColumnType::kTimestampTz);
    }
  }

  // One row; `values` in the order of the columns.
  void append(const std::vector<const Value*>& values, std::string& data) const {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) {
        data += '\t';
      }
      const Value& value = *values[i];
      const auto* text = std::get_if<std::string>(&value);
      if (text != nullptr && is_array_[i]) {
        // Not a JSON array: written as it is.
        std::optional<std::string> literal = json_to_array_literal(*text);
        append_copy_value(literal ? Value(*std::move(literal)) : value, data);
      } else if (text != nullptr && is_time_[i] &&
                 (text->starts_with('-') || text->starts_with("0000"))) {
        // A year before 1 (ISO's 0000 is 1 BC): PostgreSQL wants "... BC".
        append_copy_value(Value(iso_to_pg_input(*text)), data);
      } else {
        append_copy_value(value, data);
      }
    }
    data += '\n';
  }

 private:
  std::vector<bool> is_array_;
  std::vector<bool> is_time_;
};

// How a snapshot COPY writes rows of one shape (a snapshot reads every field
// of a row): the key, then the other fields in name order.
struct CopyLayout {
  std::vector<std::string> fields;   // a row's field names, in order
  std::vector<std::string> columns;  // the COPY's columns
  std::vector<bool> key_field;       // by field: one of the key's
  std::size_t keys = 0;

  CopyLayout(const CollectionSchema& schema, const Fields& first) : columns(schema.primary_key) {
    keys = schema.primary_key.size();
    for (const auto& [field, value] : first) {
      fields.push_back(field);
      key_field.push_back(std::find(schema.primary_key.begin(), schema.primary_key.end(), field) !=
                          schema.primary_key.end());
      if (!key_field.back()) {
        columns.push_back(field);
      }
    }
  }

  // The change carries the key and exactly the fields, in order.
  bool fits(const Change& change) const {
    return change.op == Op::kUpsert && change.key.size() == keys &&
           change.fields.size() == fields.size() &&
           std::equal(change.fields.begin(), change.fields.end(), fields.begin(),
                      [](const auto& a, const std::string& b) { return a.first == b; });
  }

  // Appends one row that fits, in binary when `binary` is set; false, having
  // appended nothing, when binary cannot write one of its values.
  bool append(const Change& change, const RowEncoder& text, const BinaryRowEncoder* binary,
              std::vector<const Value*>& values, std::string& data) const {
    values.resize(columns.size());
    std::size_t i = 0;
    for (; i < keys; ++i) {
      values[i] = &change.key[i];
    }
    std::size_t f = 0;
    for (const auto& [field, value] : change.fields) {
      if (!key_field[f++]) {
        values[i++] = &value;
      }
    }
    if (binary == nullptr) {
      text.append(values, data);
      return true;
    }
    return binary->append(values, data);
  }
};

std::string join_quoted(const std::vector<std::string>& names, std::string_view prefix = "") {
  std::string out;
  for (const std::string& name : names) {
    out += fmt::format("{}{}{}", out.empty() ? "" : ", ", prefix, quote_ident(name));
  }
  return out;
}

// Last writer wins: true when the row `incoming` should replace the target's
// row `t`. A NULL version is older than any other; NULL in the comparison
// (incoming NULL, target not) counts as "not newer".
std::string newer_condition(const std::string& version, std::string_view incoming,
                            bool incoming_wins_ties) {
  const std::string v = quote_ident(version);
  return fmt::format(
      "({in}.{v} > t.{v} OR (t.{v} IS NULL AND {in}.{v} IS NOT NULL) OR ({in}.{v} IS NOT "
      "DISTINCT FROM t.{v} AND {wins}))",
      fmt::arg("in", incoming), fmt::arg("v", v),
      fmt::arg("wins", incoming_wins_ties ? "true" : "false"));
}

// True when `incoming` differs from the target's row `t` in a column it carries.
// Compared as text: json, point and others have no equality operator.
std::string differs_condition(const std::vector<std::string>& columns, std::size_t first,
                              std::string_view incoming) {
  std::string out;
  for (std::size_t i = first; i < columns.size(); ++i) {
    const std::string c = quote_ident(columns[i]);
    out += fmt::format("{}t.{}::text IS DISTINCT FROM {}.{}::text", out.empty() ? "" : " OR ", c,
                       incoming, c);
  }
  return out.empty() ? "false" : "(" + out + ")";
}

}  // namespace

std::pair<std::string, std::string> split_collection(const std::string& collection) {
  const std::size_t dot = collection.find('.');
  if (dot == std::string::npos) {
    return {"public", collection};
  }
  return {collection.substr(0, dot), collection.substr(dot + 1)};
}

std::string qualified_name(const std::string& collection) {
  if (collection.find('.') == std::string::npos) {
    return quote_ident(collection);
  }
  const auto [schema, table] = split_collection(collection);
  return quote_ident(schema) + "." + quote_ident(table);
}

Status PostgresSink::prepare(const std::vector<CollectionSchema>& schemas) {
  if (Status s = close_copy(); !s) {
    return s;
  }
  if (Status s = db_->exec(
          "CREATE TABLE IF NOT EXISTS public._megasync_checkpoints (job text NOT NULL, target "
          "text NOT NULL, position text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
          "PRIMARY KEY (job, target))");
      !s) {
    return fail(s.error().with_context("create _megasync_checkpoints"));
  }
  for (const CollectionSchema& schema : schemas) {
    const auto [namespace_name, table] = split_collection(schema.name);
    Result<Rows> existing = db_->query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 "
        "AND table_name = $2",
        {namespace_name, table});
    if (!existing) {
      return fail(existing.error().with_context(fmt::format("describe table {}", schema.name)));
    }
    std::set<std::string> columns;
    std::set<std::string>& arrays = array_columns_[schema.name];
    arrays.clear();
    column_types_.erase(schema.name);
    for (int row = 0; row < existing->count(); ++row) {
      columns.insert(existing->text(row, 0));
      if (existing->text(row, 1) == "ARRAY") {
        arrays.insert(existing->text(row, 0));
      }
    }
    // The type of a column to create; array columns take their values (JSON
    // arrays) as array literals.
    auto declare = [&](const Column& column) {
      std::string type = column_declaration(column, schema.type_system);
      if (type.ends_with("]")) {
        arrays.insert(column.name);
      }
      return type;
    };
    std::string sql;
    if (columns.empty()) {
      if (namespace_name != "public") {
        sql += fmt::format("CREATE SCHEMA IF NOT EXISTS {}; ", quote_ident(namespace_name));
      }
      sql += fmt::format("CREATE TABLE IF NOT EXISTS {} (", qualified_name(schema.name));
      for (const Column& column : schema.columns) {
        sql += fmt::format("{} {}, ", quote_ident(column.name), declare(column));
      }
      sql += fmt::format("PRIMARY KEY ({}))", join_quoted(schema.primary_key));
    } else {
      for (const Column& column : schema.columns) {
        if (!columns.contains(column.name)) {
          sql +=
              fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}; ",
                          qualified_name(schema.name), quote_ident(column.name), declare(column));
        }
      }
    }
    if (!sql.empty()) {
      if (Status s = db_->exec(sql); !s) {
        return fail(s.error().with_context(fmt::format("prepare table {}", schema.name)));
      }
    }
    if (!request_.version_column.empty() && schema.column(request_.version_column) == nullptr) {
      return make_error(ErrorCode::kInvalidConfig,
                        "table {} has no column {} (the job's version_column): add it to every "
                        "table of a bidirectional pair",
                        schema.name, request_.version_column);
    }
    schemas_[schema.name] = schema;
  }
  return setup_origin();
}

Status PostgresSink::setup_origin() {
  if (request_.origin.empty() || origin_ready_) {
    return ok();
  }
  // pg_replication_origin is shared by the cluster's databases: the name holds
  // the job and the target endpoint, so two pairs never share an origin.
  Result<Rows> done = db_->query(
      "SELECT pg_replication_origin_create($1) WHERE pg_replication_origin_oid($1) IS NULL",
      {request_.origin});
  if (done) {
    done = db_->query("SELECT pg_replication_origin_session_setup($1)", {request_.origin});
  }
  if (!done) {
    const std::string& message = done.error().message();
    if (message.find("permission denied") != std::string::npos) {
      return make_error(ErrorCode::kPermanent,
                        "replication origin {}: {} (the role needs superuser, or: GRANT EXECUTE "
                        "ON FUNCTION pg_replication_origin_oid(text), "
                        "pg_replication_origin_create(text), "
                        "pg_replication_origin_session_setup(text), "
                        "pg_replication_origin_xact_setup(pg_lsn, timestamptz) TO <role>)",
                        request_.origin, message);
    }
    return fail(done.error().with_context(fmt::format("replication origin {}", request_.origin)));
  }
  origin_ready_ = true;
  return ok();
}

Result<std::optional<Position>> PostgresSink::load_checkpoint() {
  if (Status s = close_copy(); !s) {
    return fail(s.error());
  }
  Result<Rows> rows =
      db_->query("SELECT position FROM public._megasync_checkpoints WHERE job = $1 AND target = $2",
                 {request_.job, request_.target});
  if (!rows) {
    return fail(rows.error().with_context("read checkpoint"));
  }
  if (rows->count() == 0) {
    return std::optional<Position>();
  }
  return std::optional<Position>(rows->text(0, 0));
}

Status PostgresSink::reset_checkpoint() {
  if (Status s = close_copy(); !s) {
    return s;
  }
  Result<Rows> deleted =
      db_->query("DELETE FROM public._megasync_checkpoints WHERE job = $1 AND target = $2",
                 {request_.job, request_.target});
  return deleted ? ok() : fail(deleted.error().with_context("reset checkpoint"));
}

struct PostgresSink::OpenCopy {
  std::string table;
  CopyLayout layout;
  RowEncoder text;
  std::optional<BinaryRowEncoder> binary;
  std::size_t bytes = 0;  // sent in this transaction

  std::string statement() const {
    return fmt::format("COPY {} ({}) FROM STDIN{}", qualified_name(table),
                       join_quoted(layout.columns), binary ? " (FORMAT binary)" : "");
  }
};

Result<std::unique_ptr<PostgresSink::OpenCopy>> PostgresSink::copy_shape(
    const CollectionSchema& schema, const Fields& first) {
  CopyLayout layout(schema, first);
  RowEncoder text(schema, layout.columns, array_columns_[schema.name]);
  std::optional<BinaryRowEncoder> binary;
  if (!text_copy_.contains(schema.name)) {
    Result<std::optional<BinaryRowEncoder>> made = binary_encoder(schema, layout.columns);
    if (!made) {
      return fail(made.error());
    }
    binary = std::move(*made);
  }
  return std::make_unique<OpenCopy>(OpenCopy{.table = schema.name,
                                             .layout = std::move(layout),
                                             .text = std::move(text),
                                             .binary = std::move(binary)});
}

PostgresSink::PostgresSink(std::unique_ptr<Connection> db, engine::SinkRequest request,
                           bool truncate)
    : db_(std::move(db)), request_(std::move(request)), truncate_(truncate) {}

// An open COPY is left to the connection's end, which rolls it back: the run
// stopped before the snapshot's last batch, and the next one takes it again.
PostgresSink::~PostgresSink() = default;

Result<bool> PostgresSink::started_empty(const CollectionSchema& schema) {
  if (auto known = started_empty_.find(schema.name); known != started_empty_.end()) {
    return known->second;
  }
  Result<Rows> found =
      db_->query(fmt::format("SELECT NOT EXISTS (SELECT 1 FROM {})", qualified_name(schema.name)));
  if (!found) {
    return fail(found.error().with_context(fmt::format("is {} empty", schema.name)));
  }
  const bool empty = found->count() == 1 && found->text(0, 0) == "t";
  started_empty_[schema.name] = empty;
  return empty;
}

Status PostgresSink::begin_copy(const CollectionSchema& schema, const Change& first) {
  Result<std::unique_ptr<OpenCopy>> shape = copy_shape(schema, first.fields);
  if (!shape) {
    return fail(shape.error());
  }
  open_copy_ = std::move(*shape);
  Status begun = db_->copy_begin(open_copy_->statement());
  if (begun && open_copy_->binary) {
    std::string header;
    BinaryRowEncoder::append_header(header);
    begun = db_->copy_put(header);
  }
  if (!begun) {
    open_copy_.reset();
    return fail(begun.error().with_context(fmt::format("snapshot COPY into {}", schema.name)));
  }
  return ok();
}

Status PostgresSink::end_copy() {
  if (!open_copy_) {
    return ok();
  }
  Status ended = [&]() -> Status {
    if (open_copy_->binary) {
      std::string trailer;
      BinaryRowEncoder::append_trailer(trailer);
      if (Status s = db_->copy_put(trailer); !s) {
        return s;
      }
    }
    return db_->copy_end();
  }();
  const std::string table = open_copy_->table;
  open_copy_.reset();
  return ended ? ok()
               : fail(ended.error().with_context(fmt::format("snapshot COPY into {}", table)));
}

Status PostgresSink::close_copy(const Position* end) {
  if (replacing_) {
    // A resync commits with its last batch only.
    if (open_copy_) {
      open_copy_.reset();
      (void)db_->copy_end("megasync: the resync was interrupted");
    }
    (void)db_->exec("ROLLBACK");
    replacing_ = false;
    return make_error(ErrorCode::kRetryable,
                      "a resync's snapshot stopped before its last batch and was rolled back");
  }
  if (!open_copy_) {
    return ok();
  }
  const std::string table = open_copy_->table;
  Status closed = [&]() -> Status {
    if (Status s = end_copy(); !s) {
      return s;
    }
    if (end != nullptr) {
      if (Status s = save_checkpoint(*end); !s) {
        return s;
      }
      return db_->exec("COMMIT");
    }
    // Without a checkpoint nothing resumes from it: see apply().
    return db_->exec("SET LOCAL synchronous_commit = off; COMMIT");
  }();
  if (!closed) {
    (void)db_->exec("ROLLBACK");
    return fail(closed.error().with_context(fmt::format("snapshot COPY into {}", table)));
  }
  return ok();
}

Result<bool> PostgresSink::apply_spanning(const Batch& batch) {
  const Change* first = batch.changes.empty() ? nullptr : &batch.changes.front();
  auto schema = first != nullptr ? schemas_.find(first->collection) : schemas_.end();
  bool fits = batch.snapshot && batch.schema_changes.empty() && schema != schemas_.end() &&
              request_.origin.empty();
  if (fits && open_copy_ && open_copy_->table != first->collection) {
    fits = false;
  }
  if (fits && !open_copy_) {
    // A snapshot of one batch takes the general path; a table with rows may
    // hold some of the snapshot's already (a COPY would fail on them).
    if (!batch.end.empty()) {
      return false;
    }
    Result<bool> direct = may_copy_directly(schema->second);
    if (!direct) {
      return fail(direct.error());
    }
    Result<bool> empty = *direct ? started_empty(schema->second) : Result<bool>(false);
    if (!empty) {
      return fail(empty.error());
    }
    if (!*empty) {
      return false;
    }
    // One statement for the whole snapshot: a statement_timeout meant for
    // queries must not cut it (pg_restore's COPY sets it to 0 the same way).
    Status begun = db_->exec("BEGIN; SET LOCAL statement_timeout = 0; " + std::string(kPlan));
    if (begun) {
      begun = begin_copy(schema->second, *first);
    }
    if (!begun) {
      (void)db_->exec("ROLLBACK");
      return fail(begun.error());
    }
  }
  // The whole batch is written before any of it is sent: a row of another
  // shape, or a value binary cannot write, leaves the COPY as it was; it is
  // then committed, and the general path applies the batch (as text).
  std::string data;
  if (fits) {
    std::vector<const Value*> values;
    const BinaryRowEncoder* binary = open_copy_->binary ? &*open_copy_->binary : nullptr;
    for (const Change& change : batch.changes) {
      if (change.collection != open_copy_->table || !open_copy_->layout.fits(change) ||
          !open_copy_->layout.append(change, open_copy_->text, binary, values, data)) {
        fits = false;
        break;
      }
    }
  }
  if (!fits) {
    if (Status s = close_copy(); !s) {
      return fail(s.error());
    }
    return false;
  }
  if (Status s = db_->copy_put(data); !s) {
    const std::string table = open_copy_->table;
    open_copy_.reset();
    (void)db_->copy_end("megasync: the COPY failed");
    (void)db_->exec("ROLLBACK");
    return fail(s.error().with_context(fmt::format("snapshot COPY into {}", table)));
  }
  open_copy_->bytes += data.size();
  if (!batch.end.empty()) {
    if (Status s = close_copy(&batch.end); !s) {
      return fail(s.error());
    }
  } else if (open_copy_->bytes >= kSpanBytes) {
    if (Status s = close_copy(); !s) {
      return fail(s.error());
    }
  }
  return true;
}

Result<bool> PostgresSink::can_replace() {
  if (!request_.origin.empty()) {
    return false;  // one side of a pair: its rows are the other side's too
  }
  for (const auto& [name, schema] : schemas_) {
    // Clearing a table another one references would cascade to, or be
    // refused by, that one's rows.
    Result<Rows> referenced = db_->query(
        "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = "
        "$1::regclass AND conrelid <> confrelid LIMIT 1",
        {qualified_name(name)});
    if (!referenced) {
      return fail(referenced.error().with_context(fmt::format("foreign keys to {}", name)));
    }
    if (referenced->count() > 0) {
      spdlog::info(
          "target {}: table {} is referenced by a foreign key of {}: its rows are not "
          "replaced by a resync (the source's changes are replayed instead)",
          request_.target, name, referenced->text(0, 0));
      return false;
    }
  }
  return true;
}

Status PostgresSink::apply_replacing(const Batch& batch) {
  Status done = [&]() -> Status {
    if (!replacing_) {
      if (Status s = close_copy(); !s) {
        return s;
      }
      // One transaction for the whole snapshot: readers see the old rows
      // until it commits, and a failure or a crash leaves them.
      if (Status s = db_->exec("BEGIN; SET LOCAL statement_timeout = 0; " + std::string(kPlan));
          !s) {
        return s;
      }
      replacing_ = true;
      // DELETE leaves the old rows to readers until the commit; TRUNCATE
      // makes them wait for it, but the rows then go into new files, with
      // no dead ones to write first and to pass over in the key's index.
      std::string tables;
      for (const auto& [name, schema] : schemas_) {
        tables += (tables.empty() ? "" : ", ") + qualified_name(name);
        if (!truncate_) {
          if (Status s = db_->exec(fmt::format("DELETE FROM {}", qualified_name(name))); !s) {
            return fail(s.error().with_context(fmt::format("clear {}", name)));
          }
        }
      }
      if (truncate_ && !tables.empty()) {
        if (Status s = db_->exec("TRUNCATE " + tables); !s) {
          return fail(s.error().with_context(
              "clear the tables (resync_clear: truncate; the role needs TRUNCATE on them)"));
        }
      }
    }
    std::string data;
    std::vector<const Value*> values;
    auto send = [&]() -> Status {
      if (data.empty()) {
        return ok();
      }
      Status sent = db_->copy_put(data);
      data.clear();
      return sent;
    };
    for (const Change& change : batch.changes) {
      auto schema = schemas_.find(change.collection);
      if (schema == schemas_.end()) {
        return make_error(ErrorCode::kPermanent, "table {} was not prepared", change.collection);
      }
      if (change.op != Op::kUpsert || change.key.size() != schema->second.primary_key.size()) {
        return make_error(ErrorCode::kPermanent,
                          "table {}: a snapshot row that is not a whole row with its key",
                          change.collection);
      }
      // Rows of another table or shape start another COPY of the same
      // transaction; so does a value binary cannot write (then as text).
      for (int attempt = 0;; ++attempt) {
        if (open_copy_ &&
            (open_copy_->table != change.collection || !open_copy_->layout.fits(change))) {
          if (Status s = send(); !s) {
            return s;
          }
          if (Status s = end_copy(); !s) {
            return s;
          }
        }
        if (!open_copy_) {
          if (Status s = begin_copy(schema->second, change); !s) {
            return s;
          }
        }
        const BinaryRowEncoder* binary = open_copy_->binary ? &*open_copy_->binary : nullptr;
        if (open_copy_->layout.append(change, open_copy_->text, binary, values, data)) {
          break;
        }
        if (attempt > 0) {
          return make_error(ErrorCode::kPermanent, "table {}: a row COPY cannot write",
                            change.collection);
        }
        text_copy_.insert(change.collection);
        if (Status s = send(); !s) {
          return s;
        }
        if (Status s = end_copy(); !s) {
          return s;
        }
      }
      if (data.size() >= kCopyChunk) {
        if (Status s = send(); !s) {
          return s;
        }
      }
    }
    if (Status s = send(); !s) {
      return s;
    }
    if (batch.end.empty()) {
      return ok();
    }
    if (Status s = end_copy(); !s) {
      return s;
    }
    if (Status s = save_checkpoint(batch.end); !s) {
      return s;
    }
    replacing_ = false;
    return db_->exec("COMMIT");
  }();
  if (!done) {
    if (open_copy_) {
      open_copy_.reset();
      (void)db_->copy_end("megasync: the resync failed");
    }
    (void)db_->exec("ROLLBACK");
    replacing_ = false;
    stages_.clear();  // staging tables created in the transaction are gone
    filled_stages_.clear();
    return fail(done.error().with_context("resync"));
  }
  return ok();
}

Status PostgresSink::apply(const Batch& batch) {
  if (batch.replace) {
    return apply_replacing(batch);
  }
  if (replacing_) {
    return close_copy();  // rolls the resync back
  }
  if (Result<bool> spanned = apply_spanning(batch); !spanned || *spanned) {
    return spanned ? ok() : fail(spanned.error().with_context("apply batch"));
  }
  // A snapshot batch before the last carries no checkpoint: nothing resumes
  // from it, a crash starts the snapshot again. Its commit need not wait for
  // the WAL flush; the last batch's (synchronous) commit flushes it.
  //
  // The statements of a batch join the staging table to the target by key:
  // each staged row is best found through the key's index (a hash join reads
  // the whole table), and their cost estimate, large for a large batch, must
  // not make the server compile them (JIT costs more than it saves here).
  if (Status s = db_->exec(batch.snapshot && batch.end.empty()
                               ? "BEGIN; SET LOCAL synchronous_commit = off; " + std::string(kPlan)
                               : "BEGIN; " + std::string(kPlan));
      !s) {
    (void)db_->exec("ROLLBACK");
    return fail(s.error().with_context("apply batch"));
  }
  conflicts_.clear();
  filled_stages_.clear();
  Status applied = apply_in_transaction(batch);
  if (applied) {
    applied = db_->exec("COMMIT");
  }
  if (!applied) {
    (void)db_->exec("ROLLBACK");
    stages_.clear();  // staging tables created in this transaction are gone
    filled_stages_.clear();
    conflicts_.clear();
    return fail(applied.error().with_context("apply batch"));
  }
  // Reported once committed: a batch retried after a failure counts once.
  if (request_.on_conflicts) {
    for (const engine::ConflictReport& report : conflicts_) {
      request_.on_conflicts(report);
    }
  }
  conflicts_.clear();
  return ok();
}

Status PostgresSink::apply_in_transaction(const Batch& batch) {
  std::set<std::string> copied;  // tables whose rows went straight in
  if (batch.snapshot) {
    Result<std::set<std::string>> done = copy_snapshot(batch);
    if (!done) {
      return fail(done.error());
    }
    copied = std::move(*done);
  }
  PendingRefs pending;
  for (const Change& change : batch.changes) {
    if (!copied.empty() && copied.contains(change.collection)) {
      continue;
    }
    auto schema = schemas_.find(change.collection);
    if (schema == schemas_.end()) {
      return make_error(ErrorCode::kPermanent, "table {} was not prepared", change.collection);
    }
    if (change.op == Op::kTruncate) {
      // What came before the truncate is applied before it (other tables too,
      // keeping the batch's order).
      if (Status s = flush(pending); !s) {
        return s;
      }
      if (Status s = db_->exec(fmt::format("TRUNCATE {}", qualified_name(change.collection))); !s) {
        return s;
      }
      continue;
    }
    if (change.key.size() != schema->second.primary_key.size()) {
      return make_error(ErrorCode::kPermanent, "table {}: a change has {} key values, expected {}",
                        change.collection, change.key.size(), schema->second.primary_key.size());
    }
    fold_ref(change, pending);
  }
  if (Status s = flush(pending); !s) {
    return s;
  }
  if (!request_.origin.empty() && !batch.end.empty()) {
    // The origin's progress is the other side's LSN this batch ends at:
    // pg_replication_origin_status then shows how far each side has applied
    // the other. Positions of a postgres source are LSNs.
    if (Result<Lsn> lsn = position_to_lsn(batch.end); lsn) {
      Result<Rows> progress = db_->query(
          "SELECT pg_replication_origin_xact_setup($1::pg_lsn, now())", {format_lsn(*lsn)});
      if (!progress) {
        return fail(progress.error().with_context("replication origin progress"));
      }
    }
  }
  return batch.end.empty() ? ok() : save_checkpoint(batch.end);
}

Status PostgresSink::save_checkpoint(const Position& end) {
  Result<Rows> saved = db_->query(
      "INSERT INTO public._megasync_checkpoints (job, target, position, updated_at) VALUES "
      "($1, $2, $3, now()) ON CONFLICT (job, target) DO UPDATE SET position = "
      "excluded.position, updated_at = excluded.updated_at",
      {request_.job, request_.target, end});
  return saved ? ok() : fail(saved.error().with_context("save checkpoint"));
}

const Fields& PostgresSink::RowRef::fields() const {
  static const Fields kNone;
  return merged ? *merged : (last != nullptr ? *last : kNone);
}

void PostgresSink::fold_ref(const Change& change, PendingRefs& pending) {
  RowRef& row = pending[change.collection][encode_key(change.key)];
  row.key = &change.key;
  if (change.op == Op::kDelete || row.deleted) {
    // A delete forgets the upserts before it; an upsert after it replaces the row.
    row.deleted = change.op == Op::kDelete;
    row.last = nullptr;
    row.merged.reset();
    if (row.deleted) {
      return;
    }
  }
  if (row.last == nullptr && !row.merged) {
    row.last = &change.fields;
    return;
  }
  if (!row.merged) {
    row.merged = *row.last;
    row.last = nullptr;
  }
  for (const auto& [name, value] : change.fields) {
    (*row.merged)[name] = value;  // a later upsert's columns win; absent ones stay
  }
}

Status PostgresSink::flush(PendingRefs& pending) {
  for (auto& [collection, rows] : pending) {
    if (Status s = flush_table(schemas_.at(collection), rows); !s) {
      return fail(s.error().with_context(fmt::format("table {}", collection)));
    }
  }
  pending.clear();
  return ok();
}

Result<std::string> PostgresSink::stage(const CollectionSchema& schema,
                                        const std::vector<std::string>& columns) {
  std::string signature = schema.name;
  for (const std::string& column : columns) {
    signature += '\0' + column;
  }
  if (auto found = stages_.find(signature); found != stages_.end()) {
    return found->second;
  }
  const std::string name = fmt::format("_megasync_stage_{}", next_stage_++);
  // The target's own column types, no constraints; emptied at every commit.
  if (Status s = db_->exec(fmt::format(
          "CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA", name,
          join_quoted(columns), qualified_name(schema.name)));
      !s) {
    return fail(s.error().with_context("create staging table"));
  }
  stages_.emplace(std::move(signature), name);
  return name;
}

Result<bool> PostgresSink::may_copy_directly(const CollectionSchema& schema) {
  if (auto known = copy_directly_.find(schema.name); known != copy_directly_.end()) {
    return known->second;
  }
  bool direct = false;
  if (request_.version_column.empty() && !schema.primary_key.empty()) {
    std::string keys;
    for (const std::string& key : schema.primary_key) {
      keys += (keys.empty() ? "" : ", ") + quote_literal(key);
    }
    // A unique, immediate, non-partial index on the key columns and no others:
    // the one ON CONFLICT (key) relies on, and it rejects a second copy of a row
    // within the COPY itself.
    Result<Rows> found = db_->query(
        fmt::format("SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1::regclass "
                    "AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL "
                    "AND i.indexprs IS NULL AND i.indnatts = {n} AND i.indnkeyatts = {n} "
                    "AND ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = "
                    "i.indrelid AND a.attnum = ANY(i.indkey)) @> ARRAY[{keys}]::text[])",
                    fmt::arg("n", schema.primary_key.size()), fmt::arg("keys", keys)),
        {qualified_name(schema.name)});
    if (!found) {
      return fail(found.error().with_context("look up the key's unique index"));
    }
    direct = found->count() == 1 && found->text(0, 0) == "t";
  }
  copy_directly_[schema.name] = direct;
  return direct;
}

Result<std::set<std::string>> PostgresSink::copy_snapshot(const Batch& batch) {
  std::set<std::string> copied;
  // Rows by table, in batch order; only plain upserts carrying the key.
  std::map<std::string, std::vector<const Change*>> tables;
  for (const Change& change : batch.changes) {
    auto schema = schemas_.find(change.collection);
    if (change.op != Op::kUpsert || schema == schemas_.end() ||
        change.key.size() != schema->second.primary_key.size()) {
      return copied;  // the general path says what is wrong, or deals with it
    }
    tables[change.collection].push_back(&change);
  }
  for (const auto& [name, changes] : tables) {
    const CollectionSchema& schema = schemas_.at(name);
    Result<bool> direct = may_copy_directly(schema);
    if (!direct) {
      return fail(direct.error());
    }
    if (!*direct) {
      continue;
    }
    // Every row must carry the fields of the first (a snapshot reads them
    // all), by name and in order.
    Result<std::unique_ptr<OpenCopy>> shape = copy_shape(schema, changes.front()->fields);
    if (!shape) {
      return fail(shape.error());
    }
    const CopyLayout& layout = (*shape)->layout;
    if (!std::all_of(changes.begin(), changes.end(),
                     [&](const Change* change) { return layout.fits(*change); })) {
      continue;
    }
    const RowEncoder& encoder = (*shape)->text;
    std::optional<BinaryRowEncoder>& binary = (*shape)->binary;
    bool unencodable = false;  // a value binary cannot write: the COPY is aborted
    auto produce = [&](const std::function<Status(std::string_view)>& write) -> Status {
      std::string data;
      if (binary) {
        BinaryRowEncoder::append_header(data);
      }
      std::vector<const Value*> values;
      for (const Change* change : changes) {
        if (!layout.append(*change, encoder, binary ? &*binary : nullptr, values, data)) {
          unencodable = true;
          return make_error(ErrorCode::kPermanent, "a value of {} has no binary form here", name);
        }
        if (data.size() >= kCopyChunk) {
          if (Status s = write(data); !s) {
            return s;
          }
          data.clear();
        }
      }
      if (binary) {
        BinaryRowEncoder::append_trailer(data);
      }
      return data.empty() ? ok() : write(data);
    };
    // Usually into an empty table: one COPY costs the server about half of
    // staging and upserting, and a binary one a third less again. A row
    // already there (a snapshot taken again) fails the COPY; it is undone to
    // the savepoint, and the table's rows are folded and upserted from then
    // on. A value binary cannot write undoes it too, and the rows go again as
    // text.
    while (true) {
      if (Status s = db_->exec("SAVEPOINT megasync_copy"); !s) {
        return fail(s.error());
      }
      if (db_->copy_in((*shape)->statement(), produce)) {
        // The savepoint is left to the commit (one round trip less); the next
        // table's, of the same name, hides it.
        copied.insert(name);
        break;
      }
      if (Status s = db_->exec("ROLLBACK TO SAVEPOINT megasync_copy"); !s) {
        return fail(s.error());
      }
      if (!unencodable) {
        copy_directly_[schema.name] = false;
        break;
      }
      spdlog::info("table {}: a snapshot value has no binary form here; copied as text", name);
      text_copy_.insert(name);
      binary.reset();
      unencodable = false;
    }
  }
  return copied;
}

Result<std::optional<BinaryRowEncoder>> PostgresSink::binary_encoder(
    const CollectionSchema& schema, const std::vector<std::string>& columns) {
  auto known = column_types_.find(schema.name);
  if (known == column_types_.end()) {
    Result<Rows> rows = db_->query(
        "SELECT a.attname, a.atttypid, t.typtype = 'e' FROM pg_attribute a JOIN pg_type t ON "
        "t.oid = a.atttypid WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT "
        "a.attisdropped",
        {qualified_name(schema.name)});
    if (!rows) {
      return fail(rows.error().with_context(fmt::format("column types of {}", schema.name)));
    }
    std::map<std::string, TargetType> types;
    for (int row = 0; row < rows->count(); ++row) {
      types[rows->text(row, 0)] = TargetType{
          .oid = static_cast<Oid>(std::stoul(rows->text(row, 1))),
          .is_enum = rows->text(row, 2) == "t",
      };
    }
    known = column_types_.emplace(schema.name, std::move(types)).first;
  }
  std::vector<TargetType> types;
  types.reserve(columns.size());
  for (const std::string& column : columns) {
    auto type = known->second.find(column);
    if (type == known->second.end()) {
      return std::optional<BinaryRowEncoder>();  // the text COPY says what is wrong
    }
    types.push_back(type->second);
  }
  return BinaryRowEncoder::make(types);
}

Status PostgresSink::flush_table(const CollectionSchema& schema, TableRefs& rows) {
  auto is_key = [&](const std::string& name) {
    return std::find(schema.primary_key.begin(), schema.primary_key.end(), name) !=
           schema.primary_key.end();
  };
  // Upserts grouped by the columns they carry (all of them, unless a source
  // could not read some, like an unchanged TOASTed value).
  std::map<std::vector<std::string>, std::vector<const RowRef*>> upserts;
  std::vector<const RowRef*> deletes;
  // Whether `row` carries exactly the non-key `columns` (from the key's end on).
  auto carries = [&](const RowRef& row, const std::vector<std::string>& columns) {
    std::size_t i = schema.primary_key.size();
    for (const auto& [name, value] : row.fields()) {
      if (is_key(name)) {
        continue;
      }
      if (i == columns.size() || columns[i] != name) {
        return false;
      }
      ++i;
    }
    return i == columns.size();
  };
  std::vector<const RowRef*>* last_group = nullptr;  // rows mostly carry what the one before did
  const std::vector<std::string>* last_columns = nullptr;
  for (auto& [encoded, row] : rows) {
    if (row.deleted) {
      deletes.push_back(&row);
      continue;
    }
    if (last_group != nullptr && carries(row, *last_columns)) {
      last_group->push_back(&row);
      continue;
    }
    std::vector<std::string> columns = schema.primary_key;
    for (const auto& [name, value] : row.fields()) {
      if (!is_key(name)) {
        columns.push_back(name);
      }
    }
    auto group = upserts.try_emplace(std::move(columns)).first;
    group->second.push_back(&row);
    last_group = &group->second;
    last_columns = &group->first;
  }

  const std::set<std::string>& arrays = array_columns_[schema.name];
  auto copy_rows = [&](const std::string& stage_name, const std::vector<std::string>& columns,
                       const std::vector<const RowRef*>& group) -> Status {
    if (!filled_stages_.insert(stage_name).second) {
      // Used before in this transaction (a truncate came between): emptied.
      if (Status s = db_->exec(fmt::format("TRUNCATE {}", stage_name)); !s) {
        return s;
      }
    }
    const RowEncoder encoder(schema, columns, arrays);
    // The key, then the other fields in name order: the order `columns` was
    // built in (a delete carries the key only).
    std::vector<const Value*> values(columns.size());
    auto append_row = [&](const RowRef& row, std::string& data) {
      std::size_t i = 0;
      for (; i < schema.primary_key.size(); ++i) {
        values[i] = &(*row.key)[i];
      }
      for (const auto& [name, value] : row.fields()) {
        if (i < columns.size() && !is_key(name)) {
          values[i++] = &value;
        }
      }
      encoder.append(values, data);
    };
    auto produce = [&](const std::function<Status(std::string_view)>& write) -> Status {
      std::string data;
      for (const RowRef* row : group) {
        append_row(*row, data);
        // Sent in small pieces: the server parses and inserts one while the
        // next is encoded.
        if (data.size() >= kCopyChunk) {
          if (Status s = write(data); !s) {
            return s;
          }
          data.clear();
        }
      }
      return data.empty() ? ok() : write(data);
    };
    return db_->copy_in(fmt::format("COPY {} ({}) FROM STDIN", stage_name, join_quoted(columns)),
                        produce);
  };

  if (!deletes.empty()) {
    Result<std::string> stage_name = stage(schema, schema.primary_key);
    if (!stage_name) {
      return fail(stage_name.error());
    }
    if (Status s = copy_rows(*stage_name, schema.primary_key, deletes); !s) {
      return s;
    }
    std::string match;
    for (const std::string& key : schema.primary_key) {
      match += fmt::format("{}t.{} = s.{}", match.empty() ? "" : " AND ", quote_ident(key),
                           quote_ident(key));
    }
    if (Status s = db_->exec(fmt::format("DELETE FROM {} t USING {} s WHERE {}",
                                         qualified_name(schema.name), *stage_name, match));
        !s) {
      return s;
    }
  }
  for (const auto& [columns, group] : upserts) {
    Result<std::string> stage_name = stage(schema, columns);
    if (!stage_name) {
      return fail(stage_name.error());
    }
    if (Status s = copy_rows(*stage_name, columns, group); !s) {
      return s;
    }
    std::string updates;
    for (std::size_t i = schema.primary_key.size(); i < columns.size(); ++i) {
      updates += fmt::format("{}{} = excluded.{}", updates.empty() ? "" : ", ",
                             quote_ident(columns[i]), quote_ident(columns[i]));
    }
    if (request_.version_column.empty() && !updates.empty()) {
      Result<bool> done = update_first(schema, *stage_name, columns, group.size());
      if (!done) {
        return fail(done.error());
      }
      if (*done) {
        continue;
      }
    }
    std::string condition;
    if (!request_.version_column.empty()) {
      if (std::find(columns.begin(), columns.end(), request_.version_column) == columns.end()) {
        return make_error(ErrorCode::kPermanent,
                          "a change carries no value for the version column {}",
                          request_.version_column);
      }
      if (Status s = count_conflicts(schema, *stage_name, columns); !s) {
        return s;
      }
      // Rows equal to the target's are not rewritten: a change that comes back
      // (a first snapshot of each side) is a no-op, not a write.
      condition = fmt::format(
          " WHERE {} AND {}",
          newer_condition(request_.version_column, "excluded", request_.incoming_wins_ties),
          differs_condition(columns, schema.primary_key.size(), "excluded"));
    }
    if (Status s = db_->exec(fmt::format(
            "INSERT INTO {} AS t ({}) SELECT {} FROM {} ON CONFLICT ({}) DO {}{}",
            qualified_name(schema.name), join_quoted(columns), join_quoted(columns), *stage_name,
            join_quoted(schema.primary_key), updates.empty() ? "NOTHING" : "UPDATE SET " + updates,
            updates.empty() ? "" : condition));
        !s) {
      return s;
    }
  }
  return ok();
}

Result<bool> PostgresSink::update_first(const CollectionSchema& schema,
                                        const std::string& stage_name,
                                        const std::vector<std::string>& columns,
                                        std::size_t staged) {
  UpsertMode& mode = upsert_modes_[schema.name];
  if (!mode.update_first && ++mode.batches_since_probe < kUpdateProbeEvery) {
    return false;
  }
  std::string updates;
  for (std::size_t i = schema.primary_key.size(); i < columns.size(); ++i) {
    updates += fmt::format("{}{} = s.{}", updates.empty() ? "" : ", ", quote_ident(columns[i]),
                           quote_ident(columns[i]));
  }
  std::string match;
  for (const std::string& key : schema.primary_key) {
    match += fmt::format("{}t.{} = s.{}", match.empty() ? "" : " AND ", quote_ident(key),
                         quote_ident(key));
  }
  Result<Rows> updated =
      db_->query(fmt::format("UPDATE {} AS t SET {} FROM {} s WHERE {}",
                             qualified_name(schema.name), updates, stage_name, match));
  if (!updated) {
    return fail(updated.error());
  }
  const auto found = static_cast<std::size_t>(std::max<std::int64_t>(updated->affected(), 0));
  if (found < staged) {
    // The staged keys are distinct (folded): those the UPDATE did not find are
    // new rows, inserted; a key it found conflicts and is left as updated.
    if (Status s = db_->exec(
            fmt::format("INSERT INTO {} AS t ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING",
                        qualified_name(schema.name), join_quoted(columns), join_quoted(columns),
                        stage_name, join_quoted(schema.primary_key)));
        !s) {
      return fail(s.error());
    }
  }
  mode.update_first = 2 * found >= staged;
  mode.batches_since_probe = 0;
  return true;
}

Status PostgresSink::count_conflicts(const CollectionSchema& schema, const std::string& stage_name,
                                     const std::vector<std::string>& columns) {
  std::string match;
  std::string keys;
  for (const std::string& key : schema.primary_key) {
    match += fmt::format("{}t.{} = s.{}", match.empty() ? "" : " AND ", quote_ident(key),
                         quote_ident(key));
    keys += fmt::format("{}s.{}::text", keys.empty() ? "" : " || ',' || ", quote_ident(key));
  }
  const std::string version = quote_ident(request_.version_column);
  // count(*) OVER () is computed before the LIMIT: every row carries the total.
  Result<Rows> rows = db_->query(fmt::format(
      "SELECT {keys}, t.{v}::text, s.{v}::text, count(*) OVER () FROM {stage} s JOIN {table} t "
      "ON {match} WHERE {newer} IS NOT TRUE AND {differs} LIMIT 10",
      fmt::arg("keys", keys), fmt::arg("v", version), fmt::arg("stage", stage_name),
      fmt::arg("table", qualified_name(schema.name)), fmt::arg("match", match),
      fmt::arg("newer", newer_condition(request_.version_column, "s", request_.incoming_wins_ties)),
      fmt::arg("differs", differs_condition(columns, schema.primary_key.size(), "s"))));
  if (!rows) {
    return fail(rows.error().with_context("count conflicts"));
  }
  if (rows->count() == 0) {
    return ok();
  }
  engine::ConflictReport report{.collection = schema.name, .count = std::stoll(rows->text(0, 3))};
  for (int row = 0; row < rows->count(); ++row) {
    report.samples.push_back(
        {.key = rows->text(row, 0),
         .kept_version = rows->null(row, 1) ? "null" : rows->text(row, 1),
         .incoming_version = rows->null(row, 2) ? "null" : rows->text(row, 2)});
  }
  conflicts_.push_back(std::move(report));
  return ok();
}

}  // namespace megasync::connectors::postgres
