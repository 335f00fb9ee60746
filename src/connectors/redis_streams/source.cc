#include "connectors/redis_streams/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace megasync::connectors::redis_streams {
namespace {

constexpr auto kRescanInterval = std::chrono::seconds(10);

bool is_glob(const std::string& name) {
  return name.find_first_of("*?[") != std::string::npos;
}

std::string text_of(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) {
    return {};
  }
  return std::string(reply->str, reply->len);
}

// The milliseconds part of an entry id ("1700000000000-0").
std::optional<std::int64_t> entry_time_ms(const std::string& entry_id) {
  std::int64_t ms = 0;
  const char* end = entry_id.data() + entry_id.size();
  const auto [ptr, ec] = std::from_chars(entry_id.data(), end, ms);
  if (ec != std::errc() || ptr == entry_id.data()) {
    return std::nullopt;
  }
  return ms;
}

}  // namespace

Message message_of(const StreamsOptions& options, const std::string& stream,
                   const std::string& entry_id, const std::vector<std::string>& fields) {
  Message message;
  message.topic = stream;
  message.timestamp_ms = entry_time_ms(entry_id);
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i];
    const std::string& value = fields[i + 1];
    if (name == options.payload_field) {
      message.payload = value;
    } else if (name == options.key_field) {
      message.key = value;
    } else if (!options.id_field.empty() && name == options.id_field && !value.empty()) {
      message.id = value;
    } else {
      message.headers.emplace_back(name, value);
    }
  }
  if (message.id.empty()) {
    message.id = fmt::format("{}:{}", stream, entry_id);
  }
  if (const std::string* type = message.header("content_type")) {
    message.content_type = *type;
  }
  return message;
}

Result<std::vector<CollectionSchema>> StreamsSource::describe() {
  std::vector<CollectionSchema> schemas;
  for (const std::string& name : options_.streams) {
    schemas.push_back(message_schema(name));
  }
  return schemas;
}

Status StreamsSource::ensure_group(const std::string& stream, bool make_stream) {
  std::vector<std::string_view> args = {"XGROUP", "CREATE", stream, group_,
                                        options_.start_latest ? "$" : "0"};
  if (make_stream) {
    args.push_back("MKSTREAM");
  }
  Result<redis::Reply> reply = connection_->command(args);
  if (!reply && reply.error().message().find("BUSYGROUP") == std::string::npos) {
    return fail(reply.error().with_context(
        fmt::format("endpoint {}: creating consumer group {} of stream {}", options_.server.name,
                    group_, stream)));
  }
  return ok();
}

Result<std::vector<FoundStream>> find_streams(redis::Connection& connection,
                                              const std::vector<std::string>& names,
                                              const std::string& endpoint) {
  std::vector<FoundStream> found;
  for (const std::string& name : names) {
    if (!is_glob(name)) {
      found.push_back({name, true});
      continue;
    }
    std::string cursor = "0";
    do {
      Result<redis::Reply> reply =
          connection.command({"SCAN", cursor, "MATCH", name, "COUNT", "1000", "TYPE", "stream"});
      if (!reply) {
        return fail(reply.error().with_context(
            fmt::format("endpoint {}: finding the streams {:?}", endpoint, name)));
      }
      const redisReply* r = reply->get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        return make_error(ErrorCode::kPermanent, "endpoint {}: SCAN: unexpected reply", endpoint);
      }
      cursor = text_of(r->element[0]);
      for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
        found.push_back({text_of(r->element[1]->element[i]), false});
      }
    } while (cursor != "0");
  }
  return found;
}

Status StreamsSource::resolve_streams(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - resolved_at_ < kRescanInterval) {
    return ok();
  }
  resolved_at_ = now;
  Result<std::vector<FoundStream>> found =
      find_streams(*connection_, options_.streams, options_.server.name);
  if (!found) {
    return fail(found.error());
  }
  for (const FoundStream& stream : *found) {
    if (cursors_.contains(stream.name)) {
      continue;
    }
    if (Status s = ensure_group(stream.name, stream.named); !s) {
      return s;
    }
    cursors_[stream.name] = "0";  // this consumer's pending entries first
  }
  return ok();
}

