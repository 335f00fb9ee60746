#include "connectors/redis/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace megasync::connectors::redis {
namespace {

constexpr std::size_t kScanCount = 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool collection_wanted(const std::vector<std::string>& patterns, const std::string& name) {
  if (patterns.empty()) {
    return true;
  }
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, name); });
}

}  // namespace

std::vector<int> source_databases(const RedisOptions& options) {
  if (!options.databases.empty()) {
    return options.databases;
  }
  return {options.db.value_or(0)};
}

std::vector<CollectionSchema> describe_databases(const std::vector<int>& databases) {
  std::vector<CollectionSchema> schemas;
  for (int db : databases) {
    CollectionSchema schema;
    schema.name = collection_of(db);
    schema.type_system = "redis";
    // `value` is not a column: payloads are compared by digest (README.md).
    schema.columns = {
        Column{.name = "key", .type = ColumnType::kText, .nullable = false},
        Column{.name = "expire_at", .type = ColumnType::kInteger},
        Column{.name = "digest", .type = ColumnType::kText},
    };
    schema.primary_key = {"key"};
    schemas.push_back(std::move(schema));
  }
  return schemas;
}

Result<std::vector<CollectionSchema>> RedisSource::describe() {
  databases_.clear();
  for (int db : source_databases(options_)) {
    if (collection_wanted(patterns_, collection_of(db))) {
      databases_.push_back(db);
    }
  }
  if (databases_.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: the job's tables match none of the databases read ({})",
                      options_.name, fmt::join(source_databases(options_), ", "));
  }
  return describe_databases(databases_);
}

Status RedisSource::enable_notifications() {
  Result<Reply> current = db_->command({"CONFIG", "GET", "notify-keyspace-events"});
  std::string flags;
  if (current && (*current)->type == REDIS_REPLY_ARRAY && (*current)->elements == 2) {
    flags = std::string(reply_text(*(*current)->element[1]));
  } else if (!current) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: cannot read notify-keyspace-events ({}); set it to KA on the "
                      "server (the source follows changes through keyspace notifications)",
                      options_.name, current.error().message());
  }
  const std::string missing = missing_notify_flags(flags);
  if (missing.empty()) {
    return ok();
  }
  if (!options_.configure_notifications) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: keyspace notifications are off (notify-keyspace-events is "
                      "\"{}\", flags {} missing); set notify-keyspace-events KA on the server, "
                      "or configure_notifications: true",
                      options_.name, flags, missing);
  }
  const std::string wanted = flags + missing;
  if (Result<Reply> set = db_->command({"CONFIG", "SET", "notify-keyspace-events", wanted}); !set) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: keyspace notifications are off and turning them on failed "
                      "({}); set notify-keyspace-events KA on the server",
                      options_.name, set.error().message());
  }
  spdlog::info("endpoint {}: set notify-keyspace-events to \"{}\" (was \"{}\")", options_.name,
               wanted, flags);
  return ok();
}

Status RedisSource::subscribe() {
  std::vector<std::string> patterns;
  for (int db : databases_) {
    patterns.push_back(fmt::format("__keyspace@{}__:*", db));
  }
  std::vector<std::string_view> args = {"PSUBSCRIBE"};
  args.insert(args.end(), patterns.begin(), patterns.end());
  notifications_->append(args);
  // One confirmation per pattern.
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    Result<Reply> reply = notifications_->read();
    if (!reply) {
      return fail(reply.error());
    }
    if ((*reply)->type == REDIS_REPLY_ERROR) {
      return make_error(ErrorCode::kPermanent, "endpoint {}: PSUBSCRIBE: {}", options_.name,
                        reply_text(**reply));
    }
  }
  return ok();
}

