#include "connectors/postgres/poll_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/sink.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

// A continuous run sweeps the tables at most this often.
constexpr auto kSweepInterval = std::chrono::seconds(1);

bool can_be_cursor(ColumnType type) {
  return type == ColumnType::kInteger || type == ColumnType::kTimestamp ||
         type == ColumnType::kTimestampTz || type == ColumnType::kDate;
}

}  // namespace

PostgresPollSource::PostgresPollSource(std::unique_ptr<Connection> db, PollSettings settings,
                                       std::vector<std::string> patterns)
    : db_(std::move(db)), settings_(std::move(settings)), patterns_(std::move(patterns)) {}

Result<std::vector<CollectionSchema>> PostgresPollSource::describe() {
  if (tables_.empty()) {
    // The marks are kept as text and sent back as parameters: the session's
    // output must read back as the same value whatever the server's defaults.
    if (Status s = db_->exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = "
                             "'postgres'; SET client_encoding = 'UTF8'");
        !s) {
      return fail(s.error());
    }
    Result<std::vector<CollectionSchema>> schemas = describe_tables(*db_, patterns_);
    if (!schemas) {
      return fail(schemas.error());
    }
    if (schemas->empty()) {
      return make_error(ErrorCode::kInvalidConfig, "no table of the source matches {}",
                        fmt::join(patterns_, ", "));
    }
    std::vector<Table> tables;
    for (CollectionSchema& schema : *schemas) {
      Table table;
      const auto& columns = schema.columns;
      const auto cursor = std::find_if(columns.begin(), columns.end(), [&](const Column& c) {
        return c.name == settings_.cursor_column;
      });
      if (cursor == columns.end()) {
        return make_error(ErrorCode::kInvalidConfig,
                          "table {} has no column {} (the endpoint's cursor_column): add one that "
                          "every insert and update advances, e.g. ALTER TABLE {} ADD COLUMN {} "
                          "timestamptz NOT NULL DEFAULT now() and a trigger setting it on "
                          "UPDATE, or leave the table out of the job",
                          schema.name, settings_.cursor_column, qualified_name(schema.name),
                          quote_ident(settings_.cursor_column));
      }
      if (!can_be_cursor(cursor->type)) {
        return make_error(ErrorCode::kInvalidConfig,
                          "column {}.{} is {}: a cursor_column must be an integer, timestamp, "
                          "timestamptz or date",
                          schema.name, cursor->name, cursor->source_type);
      }
      table.cursor = static_cast<std::size_t>(cursor - columns.begin());
      table.time_cursor = cursor->type != ColumnType::kInteger;
      for (const std::string& key : schema.primary_key) {
        const auto found = std::find_if(columns.begin(), columns.end(),
                                        [&](const Column& c) { return c.name == key; });
        table.keys.push_back(static_cast<std::size_t>(found - columns.begin()));
      }
      table.schema = std::move(schema);
      tables.push_back(std::move(table));
    }
    tables_ = std::move(tables);
  }
  std::vector<CollectionSchema> out;
  for (const Table& table : tables_) {
    out.push_back(table.schema);
  }
  return out;
}

Status PostgresPollSource::open(const std::optional<Position>& resume_after) {
  if (Result<std::vector<CollectionSchema>> described = describe(); !described) {
    return fail(described.error());
  }
  opened_ = true;
  sweeping_ = false;
  swept_ = false;
  last_overlap_.reset();
  if (!resume_after) {
    return begin_snapshot();
  }
  Result<PollPosition> position = decode_poll_position(*resume_after);
  if (!position) {
    return fail(position.error());
  }
  position_ = std::move(*position);
  for (const Table& table : tables_) {
    // A mark whose key no longer fits (the primary key changed) is dropped:
    // that table is read again from its start.
    auto mark = position_.tables.find(table.schema.name);
    if (mark != position_.tables.end() && mark->second.key.size() != table.keys.size()) {
      position_.tables.erase(mark);
    }
  }
  return ok();
}

