// The dead letters of the SQLite store (table dead_letters, migration 4).
#include <fmt/format.h>

#include <algorithm>

#include "state/dead_letter_codec.h"
#include "state/sqlite_store_impl.h"

namespace megasync::state {
namespace {

constexpr const char* kColumns =
    "SELECT id, job, target, time, attempts, error, change FROM dead_letters ";

// A row of kColumns; kPermanent when its change cannot be decoded.
Result<DeadLetter> read_row(const Query& query) {
  DeadLetter letter;
  letter.id = query.column_int64(0);
  letter.job = query.column_text(1);
  letter.target = query.column_text(2);
  letter.time = from_millis(query.column_int64(3));
  letter.attempts = static_cast<int>(query.column_int64(4));
  letter.error = query.column_text(5);
  Result<DeadChange> dead = decode_dead_change(query.column_text(6));
  if (!dead) {
    return fail(dead.error().with_context(fmt::format("dead letter {}", letter.id)));
  }
  letter.change = std::move(dead->change);
  letter.schema = std::move(dead->schema);
  return letter;
}

std::string key_text(const std::vector<Value>& key) {
  std::string text;
  for (const Value& value : key) {
    text += (text.empty() ? "" : ",") + to_text(value);
  }
  return text;
}

}  // namespace

Result<std::int64_t> SqliteStore::add_dead_letter(const DeadLetter& letter) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "INSERT INTO dead_letters (job, target, time, collection, key_text, attempts, error, "
      "change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      fmt::format("add dead letter {}/{}", letter.job, letter.target));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, letter.job)
      .bind(2, letter.target)
      .bind(3, to_millis(clock_()))
      .bind(4, letter.change.collection)
      .bind(5, key_text(letter.change.key))
      .bind(6, std::int64_t{letter.attempts})
      .bind(7, letter.error)
      .bind(8, encode_dead_change(letter.change, letter.schema));
  if (Status done = query->run(); !done) {
    return fail(std::move(done.error()));
  }
  return db_->last_insert_rowid();
}

Result<std::vector<DeadLetter>> SqliteStore::list_dead_letters(const DeadLetterQuery& request) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(std::string(kColumns) + "WHERE job = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
                          fmt::format("list dead letters {}", request.job));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, request.job)
      .bind(2, std::int64_t{std::clamp(request.limit, kMinQueryLimit, kMaxQueryLimit)})
      .bind(3, std::max<std::int64_t>(request.offset, 0));
  std::vector<DeadLetter> letters;
  for (;;) {
    auto row = query->step();
    if (!row) {
      return fail(std::move(row.error()));
    }
    if (!*row) {
      return letters;
    }
    Result<DeadLetter> letter = read_row(*query);
    if (!letter) {
      return fail(std::move(letter.error()));
    }
    letters.push_back(std::move(*letter));
  }
}

Result<std::int64_t> SqliteStore::count_dead_letters(const std::string& job) {
  std::lock_guard lock(mutex_);
  auto query = db_->query("SELECT COUNT(*) FROM dead_letters WHERE job = ?1",
                          fmt::format("count dead letters {}", job));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job);
  auto row = query->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  return query->column_int64(0);
}

Result<std::optional<DeadLetter>> SqliteStore::get_dead_letter(const std::string& job,
                                                               std::int64_t id) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(std::string(kColumns) + "WHERE job = ?1 AND id = ?2",
                          fmt::format("get dead letter {}/{}", job, id));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job).bind(2, id);
  auto row = query->step();
  if (!row) {
    return fail(std::move(row.error()));
  }
  if (!*row) {
    return std::optional<DeadLetter>();
  }
  Result<DeadLetter> letter = read_row(*query);
  if (!letter) {
    return fail(std::move(letter.error()));
  }
  return std::optional<DeadLetter>(std::move(*letter));
}

Result<bool> SqliteStore::remove_dead_letter(const std::string& job, std::int64_t id) {
  std::lock_guard lock(mutex_);
  auto query = db_->query("DELETE FROM dead_letters WHERE job = ?1 AND id = ?2",
                          fmt::format("remove dead letter {}/{}", job, id));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job).bind(2, id);
  if (Status done = query->run(); !done) {
    return fail(std::move(done.error()));
  }
  return db_->changes() > 0;
}

Result<bool> SqliteStore::note_dead_letter_attempt(const std::string& job, std::int64_t id,
                                                   const std::string& error) {
  std::lock_guard lock(mutex_);
  auto query = db_->query(
      "UPDATE dead_letters SET attempts = attempts + 1, error = ?3 WHERE job = ?1 AND id = ?2",
      fmt::format("note attempt of dead letter {}/{}", job, id));
  if (!query) {
    return fail(std::move(query.error()));
  }
  query->bind(1, job).bind(2, id).bind(3, error);
  if (Status done = query->run(); !done) {
    return fail(std::move(done.error()));
  }
  return db_->changes() > 0;
}

}  // namespace megasync::state
