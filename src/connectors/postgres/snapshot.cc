#include "connectors/postgres/snapshot.h"

#include <fmt/format.h>

#include <algorithm>

#include "connectors/postgres/copy_binary.h"
#include "connectors/postgres/copy_text.h"
#include "connectors/postgres/sink.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

constexpr std::size_t kPushRows = 2000;  // rows a worker hands over at once
constexpr int kChunksPerWorker = 8;

std::string column_list(const CollectionSchema& schema) {
  std::string out;
  for (const Column& column : schema.columns) {
    out += (out.empty() ? "" : ", ") + quote_ident(column.name);
  }
  return out;
}

// The chunks of one table: page ranges [first, last) as ctid bounds.
Result<std::vector<SnapshotChunk>> plan_table(Connection& db, std::size_t index,
                                              const CollectionSchema& schema,
                                              const ParallelSnapshot::Options& options) {
  Result<Rows> size = db.query(
      "SELECT c.relkind = 'r', pg_relation_size(c.oid) / current_setting('block_size')::bigint "
      "FROM pg_class c WHERE c.oid = $1::regclass",
      {qualified_name(schema.name)});
  if (!size) {
    return fail(size.error().with_context(fmt::format("size of {}", schema.name)));
  }
  std::vector<SnapshotChunk> out;
  const std::int64_t pages = size->count() == 1 ? std::stoll(size->text(0, 1)) : 0;
  const bool plain = size->count() == 1 && size->text(0, 0) == "t";
  const std::int64_t step =
      std::max(options.min_chunk_pages,
               pages / std::max<std::int64_t>(1, options.parallelism * kChunksPerWorker) + 1);
  // One worker reads the whole table with a plain COPY: a TID range scan costs
  // the server about twice a sequential scan a row, which only parallel
  // workers make up for.
  if (!plain || pages < 2 * step || options.parallelism == 1) {
    out.push_back(SnapshotChunk{.table = index});  // partitioned, small or one worker: whole
    return out;
  }
  for (std::int64_t first = 0; first < pages; first += step) {
    std::string where = first == 0 ? "" : fmt::format("ctid >= '({},0)'::tid", first);
    if (first + step < pages) {
      where += fmt::format("{}ctid < '({},0)'::tid", where.empty() ? "" : " AND ", first + step);
    }
    // The last chunk is open-ended: a row visible in the snapshot may sit in a
    // page added after the size was read (an update after the snapshot).
    out.push_back(SnapshotChunk{.table = index, .where = std::move(where)});
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ParallelSnapshot>> ParallelSnapshot::start(
    Connection& db, const std::string& conninfo, const std::string& snapshot,
    std::vector<CollectionSchema> schemas, Options options) {
  options.parallelism = std::max(options.parallelism, 1);
  std::vector<SnapshotChunk> chunks;
  for (std::size_t i = 0; i < schemas.size(); ++i) {
    Result<std::vector<SnapshotChunk>> planned = plan_table(db, i, schemas[i], options);
    if (!planned) {
      return fail(planned.error());
    }
    chunks.insert(chunks.end(), planned->begin(), planned->end());
  }
  std::unique_ptr<ParallelSnapshot> out(
      new ParallelSnapshot(conninfo, snapshot, std::move(schemas), std::move(chunks), options));
  const int workers =
      static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.parallelism),
                                             std::max<std::size_t>(out->chunks_.size(), 1)));
  out->running_ = workers;
  for (int i = 0; i < workers; ++i) {
    out->threads_.emplace_back([raw = out.get()] { raw->work(); });
  }
  return out;
}

ParallelSnapshot::ParallelSnapshot(std::string conninfo, std::string snapshot,
                                   std::vector<CollectionSchema> schemas,
                                   std::vector<SnapshotChunk> chunks, Options options)
    : conninfo_(std::move(conninfo)),
      snapshot_(std::move(snapshot)),
      schemas_(std::move(schemas)),
      chunks_(std::move(chunks)),
      options_(options),
      rows_(chunks_.size()),
      read_(chunks_.size(), false) {}