Status RedisSource::open(const std::optional<Position>& resume_after) {
  if (Result<std::vector<CollectionSchema>> schemas = describe(); !schemas) {
    return fail(schemas.error());
  }
  const Deadline deadline = Deadline::after(std::chrono::seconds(30));
  Result<std::unique_ptr<Connection>> db = Connection::open(options_, deadline, 0);
  if (!db) {
    return fail(db.error().with_context(fmt::format("endpoint {}", options_.name)));
  }
  db_ = std::move(*db);
  Result<std::unique_ptr<Connection>> sub = Connection::open(options_, deadline, 0);
  if (!sub) {
    return fail(sub.error().with_context(fmt::format("endpoint {}", options_.name)));
  }
  notifications_ = std::move(*sub);
  if (Status s = enable_notifications(); !s) {
    return s;
  }
  if (Status s = subscribe(); !s) {
    return s;
  }
  // A new session: its positions come after every earlier session's.
  position_ = SourcePosition{.epoch_ms = now_ms(), .seq = 0};
  if (resume_after) {
    std::optional<SourcePosition> previous = decode_position(*resume_after);
    if (!previous) {
      return make_error(ErrorCode::kPermanent, "checkpoint {:?} is not a redis source position",
                        *resume_after);
    }
    position_.epoch_ms = std::max(position_.epoch_ms, previous->epoch_ms + 1);
    in_snapshot_ = false;
    return ok();
  }
  in_snapshot_ = true;
  snapshot_db_ = 0;
  cursor_ = "0";
  scanned_.clear();
  return ok();
}

Status RedisSource::drain(std::chrono::milliseconds wait) {
  Result<std::vector<Reply>> messages = notifications_->poll_messages(wait);
  if (!messages) {
    return fail(messages.error().with_context(
        fmt::format("endpoint {}: keyspace notifications", options_.name)));
  }
  for (const Reply& message : *messages) {
    // ["pmessage", pattern, channel, event]
    if (message->type != REDIS_REPLY_ARRAY || message->elements != 4) {
      continue;
    }
    std::optional<KeyspaceEvent> event = parse_keyspace_channel(reply_text(*message->element[2]));
    if (event && options_.keys.matches(event->key)) {
      dirty_.emplace(event->db, std::move(event->key));
    }
  }
  return ok();
}

Status RedisSource::read_keys(int db, const std::vector<std::string>& keys, bool deletes,
                              const Position& position, Batch& batch) {
  if (keys.empty()) {
    return ok();
  }
  if (Status s = db_->select(db); !s) {
    return s;
  }
  for (const std::string& key : keys) {
    db_->append({"DUMP", key});
    db_->append({"PEXPIRETIME", key});
  }
  const std::string collection = collection_of(db);
  for (const std::string& key : keys) {
    Result<Reply> dump = db_->read();
    if (!dump) {
      return fail(dump.error());
    }
    Result<Reply> expire = db_->read();
    if (!expire) {
      return fail(expire.error());
    }
    for (const Reply* reply : {&*dump, &*expire}) {
      if ((*reply)->type == REDIS_REPLY_ERROR) {
        return make_error(classify_error(reply_text(**reply), false),
                          "endpoint {}: reading key {:?} of database {}: {}", options_.name, key,
                          db, reply_text(**reply));
      }
    }
    Change change;
    change.collection = collection;
    change.key = {Value(key)};
    change.position = position;
    // Gone (or expired between the two commands: PEXPIRETIME -2).
    if ((*dump)->type == REDIS_REPLY_NIL || (*expire)->integer == -2) {
      if (!deletes) {
        continue;
      }
      change.op = Op::kDelete;
      batch.bytes += key.size();
    } else {
      change.op = Op::kUpsert;
      change.fields["key"] = Value(key);
      change.fields["value"] = Value(Bytes{std::string(reply_text(**dump))});
      const std::int64_t at = (*expire)->integer;
      change.fields["expire_at"] = at > 0 ? Value(at) : Value();
      if (at > 0) {
        change.meta["expire_at"] = std::to_string(at);
      }
      batch.bytes += key.size() + (*dump)->len + 16;
    }
    batch.changes.push_back(std::move(change));
  }
  return ok();
}