Status StreamsSource::open(const std::optional<Position>&) {
  Result<std::unique_ptr<redis::Connection>> connection = redis::Connection::open(
      options_.server, Deadline::after(std::chrono::seconds(30)), options_.server.db.value_or(0));
  if (!connection) {
    return fail(connection.error().with_context(fmt::format("endpoint {}", options_.server.name)));
  }
  connection_ = std::move(*connection);
  cursors_.clear();
  if (Status s = resolve_streams(/*force=*/true); !s) {
    return s;
  }
  session_ = new_session();
  sequence_ = 0;
  held_.clear();
  return ok();
}

Result<std::optional<Batch>> StreamsSource::next(Deadline until, std::size_t max_changes) {
  if (connection_ == nullptr) {
    // Lost in an earlier call: reconnect and read the pending entries again
    // (a redelivery of what is held is a duplicate the ids name).
    Result<std::unique_ptr<redis::Connection>> connection = redis::Connection::open(
        options_.server, Deadline::after(std::chrono::seconds(10)), options_.server.db.value_or(0));
    if (!connection) {
      return fail(
          connection.error().with_context(fmt::format("endpoint {}", options_.server.name)));
    }
    connection_ = std::move(*connection);
    cursors_.clear();
    if (Status s = resolve_streams(/*force=*/true); !s) {
      return fail(s.error());
    }
  }
  // Replaying the pending entries ends with an empty read: then read new
  // entries in the same call (an empty answer means nothing new arrived).
  // (Bounded: each replaying read consumes pending entries or ends a list.)
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const bool replaying = std::any_of(cursors_.begin(), cursors_.end(),
                                       [](const auto& c) { return c.second != ">"; });
    Result<std::optional<Batch>> batch = read(until, max_changes);
    if (!batch && batch.error().code() == ErrorCode::kRetryable) {
      connection_.reset();
    }
    if (!batch || batch->has_value() || !replaying) {
      return batch;
    }
  }
  return std::optional<Batch>();
}