ParallelSnapshot::~ParallelSnapshot() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& thread : threads_) {
    thread.join();
  }
}

void ParallelSnapshot::work() {
  Status done = [&]() -> Status {
    Result<std::unique_ptr<Connection>> db =
        Connection::open(conninfo_, Deadline::after(std::chrono::seconds(30)));
    if (!db) {
      return fail(db.error());
    }
    if (Status s = (*db)->exec(fmt::format("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                                           "SET TRANSACTION SNAPSHOT {}",
                                           quote_literal(snapshot_)));
        !s) {
      return fail(s.error().with_context("import the snapshot"));
    }
    if (Status s = read_chunks(**db); !s) {
      return s;
    }
    return (*db)->exec("COMMIT");
  }();
  std::lock_guard lock(mutex_);
  if (!done && !error_ && !stop_) {
    error_ = done.error();
    stop_ = true;
  }
  --running_;
  changed_.notify_all();
}

Status ParallelSnapshot::read_chunks(Connection& db) {
  std::vector<std::vector<Oid>> types(schemas_.size());
  std::vector<std::optional<std::string>> fields;
  std::vector<Value> text_values;  // a text row's, in column order
  std::vector<Change> rows;
  while (true) {
    const std::optional<std::size_t> taken = take_chunk();
    if (!taken) {
      return ok();
    }
    const std::size_t chunk_index = *taken;
    const SnapshotChunk& chunk = chunks_[chunk_index];
    const CollectionSchema& schema = schemas_[chunk.table];
    const std::string columns = column_list(schema);
    if (types[chunk.table].empty()) {
      // COPY sends no types: the columns' types come from an empty SELECT.
      Result<Rows> probe =
          db.query(fmt::format("SELECT {} FROM {} LIMIT 0", columns, qualified_name(schema.name)));
      if (!probe) {
        return fail(probe.error().with_context(fmt::format("snapshot {}", schema.name)));
      }
      for (int column = 0; column < probe->columns(); ++column) {
        types[chunk.table].push_back(probe->type(column));
      }
    }
    // The key's place among the columns; the columns by name, the order a
    // Change keeps its fields in (each is then added at the end of the map).
    std::vector<std::size_t> key_of(schema.columns.size(), schema.primary_key.size());
    for (std::size_t k = 0; k < schema.primary_key.size(); ++k) {
      for (std::size_t c = 0; c < schema.columns.size(); ++c) {
        if (schema.columns[c].name == schema.primary_key[k]) {
          key_of[c] = k;
        }
      }
    }
    std::vector<std::size_t> by_name(schema.columns.size());
    for (std::size_t c = 0; c < by_name.size(); ++c) {
      by_name[c] = c;
    }
    std::sort(by_name.begin(), by_name.end(), [&](std::size_t a, std::size_t b) {
      return schema.columns[a].name < schema.columns[b].name;
    });
    // Binary when every column's type has a decoder (and none is read as an
    // array from another type): the same values, for less of both sides' CPU.
    std::optional<BinaryRowDecoder> binary;
    if (std::none_of(schema.columns.begin(), schema.columns.end(),
                     [](const Column& c) { return c.type == ColumnType::kArray; })) {
      binary = BinaryRowDecoder::make(types[chunk.table]);
    }
    const std::string sql = fmt::format(
        "COPY {} TO STDOUT{}",
        chunk.where.empty() ? fmt::format("{} ({})", qualified_name(schema.name), columns)
                            : fmt::format("(SELECT {} FROM {} WHERE {})", columns,
                                          qualified_name(schema.name), chunk.where),
        binary ? " (FORMAT binary)" : "");
    auto add_row = [&](std::vector<Value>& values) -> Status {
      Change change;
      change.collection = schema.name;
      change.key.resize(schema.primary_key.size());
      change.fields.reserve(by_name.size());
      for (std::size_t c : by_name) {
        if (key_of[c] < change.key.size()) {
          change.key[key_of[c]] = values[c];
        }
        change.fields.emplace_hint(change.fields.end(), schema.columns[c].name,
                                   std::move(values[c]));
      }
      rows.push_back(std::move(change));
      if (rows.size() >= kPushRows && !push(chunk_index, rows)) {
        return make_error(ErrorCode::kCancelled, "snapshot stopped");
      }
      return ok();
    };
    Status copied = db.copy_out(sql, [&](std::string_view line) -> Status {
      if (binary) {
        return binary->read(line, add_row);
      }
      if (Status s = parse_copy_row(line, fields); !s) {
        return s;
      }
      if (fields.size() != schema.columns.size()) {
        return make_error(ErrorCode::kPermanent, "COPY of {} sent {} columns, expected {}",
                          schema.name, fields.size(), schema.columns.size());
      }
      text_values.resize(fields.size());
      for (std::size_t c = 0; c < fields.size(); ++c) {
        text_values[c] = Value();
        if (fields[c]) {
          Result<Value> parsed =
              read_value(types[chunk.table][c], schema.columns[c].type, *fields[c]);
          if (!parsed) {
            return fail(parsed.error().with_context(
                fmt::format("{}.{}", schema.name, schema.columns[c].name)));
          }
          text_values[c] = std::move(*parsed);
        }
      }
      return add_row(text_values);
    });
    if (!copied) {
      return fail(copied.error().with_context(fmt::format("snapshot {}", schema.name)));
    }
    if (!rows.empty() && !push(chunk_index, rows)) {
      return ok();
    }
    finish_chunk(chunk_index);
  }
}

