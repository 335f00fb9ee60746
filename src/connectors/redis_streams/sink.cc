#include "connectors/redis_streams/sink.h"

#include <fmt/format.h>

namespace megasync::connectors::redis_streams {

std::vector<std::string> xadd_args(const StreamsOptions& options, const std::string& stream,
                                   const Message& message) {
  std::vector<std::string> args = {"XADD", stream};
  if (options.maxlen) {
    args.insert(args.end(), {"MAXLEN", "~", std::to_string(*options.maxlen)});
  }
  args.insert(args.end(), {"*", "payload", message.payload});
  if (message.key) {
    args.insert(args.end(), {"key", *message.key});
  }
  args.insert(args.end(), {"id", message.id});
  for (const auto& [name, value] : message.headers) {
    // The fields above are the message's own: a header of the same name
    // would make the entry ambiguous.
    if (name == "payload" || name == "key" || name == "id") {
      continue;
    }
    args.insert(args.end(), {name, value});
  }
  return args;
}

Status StreamsSink::connect() {
  if (connection_ != nullptr) {
    return ok();
  }
  Result<std::unique_ptr<redis::Connection>> connection = redis::Connection::open(
      options_.server, Deadline::after(std::chrono::seconds(30)), options_.server.db.value_or(0));
  if (!connection) {
    return fail(connection.error().with_context(fmt::format("endpoint {}", options_.server.name)));
  }
  connection_ = std::move(*connection);
  return ok();
}

Status StreamsSink::apply(const Batch& batch) {
  std::vector<Rejected> rejected;
  if (Status s = apply_or_reject(batch, rejected); !s) {
    return s;
  }
  if (!rejected.empty()) {
    return fail(rejected.front().error);
  }
  return ok();
}

Status StreamsSink::apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
  if (Status s = connect(); !s) {
    return s;
  }
  std::vector<std::string> names;
  names.reserve(batch.changes.size());
  for (const Change& change : batch.changes) {
    const Message message = to_message(change);
    names.push_back(stream_.render(message));
    const std::vector<std::string> args = xadd_args(options_, names.back(), message);
    connection_->append(std::vector<std::string_view>(args.begin(), args.end()));
  }
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    Result<redis::Reply> reply = connection_->read();
    if (!reply) {
      connection_.reset();  // the pipeline's state is unknown: start afresh
      return fail(reply.error().with_context(
          fmt::format("endpoint {}: XADD to {}", options_.server.name, names[i])));
    }
    if ((*reply)->type != REDIS_REPLY_ERROR) {
      continue;
    }
    const std::string_view text = redis::reply_text(**reply);
    // Out of memory passes once Redis evicts or a consumer trims: retry.
    const ErrorCode code =
        text.starts_with("OOM") ? ErrorCode::kRetryable : redis::classify_error(text, false);
    Error error(code, fmt::format("endpoint {}: XADD to stream {}: {}", options_.server.name,
                                  names[i], text));
    if (code == ErrorCode::kRetryable) {
      // Read the remaining replies so the connection stays usable.
      for (std::size_t j = i + 1; j < batch.changes.size(); ++j) {
        if (!connection_->read()) {
          connection_.reset();
          break;
        }
      }
      return fail(std::move(error));
    }
    rejected.push_back(Rejected{.index = i, .error = std::move(error)});
  }
  return ok();
}

}  // namespace megasync::connectors::redis_streams
