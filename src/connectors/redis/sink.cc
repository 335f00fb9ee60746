#include "connectors/redis/sink.h"

#include <fmt/format.h>

#include <algorithm>

namespace megasync::connectors::redis {

Result<int> target_database(const RedisOptions& options, const std::string& collection) {
  if (options.db) {
    return *options.db;
  }
  std::optional<int> db = db_of(collection);
  if (!db) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: collection {} names no database (expected db<N>); set db on "
                      "the endpoint to write it to one database",
                      options.name, collection);
  }
  return *db;
}

Status RedisSink::prepare(const std::vector<CollectionSchema>& schemas) {
  for (const CollectionSchema& schema : schemas) {
    if (Result<int> db = target_database(db_->options(), schema.name); !db) {
      return fail(db.error());
    }
  }
  return ok();
}

Status RedisSink::apply(const Batch& batch) {
  const RedisOptions& options = db_->options();
  // Queued commands, to name the key of a failed one.
  std::vector<const Change*> queued;
  std::vector<std::string> expiries;
  expiries.reserve(batch.changes.size());
  int current = -1;
  for (const Change& change : batch.changes) {
    Result<int> db = target_database(options, change.collection);
    if (!db) {
      return fail(db.error());
    }
    if (*db != current) {
      const std::string index = std::to_string(*db);
      db_->append({"SELECT", index});
      queued.push_back(nullptr);
      current = *db;
    }
    if (change.key.size() != 1 || !std::holds_alternative<std::string>(change.key.front())) {
      return make_error(ErrorCode::kPermanent, "endpoint {}: a change of {} has no text key",
                        options.name, change.collection);
    }
    const std::string& key = std::get<std::string>(change.key.front());
    if (change.op == Op::kDelete) {
      db_->append({"DEL", key});
      queued.push_back(&change);
      continue;
    }
    if (change.op != Op::kUpsert) {
      return make_error(ErrorCode::kPermanent, "endpoint {}: {} is not supported on redis",
                        options.name, to_string(change.op));
    }
    auto value = change.fields.find("value");
    if (value == change.fields.end() || !std::holds_alternative<Bytes>(value->second)) {
      return make_error(ErrorCode::kPermanent,
                        "endpoint {}: key {:?} of {} carries no DUMP payload (field value); the "
                        "redis target takes records from a redis source",
                        options.name, key, change.collection);
    }
    std::int64_t expire_at = 0;
    if (auto at = change.fields.find("expire_at");
        at != change.fields.end() && std::holds_alternative<std::int64_t>(at->second)) {
      expire_at = std::get<std::int64_t>(at->second);
    }
    expiries.push_back(std::to_string(std::max<std::int64_t>(expire_at, 0)));
    const std::string& payload = std::get<Bytes>(value->second).data;
    if (expire_at > 0) {
      db_->append({"RESTORE", key, expiries.back(), payload, "REPLACE", "ABSTTL"});
    } else {
      db_->append({"RESTORE", key, "0", payload, "REPLACE"});
    }
    queued.push_back(&change);
  }
  std::optional<Error> first_error;
  for (const Change* change : queued) {
    Result<Reply> reply = db_->read();
    if (!reply) {
      return fail(reply.error().with_context(fmt::format("endpoint {}", options.name)));
    }
    if ((*reply)->type == REDIS_REPLY_ERROR && !first_error) {
      const std::string_view message = reply_text(**reply);
      const std::string what =
          change == nullptr ? std::string("SELECT")
                            : fmt::format("key {:?} of {}", std::get<std::string>(change->key[0]),
                                          change->collection);
      first_error = Error(classify_error(message, false),
                          fmt::format("endpoint {}: {}: {}{}", options.name, what, message,
                                      message.find("payload version") != std::string_view::npos
                                          ? " (the target's Redis is older than the source's)"
                                          : ""));
    }
  }
  if (first_error) {
    return fail(*first_error);
  }
  return ok();
}

}  // namespace megasync::connectors::redis
