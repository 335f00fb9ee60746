#include "connectors/redis_streams/endpoint.h"

#include <fmt/format.h>

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

}  // namespace megasync::connectors::redis_streams