Status PostgresPollSource::begin_snapshot() {
  if (Status s = db_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s) {
    return s;
  }
  Result<Rows> clock =
      db_->query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text");
  if (!clock) {
    return fail(clock.error());
  }
  PollPosition position;
  position.at = std::stoll(clock->text(0, 0));
  // Each table's last row in (cursor, key) order, in the snapshot about to be read.
  for (const Table& table : tables_) {
    const std::string& cursor = table.schema.columns[table.cursor].name;
    std::string columns = quote_ident(cursor);
    std::string order = quote_ident(cursor) + " DESC";
    for (std::size_t key : table.keys) {
      columns += ", " + quote_ident(table.schema.columns[key].name);
      order += ", " + quote_ident(table.schema.columns[key].name) + " DESC";
    }
    Result<Rows> last = db_->query(
        fmt::format("SELECT {} FROM {} WHERE {} IS NOT NULL ORDER BY {} "
                    "LIMIT 1",
                    columns, qualified_name(table.schema.name), quote_ident(cursor), order));
    if (!last) {
      return fail(last.error().with_context(fmt::format("snapshot {}", table.schema.name)));
    }
    if (last->count() == 1) {
      PollMark mark{.cursor = last->text(0, 0), .key = {}};
      for (int column = 1; column < last->columns(); ++column) {
        mark.key.push_back(last->text(0, column));
      }
      position.tables[table.schema.name] = std::move(mark);
    }
  }
  position_ = std::move(position);
  in_snapshot_ = true;
  snapshot_table_ = 0;
  cursor_open_ = false;
  return ok();
}

Result<Change> PostgresPollSource::row_change(const Table& table, const Rows& rows, int row) const {
  Change change;
  change.collection = table.schema.name;
  for (int column = 0; column < rows.columns(); ++column) {
    const std::string& name = table.schema.columns[static_cast<std::size_t>(column)].name;
    if (rows.null(row, column)) {
      change.fields[name] = Value();
      continue;
    }
    Result<Value> value = text_to_value(rows.type(column), rows.text(row, column));
    if (!value) {
      return fail(value.error().with_context(fmt::format("{}.{}", table.schema.name, name)));
    }
    change.fields[name] = std::move(*value);
  }
  for (std::size_t key : table.keys) {
    change.key.push_back(change.fields[table.schema.columns[key].name]);
  }
  return change;
}

PollMark PostgresPollSource::mark_of(const Table& table, const Rows& rows, int row) const {
  PollMark mark{.cursor = rows.text(row, static_cast<int>(table.cursor)), .key = {}};
  for (std::size_t key : table.keys) {
    mark.key.push_back(rows.text(row, static_cast<int>(key)));
  }
  return mark;
}

Result<std::optional<Batch>> PostgresPollSource::next_snapshot(std::size_t max_changes) {
  Batch batch;
  batch.snapshot = true;
  const Position position = encode_poll_position(position_);
  while (snapshot_table_ < tables_.size() && batch.changes.size() < max_changes) {
    const Table& table = tables_[snapshot_table_];
    if (!cursor_open_) {
      std::string columns;
      for (const Column& column : table.schema.columns) {
        columns += (columns.empty() ? "" : ", ") + quote_ident(column.name);
      }
      if (Status s = db_->exec(fmt::format("DECLARE _megasync_poll_snapshot NO SCROLL CURSOR FOR "
                                           "SELECT {} FROM {}",
                                           columns, qualified_name(table.schema.name)));
          !s) {
        return fail(s.error().with_context(fmt::format("snapshot {}", table.schema.name)));
      }
      cursor_open_ = true;
    }
    const std::size_t want = max_changes - batch.changes.size();
    Result<Rows> rows = db_->query(fmt::format("FETCH {} FROM _megasync_poll_snapshot", want));
    if (!rows) {
      return fail(rows.error().with_context(fmt::format("snapshot {}", table.schema.name)));
    }
    for (int row = 0; row < rows->count(); ++row) {
      Result<Change> change = row_change(table, *rows, row);
      if (!change) {
        return fail(change.error());
      }
      change->position = position;
      batch.bytes += 64;
      batch.changes.push_back(std::move(*change));
    }
    if (static_cast<std::size_t>(rows->count()) < want) {
      if (Status s = db_->exec("CLOSE _megasync_poll_snapshot"); !s) {
        return fail(s.error());
      }
      cursor_open_ = false;
      ++snapshot_table_;
    }
  }
  if (snapshot_table_ == tables_.size()) {
    if (Status s = db_->exec("COMMIT"); !s) {
      return fail(s.error().with_context("finish snapshot"));
    }
    in_snapshot_ = false;
    batch.end = position;
  }
  return std::optional<Batch>(std::move(batch));
}

Status PostgresPollSource::start_sweep() {
  Result<Rows> clock =
      db_->query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text");
  if (!clock) {
    return fail(clock.error());
  }
  // Positions must grow even if the server's clock steps back.
  if (const std::int64_t now = std::stoll(clock->text(0, 0)); now > position_.at) {
    position_.at = now;
    position_.sequence = 0;
  }
  const auto now = std::chrono::steady_clock::now();
  overlap_sweep_ = settings_.overlap.count() > 0 &&
                   (!last_overlap_ || now - *last_overlap_ >= settings_.overlap);
  if (overlap_sweep_) {
    last_overlap_ = now;
  }
  sweep_started_ = now;
  sweeping_ = true;
  sweep_table_ = 0;
  page_after_.reset();
  return ok();
}