std::optional<std::size_t> ParallelSnapshot::take_chunk() {
  std::unique_lock lock(mutex_);
  const auto window = static_cast<std::size_t>(options_.parallelism);
  changed_.wait(lock, [&] {
    return stop_ || next_chunk_ == chunks_.size() || next_chunk_ < current_ + window;
  });
  if (stop_ || next_chunk_ == chunks_.size()) {
    return std::nullopt;
  }
  return next_chunk_++;
}

void ParallelSnapshot::finish_chunk(std::size_t chunk) {
  std::lock_guard lock(mutex_);
  read_[chunk] = true;
  changed_.notify_all();
}

bool ParallelSnapshot::push(std::size_t chunk, std::vector<Change>& rows) {
  std::unique_lock lock(mutex_);
  // The chunk handed out may fill the queue; one ahead of it its share.
  const std::size_t ahead = std::max<std::size_t>(
      options_.queue_rows / static_cast<std::size_t>(options_.parallelism), kPushRows);
  changed_.wait(lock, [&] {
    return stop_ || rows_[chunk].size() < (chunk == current_ ? options_.queue_rows : ahead);
  });
  if (stop_) {
    return false;
  }
  for (Change& change : rows) {
    rows_[chunk].push_back(std::move(change));
  }
  rows.clear();
  changed_.notify_all();
  return true;
}

Result<std::vector<Change>> ParallelSnapshot::next(std::size_t max_rows) {
  std::unique_lock lock(mutex_);
  std::vector<Change> out;
  const std::size_t want = std::max<std::size_t>(max_rows, 1);
  while (out.size() < want) {
    // Read chunks are passed (a finished one before any other is handed out).
    bool advanced = false;
    while (current_ < chunks_.size() && read_[current_] && rows_[current_].empty()) {
      ++current_;
      advanced = true;
    }
    if (advanced) {
      changed_.notify_all();  // a chunk ahead may now fill, a worker start one
    }
    if (error_) {
      return fail(*error_);
    }
    if (current_ == chunks_.size()) {
      break;
    }
    std::deque<Change>& rows = rows_[current_];
    if (rows.empty()) {
      if (!out.empty()) {
        break;  // what is there now, rather than a wait
      }
      if (running_ == 0) {
        // Every worker ended, and not on an error: only a stop does that.
        return make_error(ErrorCode::kCancelled, "snapshot stopped");
      }
      changed_.wait(lock);
      continue;
    }
    const std::size_t n = std::min(want - out.size(), rows.size());
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(rows.front()));
      rows.pop_front();
    }
    changed_.notify_all();
  }
  return out;
}

}  // namespace megasync::connectors::postgres