Result<std::optional<Batch>> StreamsSource::read(Deadline until, std::size_t max_changes) {
  if (Status s = resolve_streams(/*force=*/false); !s) {
    return fail(s.error());
  }
  // Replaying pending entries (an explicit ID) never blocks; read those
  // streams alone until each one's list is exhausted, then block on new ones.
  std::vector<std::string> streams;
  std::vector<std::string> ids;
  for (const auto& [stream, cursor] : cursors_) {
    if (cursor != ">") {
      streams.push_back(stream);
      ids.push_back(cursor);
    }
  }
  const bool replay = !streams.empty();
  if (!replay) {
    for (const auto& [stream, cursor] : cursors_) {
      streams.push_back(stream);
      ids.push_back(cursor);
    }
  }
  if (streams.empty()) {
    return std::optional<Batch>();
  }
  const std::string count = std::to_string(std::clamp<std::size_t>(max_changes, 1, 10000));
  const std::int64_t block_ms = until.remaining().count();
  const std::string block = std::to_string(block_ms);
  std::vector<std::string_view> args = {"XREADGROUP",      "GROUP", group_,
                                        options_.consumer, "COUNT", count};
  if (!replay && block_ms > 0) {  // BLOCK 0 would wait for ever
    args.push_back("BLOCK");
    args.push_back(block);
  }
  args.push_back("STREAMS");
  args.insert(args.end(), streams.begin(), streams.end());
  args.insert(args.end(), ids.begin(), ids.end());
  Result<redis::Reply> reply = connection_->command(args);
  if (!reply) {
    if (reply.error().message().find("NOGROUP") != std::string::npos) {
      // A stream (and its group) deleted: find them again and recreate.
      spdlog::warn("endpoint {}: {}; creating the group again", options_.server.name,
                   reply.error().message());
      cursors_.clear();
      if (Status s = resolve_streams(/*force=*/true); !s) {
        return fail(s.error());
      }
      return std::optional<Batch>();
    }
    return fail(reply.error().with_context(
        fmt::format("endpoint {}: reading group {}", options_.server.name, group_)));
  }
  Batch batch;
  const redisReply* r = reply->get();
  if (r->type == REDIS_REPLY_ARRAY) {
    for (std::size_t s = 0; s < r->elements; ++s) {
      const redisReply* per_stream = r->element[s];
      if (per_stream->type != REDIS_REPLY_ARRAY || per_stream->elements != 2) {
        continue;
      }
      const std::string stream = text_of(per_stream->element[0]);
      const redisReply* entries = per_stream->element[1];
      if (replay && entries->elements == 0) {
        cursors_[stream] = ">";  // this consumer's pending list is read
        continue;
      }
      std::vector<std::string> deleted;
      for (std::size_t e = 0; e < entries->elements; ++e) {
        const redisReply* entry = entries->element[e];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
          continue;
        }
        std::string entry_id = text_of(entry->element[0]);
        if (replay) {
          cursors_[stream] = entry_id;
        }
        const redisReply* values = entry->element[1];
        if (values->type != REDIS_REPLY_ARRAY) {
          // Pending but deleted (XDEL, trimmed): nothing left to deliver.
          deleted.push_back(std::move(entry_id));
          continue;
        }
        std::vector<std::string> fields;
        fields.reserve(values->elements);
        for (std::size_t f = 0; f < values->elements; ++f) {
          fields.push_back(text_of(values->element[f]));
        }
        Message message = message_of(options_, stream, entry_id, fields);
        batch.bytes += message.payload.size() + message.topic.size() + message.id.size() + 32;
        for (const auto& [name, value] : message.headers) {
          batch.bytes += name.size() + value.size();
        }
        ++sequence_;
        Position position = session_position(session_, sequence_);
        batch.changes.push_back(to_change(std::move(message), position));
        batch.end = std::move(position);
        held_.push_back(Held{.sequence = sequence_, .stream = stream, .entry_id = entry_id});
      }
      if (!deleted.empty()) {
        std::vector<std::string_view> ack = {"XACK", stream, group_};
        ack.insert(ack.end(), deleted.begin(), deleted.end());
        (void)connection_->command(ack);
      }
    }
  }
  if (batch.changes.empty()) {
    return std::optional<Batch>();
  }
  return std::optional<Batch>(std::move(batch));
}

Status StreamsSource::release(const Position& durable_everywhere) {
  Result<SessionPosition> position = parse_session_position(durable_everywhere);
  if (!position) {
    return make_error(ErrorCode::kPermanent,
                      "endpoint {}: {:?} is not a redis_streams source position",
                      options_.server.name, durable_everywhere);
  }
  // A checkpoint of an earlier session: acked then, or pending and read again.
  if (position->session != session_) {
    return ok();
  }
  std::map<std::string, std::vector<std::string>> by_stream;
  while (!held_.empty() && held_.front().sequence <= position->sequence) {
    by_stream[held_.front().stream].push_back(std::move(held_.front().entry_id));
    held_.pop_front();
  }
  if (by_stream.empty() || connection_ == nullptr) {
    return ok();
  }
  for (const auto& [stream, ids] : by_stream) {
    std::vector<std::string_view> args = {"XACK", stream, group_};
    args.insert(args.end(), ids.begin(), ids.end());
    connection_->append(args);
  }
  for (std::size_t i = 0; i < by_stream.size(); ++i) {
    Result<redis::Reply> reply = connection_->read();
    if (!reply) {
      // Still pending: read again after a restart, a duplicate the id names.
      spdlog::warn("endpoint {}: acks not confirmed (the entries stay pending): {}",
                   options_.server.name, reply.error().message());
      connection_.reset();
      return ok();
    }
    if ((*reply)->type == REDIS_REPLY_ERROR) {
      spdlog::warn("endpoint {}: XACK: {}", options_.server.name, redis::reply_text(**reply));
    }
  }
  return ok();
}

int StreamsSource::compare(const Position& a, const Position& b) const {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace megasync::connectors::redis_streams
