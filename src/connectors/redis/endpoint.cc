#include "connectors/redis/endpoint.h"

#include <fmt/format.h>

#include "connectors/redis/reader.h"
#include "connectors/redis/sink.h"
#include "connectors/redis/source.h"

namespace megasync::connectors::redis {

Status RedisEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, deadline, options_.db.value_or(0));
  if (!connection) {
    return fail(connection.error());
  }
  if (Result<Reply> pong = (*connection)->command({"PING"}); !pong) {
    return fail(pong.error());
  }
  return ok();
}

Result<std::unique_ptr<RecordSource>> RedisEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  return std::unique_ptr<RecordSource>(
      std::make_unique<RedisSource>(options_, request.collections));
}

Result<std::unique_ptr<RecordSink>> RedisEndpoint::open_record_sink(const engine::SinkRequest&) {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(30)), 0);
  if (!connection) {
    return fail(connection.error().with_context(fmt::format("endpoint {}", options_.name)));
  }
  return std::unique_ptr<RecordSink>(std::make_unique<RedisSink>(std::move(*connection)));
}

Result<std::unique_ptr<RecordReader>> RedisEndpoint::open_record_reader() {
  // A reader of an endpoint with `db` set maps every collection to it, as its
  // sink writes; otherwise "db<N>" is database N either way.
  return std::unique_ptr<RecordReader>(std::make_unique<RedisReader>(options_, /*target=*/true));
}

}  // namespace megasync::connectors::redis