Status PostgresPollSource::read_page(Batch& batch, std::size_t limit) {
  const Table& table = tables_[sweep_table_];
  const std::string& name = table.schema.name;
  const Column& cursor = table.schema.columns[table.cursor];
  std::vector<std::optional<std::string>> params;
  auto param = [&params](const std::string& value, const std::string& type) {
    params.push_back(value);
    return fmt::format("${}::{}", params.size(), type);
  };
  std::string columns;
  for (const Column& column : table.schema.columns) {
    columns += (columns.empty() ? "" : ", ") + quote_ident(column.name);
  }
  std::string order = quote_ident(cursor.name);
  for (std::size_t key : table.keys) {
    order += ", " + quote_ident(table.schema.columns[key].name);
  }
  // (cursor, key) > (mark): keyset pagination, served by an index on (cursor)
  // or (cursor, key).
  auto after = [&](const PollMark& mark) {
    std::string values = param(mark.cursor, cursor.source_type);
    for (std::size_t i = 0; i < table.keys.size(); ++i) {
      values += ", " + param(mark.key[i], table.schema.columns[table.keys[i]].source_type);
    }
    return fmt::format(" AND ({}) > ({})", order, values);
  };
  std::string where = quote_ident(cursor.name) + " IS NOT NULL";
  const auto mark = position_.tables.find(name);
  if (page_after_) {
    where += after(*page_after_);
  } else if (mark != position_.tables.end()) {
    if (overlap_sweep_ && table.time_cursor) {
      where +=
          fmt::format(" AND {} >= {} - {}", quote_ident(cursor.name),
                      param(mark->second.cursor, cursor.source_type),
                      param(fmt::format("{} milliseconds", settings_.overlap.count()), "interval"));
    } else {
      where += after(mark->second);
    }
  }
  Result<Rows> rows = db_->query(fmt::format("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {}",
                                             columns, qualified_name(name), where, order, limit),
                                 params);
  if (!rows) {
    return fail(rows.error().with_context(fmt::format("poll {}", name)));
  }
  for (int row = 0; row < rows->count(); ++row) {
    Result<Change> change = row_change(table, *rows, row);
    if (!change) {
      return fail(change.error());
    }
    batch.bytes += 64;
    batch.changes.push_back(std::move(*change));
  }
  if (rows->count() > 0) {
    // After an overlap re-read that found fewer rows than before (the last
    // row was deleted), the mark moves back: that only means reading more.
    page_after_ = mark_of(table, *rows, rows->count() - 1);
    position_.tables[name] = *page_after_;
  }
  if (static_cast<std::size_t>(rows->count()) < limit) {
    page_after_.reset();
    if (++sweep_table_ == tables_.size()) {
      sweeping_ = false;
      swept_ = true;
    }
  }
  return ok();
}

Result<std::optional<Batch>> PostgresPollSource::next(Deadline until, std::size_t max_changes) {
  if (!opened_) {
    return make_error(ErrorCode::kPermanent, "postgres poll source: next() before open()");
  }
  if (in_snapshot_) {
    return next_snapshot(max_changes);
  }
  max_changes = std::max<std::size_t>(max_changes, 1);
  Batch batch;
  while (true) {
    if (!sweeping_) {
      if (swept_) {
        if (until.expired()) {
          return std::optional<Batch>();
        }
        const auto next_sweep = sweep_started_ + kSweepInterval;
        std::this_thread::sleep_until(std::min(next_sweep, until.at()));
        if (std::chrono::steady_clock::now() < next_sweep) {
          return std::optional<Batch>();  // `until` came first
        }
      }
      if (Status s = start_sweep(); !s) {
        return fail(s.error());
      }
    }
    while (sweeping_ && batch.changes.size() < max_changes) {
      if (Status s = read_page(batch, max_changes - batch.changes.size()); !s) {
        return fail(s.error());
      }
    }
    if (!batch.changes.empty()) {
      ++position_.sequence;
      batch.end = encode_poll_position(position_);
      for (Change& change : batch.changes) {
        change.position = batch.end;
      }
      return std::optional<Batch>(std::move(batch));
    }
  }
}

int PostgresPollSource::compare(const Position& a, const Position& b) const {
  return compare_poll_positions(decode_poll_position(a).value_or(PollPosition{}),
                                decode_poll_position(b).value_or(PollPosition{}));
}

}  // namespace megasync::connectors::postgres
