// Run history, events and the audit log of SqliteStore.
#include <algorithm>

#include "state/sqlite_store_impl.h"

namespace megasync::state {

namespace {

int clamp_limit(int limit) {
  return std::clamp(limit, kMinQueryLimit, kMaxQueryLimit);
}

// Reads every row of `query` with `read_row`, which takes the Query and
// returns one value.
template <typename T, typename ReadRow>
Result<std::vector<T>> collect(Query& query, ReadRow read_row) {
  std::vector<T> rows;
  for (;;) {
    auto row = query.step();
    if (!row) {
      return fail(std::move(row.error()));
    }
    if (!*row) {
      return rows;
    }
    rows.push_back(read_row(query));
  }
}

// The smallest string greater than every string starting with `prefix`, for a
// range scan that can use the events(type) index (LIKE and GLOB would treat
// '_', '%', '?' and '[' in an event type as wildcards). nullopt: no bound.
std::optional<std::string> prefix_upper_bound(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (prefix.empty()) {
    return std::nullopt;
  }
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

std::string dump_json(const nlohmann::json& data) {
  // replace: invalid UTF-8 in a string must not throw through the interface.
  return data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Rows are only written by dump_json, but a hand-edited row should not make
// the whole event history unreadable: keep the text as a JSON string.
nlohmann::json parse_json(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return nlohmann::json(text);
  }
  return parsed;
}

RunRecord read_run(const Query& query) {
  RunRecord run;
  run.id = query.column_int64(0);
  run.job = query.column_text(1);
  run.trigger = query.column_text(2);
  run.started_at = from_millis(query.column_int64(3));
  if (auto finished = query.column_optional_int64(4)) {
    run.finished_at = from_millis(*finished);
  }
  // Only this build writes the column and a newer schema is refused at open,
  // so an unknown value means a hand-edited row; report it as a failure.
  run.outcome = outcome_from_string(query.column_text(5)).value_or(Outcome::kFailed);
  run.attempts = static_cast<int>(query.column_int64(6));
  run.records = query.column_int64(7);
  run.bytes = query.column_int64(8);
  run.error = query.column_text(9);
  return run;
}

constexpr const char* kRunColumns =
    "SELECT id, job, \"trigger\", started_at, finished_at, outcome, attempts, records, bytes, "
    "error FROM runs ";

}  // namespace

Result<std::int64_t> SqliteStore::begin_run(const RunRecord& run) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "INSERT INTO runs (job, \"trigger\", started_at, finished_at, outcome, attempts, records, "
      "bytes, error) VALUES (?1, ?2, ?3, NULL, 'running', ?4, ?5, ?6, ?7)",
      fmt::format("begin run of {}", run.job));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, run.job)
      .bind(2, run.trigger)
      .bind(3, to_millis(run.started_at))
      .bind(4, std::int64_t{run.attempts})
      .bind(5, run.records)
      .bind(6, run.bytes)
      .bind(7, run.error);
  if (auto done = query->run(); !done) {
    return fail(std::move(done.error()));
  }
  return db_->last_insert_rowid();
}

Status SqliteStore::finish_run(const RunRecord& run) {
  std::lock_guard lock(mutex_);
  const std::string operation = fmt::format("finish run {} of {}", run.id, run.job);
  auto query = db_->query(
      "UPDATE runs SET finished_at = ?2, outcome = ?3, attempts = ?4, records = ?5, bytes = ?6, "
      "error = ?7 WHERE id = ?1",
      operation);
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, run.id)
      .bind(2, to_millis(run.finished_at.value_or(clock_())))
      .bind(3, to_string(run.outcome))
      .bind(4, std::int64_t{run.attempts})
      .bind(5, run.records)
      .bind(6, run.bytes)
      .bind(7, run.error);
  if (auto done = query->run(); !done) {
    return done;
  }
  if (db_->changes() == 0) {
    return make_error(ErrorCode::kNotFound, "state store {}: {}: no such run", db_->path(),
                      operation);
  }
  return ok();
}

Result<std::vector<RunRecord>> SqliteStore::list_runs(const std::string& job, int limit) {
  std::lock_guard lock(mutex_);
  // Two statements rather than "?1 = '' OR job = ?1" so the filtered one can
  // use the runs(job, id) index.
  std::string sql = kRunColumns;
  sql += job.empty() ? "ORDER BY id DESC LIMIT ?1" : "WHERE job = ?2 ORDER BY id DESC LIMIT ?1";
  auto query = db_->query(sql, fmt::format("list runs of {}", job.empty() ? "(all jobs)" : job));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, std::int64_t{clamp_limit(limit)});
  if (!job.empty()) {
    query->bind(2, job);
  }
  return collect<RunRecord>(*query, read_run);
}