Result<std::optional<Batch>> RedisSource::next_snapshot(std::size_t max_changes) {
  Batch batch;
  batch.snapshot = true;
  const Position position = encode_position(position_);
  while (snapshot_db_ < databases_.size() && batch.changes.size() < max_changes) {
    const int db = databases_[snapshot_db_];
    if (scanned_.empty()) {
      if (cursor_ == "done") {
        ++snapshot_db_;
        cursor_ = "0";
        continue;
      }
      if (Status s = db_->select(db); !s) {
        return fail(s.error());
      }
      const std::string count = std::to_string(kScanCount);
      Result<Reply> scan =
          db_->command({"SCAN", cursor_, "MATCH", options_.keys.scan_pattern(), "COUNT", count});
      if (!scan) {
        return fail(scan.error().with_context(fmt::format("endpoint {}: snapshot", options_.name)));
      }
      const redisReply& reply = **scan;
      if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2) {
        return make_error(ErrorCode::kPermanent, "endpoint {}: unexpected SCAN reply",
                          options_.name);
      }
      cursor_ = std::string(reply_text(*reply.element[0]));
      if (cursor_ == "0") {
        cursor_ = "done";
      }
      const redisReply& keys = *reply.element[1];
      for (std::size_t i = 0; i < keys.elements; ++i) {
        std::string key(reply_text(*keys.element[i]));
        if (options_.keys.matches(key)) {
          scanned_.push_back(std::move(key));
        }
      }
      continue;
    }
    const std::size_t take = std::min(scanned_.size(), max_changes - batch.changes.size());
    std::vector<std::string> keys(scanned_.begin(), scanned_.begin() + static_cast<long>(take));
    scanned_.erase(scanned_.begin(), scanned_.begin() + static_cast<long>(take));
    if (Status s = read_keys(db, keys, /*deletes=*/false, position, batch); !s) {
      return fail(s.error());
    }
    // Keep the subscriber's buffer small while the snapshot runs.
    if (Status s = drain(std::chrono::milliseconds(0)); !s) {
      return fail(s.error());
    }
  }
  if (snapshot_db_ >= databases_.size()) {
    in_snapshot_ = false;
    batch.end = position;  // the snapshot is complete: the first checkpoint
  }
  return std::optional<Batch>(std::move(batch));
}

Result<std::optional<Batch>> RedisSource::next(Deadline until, std::size_t max_changes) {
  if (in_snapshot_) {
    return next_snapshot(std::max<std::size_t>(max_changes, 1));
  }
  if (Status s = drain(std::chrono::milliseconds(0)); !s) {
    return fail(s.error());
  }
  while (dirty_.empty()) {
    const auto left = until.remaining();
    if (until.expired() || left.count() <= 0) {
      return std::optional<Batch>();
    }
    if (Status s = drain(std::min(left, std::chrono::milliseconds(200))); !s) {
      return fail(s.error());
    }
  }
  ++position_.seq;
  const Position position = encode_position(position_);
  Batch batch;
  batch.end = position;
  // Per database, in key order; at most max_changes keys.
  std::map<int, std::vector<std::string>> by_db;
  std::size_t taken = 0;
  while (!dirty_.empty() && taken < std::max<std::size_t>(max_changes, 1)) {
    auto first = dirty_.begin();
    by_db[first->first].push_back(first->second);
    dirty_.erase(first);
    ++taken;
  }
  for (const auto& [db, keys] : by_db) {
    if (Status s = read_keys(db, keys, /*deletes=*/true, position, batch); !s) {
      return fail(s.error());
    }
  }
  return std::optional<Batch>(std::move(batch));
}

int RedisSource::compare(const Position& a, const Position& b) const {
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

Result<std::optional<std::int64_t>> RedisSource::backlog(const std::optional<Position>& after) {
  if (after) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(dirty_.size()));
  }
  if (db_ == nullptr) {
    return std::optional<std::int64_t>();
  }
  std::int64_t keys = 0;
  for (int db : databases_) {
    if (Status s = db_->select(db); !s) {
      return fail(s.error());
    }
    Result<Reply> size = db_->command({"DBSIZE"});
    if (!size) {
      return fail(size.error());
    }
    keys += (*size)->integer;
  }
  return std::optional<std::int64_t>(keys);
}

}  // namespace megasync::connectors::redis
