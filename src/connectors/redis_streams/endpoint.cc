#include "connectors/redis_streams/endpoint.h"

#include <fmt/format.h>

#include <string_view>

#include "connectors/redis_streams/sink.h"
#include "connectors/redis_streams/source.h"

namespace megasync::connectors::redis_streams {

Status StreamsEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<redis::Connection>> connection =
      redis::Connection::open(options_.server, deadline, options_.server.db.value_or(0));
  if (!connection) {
    return fail(connection.error());
  }
  if (Result<redis::Reply> pong = (*connection)->command({"PING"}); !pong) {
    return fail(pong.error());
  }
  return ok();
}

std::string StreamsEndpoint::group_for(const std::string& job) const {
  return options_.group.empty() ? fmt::format("megasync-{}", job) : options_.group;
}

Result<std::unique_ptr<RecordSource>> StreamsEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  StreamsOptions options = options_;
  if (options.streams.empty()) {
    options.streams = request.collections;
  }
  if (options.streams.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: job {}: no stream to read; set `streams` on the endpoint "
                      "(names or globs)",
                      options_.server.name, request.job);
  }
  return std::unique_ptr<RecordSource>(
      std::make_unique<StreamsSource>(std::move(options), group_for(request.job)));
}

Result<std::unique_ptr<RecordSink>> StreamsEndpoint::open_record_sink(const engine::SinkRequest&) {
  return std::unique_ptr<RecordSink>(std::make_unique<StreamsSink>(options_, stream_));
}

Result<std::unique_ptr<redis::Connection>> StreamsEndpoint::connect() {
  Result<std::unique_ptr<redis::Connection>> connection = redis::Connection::open(
      options_.server, Deadline::after(std::chrono::seconds(10)), options_.server.db.value_or(0));
  if (!connection) {
    return fail(connection.error().with_context(fmt::format("endpoint {}", options_.server.name)));
  }
  return connection;
}

Result<std::vector<StreamsEndpoint::JobGroup>> StreamsEndpoint::job_groups(
    redis::Connection& connection, const std::string& job) {
  const std::vector<std::string> names =
      options_.streams.empty() ? std::vector<std::string>{"*"} : options_.streams;
  Result<std::vector<FoundStream>> streams = find_streams(connection, names, options_.server.name);
  if (!streams) {
    return fail(streams.error());
  }
  const std::string group = group_for(job);
  std::vector<JobGroup> groups;
  for (const FoundStream& stream : *streams) {
    Result<redis::Reply> reply = connection.command({"XINFO", "GROUPS", stream.name});
    if (!reply) {
      if (reply.error().message().find("no such key") != std::string::npos) {
        continue;  // a named stream that does not exist (any more)
      }
      return fail(reply.error().with_context(fmt::format(
          "endpoint {}: the consumer groups of stream {}", options_.server.name, stream.name)));
    }
    const redisReply* r = reply->get();
    for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
      const redisReply* info = r->element[i];  // name, value, name, value, ...
      bool ours = false;
      long long pending = 0;
      for (std::size_t f = 0; info->type == REDIS_REPLY_ARRAY && f + 1 < info->elements; f += 2) {
        const std::string_view field = redis::reply_text(*info->element[f]);
        const redisReply* value = info->element[f + 1];
        if (field == "name") {
          ours = redis::reply_text(*value) == group;
        } else if (field == "pending" && value->type == REDIS_REPLY_INTEGER) {
          pending = value->integer;
        }
      }
      if (ours) {
        groups.push_back({stream.name, pending});
      }
    }
  }
  return groups;
}

Result<std::vector<std::string>> StreamsEndpoint::retained_for(const std::string& job) {
  if (!options_.group.empty()) {
    return std::vector<std::string>{};  // the user's: it may serve jobs still configured
  }
  Result<std::unique_ptr<redis::Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  Result<std::vector<JobGroup>> groups = job_groups(**connection, job);
  if (!groups) {
    return fail(groups.error());
  }
  std::vector<std::string> lines;
  for (const JobGroup& g : *groups) {
    lines.push_back(
        fmt::format("consumer group {} of stream {} ({} entries delivered and not acked)",
                    group_for(job), g.stream, g.pending));
  }
  return lines;
}

Status StreamsEndpoint::release_job(const std::string& job) {
  if (!options_.group.empty()) {
    return ok();
  }
  Result<std::unique_ptr<redis::Connection>> connection = connect();
  if (!connection) {
    return fail(connection.error());
  }
  Result<std::vector<JobGroup>> groups = job_groups(**connection, job);
  if (!groups) {
    return fail(groups.error());
  }
  const std::string group = group_for(job);
  for (const JobGroup& g : *groups) {
    Result<redis::Reply> reply = (*connection)->command({"XGROUP", "DESTROY", g.stream, group});
    if (!reply && reply.error().message().find("requires the key to exist") == std::string::npos) {
      return fail(reply.error().with_context(
          fmt::format("endpoint {}: destroying consumer group {} of stream {}",
                      options_.server.name, group, g.stream)));
    }
  }
  return ok();
}

}  // namespace megasync::connectors::redis_streams