Result<int> SqliteStore::close_interrupted_runs(const std::string& reason) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "UPDATE runs SET outcome = 'failed', finished_at = ?1, error = ?2 "
      "WHERE outcome = 'running'",
      "close interrupted runs");
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, to_millis(clock_())).bind(2, reason);
  if (auto done = query->run(); !done) {
    return fail(std::move(done.error()));
  }
  return static_cast<int>(db_->changes());
}

Result<std::int64_t> SqliteStore::append_event(const EventRecord& event) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "INSERT INTO events (type, severity, job, endpoint, time, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      fmt::format("append event {}", event.type));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, event.type)
      .bind(2, event.severity)
      .bind(3, event.job)
      .bind(4, event.endpoint)
      .bind(5, to_millis(event.time))
      .bind(6, dump_json(event.data));
  if (auto done = query->run(); !done) {
    return fail(std::move(done.error()));
  }
  return db_->last_insert_rowid();
}

Result<std::vector<EventRecord>> SqliteStore::list_events(const EventQuery& request) {
  std::lock_guard lock(mutex_);
  // One statement per combination of filters (at most six, all cached), so
  // each can use its index; parameters keep fixed numbers across variants.
  std::string sql =
      "SELECT id, type, severity, job, endpoint, time, data FROM events WHERE id > ?1";
  std::string exact_type;
  std::string type_low;
  std::optional<std::string> type_high;
  if (!request.type.empty() && request.type.back() == '*') {
    type_low = request.type.substr(0, request.type.size() - 1);
    type_high = prefix_upper_bound(type_low);
    if (!type_low.empty()) {
      sql += " AND type >= ?2";
    }
    if (type_high) {
      sql += " AND type < ?3";
    }
  } else if (!request.type.empty()) {
    exact_type = request.type;
    sql += " AND type = ?2";
  }
  if (!request.job.empty()) {
    sql += " AND job = ?4";
  }
  // Without a cursor: the newest events. With one (a poller paging forward):
  // the oldest after it, so that paging in `limit`-sized steps misses nothing.
  sql += request.after_id > 0 ? " ORDER BY id ASC LIMIT ?5" : " ORDER BY id DESC LIMIT ?5";

  auto query = db_->query(sql, "list events");
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, request.after_id);
  if (!exact_type.empty()) {
    query->bind(2, exact_type);
  } else if (!type_low.empty()) {
    query->bind(2, type_low);
  }
  if (type_high) {
    query->bind(3, *type_high);
  }
  if (!request.job.empty()) {
    query->bind(4, request.job);
  }
  query->bind(5, std::int64_t{clamp_limit(request.limit)});
  return collect<EventRecord>(*query, [](const Query& row) {
    EventRecord event;
    event.id = row.column_int64(0);
    event.type = row.column_text(1);
    event.severity = row.column_text(2);
    event.job = row.column_text(3);
    event.endpoint = row.column_text(4);
    event.time = from_millis(row.column_int64(5));
    event.data = parse_json(row.column_text(6));
    return event;
  });
}

Status SqliteStore::append_audit(const AuditRecord& record) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "INSERT INTO audit (time, actor, action, target, outcome, remote) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      fmt::format("append audit {} by {}", record.action, record.actor));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, to_millis(record.time))
      .bind(2, record.actor)
      .bind(3, record.action)
      .bind(4, record.target)
      .bind(5, record.outcome)
      .bind(6, record.remote);
  return query->run();
}

Result<std::vector<AuditRecord>> SqliteStore::list_audit(int limit) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "SELECT id, time, actor, action, target, outcome, remote FROM audit "
      "ORDER BY id DESC LIMIT ?1",
      "list audit");
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, std::int64_t{clamp_limit(limit)});
  return collect<AuditRecord>(*query, [](const Query& row) {
    return AuditRecord{row.column_int64(0), from_millis(row.column_int64(1)),
                       row.column_text(2),  row.column_text(3),
                       row.column_text(4),  row.column_text(5),
                       row.column_text(6)};
  });
}

}  // namespace megasync::state
