#include "connectors/rabbitmq/endpoint.h"

#include <fnmatch.h>

#include "connectors/rabbitmq/sink.h"
#include "connectors/rabbitmq/source.h"

namespace megasync::connectors::rabbitmq {

Status RabbitEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<Connection>> connection = Connection::open(options_, deadline);
  if (!connection) {
    return fail(connection.error());
  }
  return ok();
}

Result<std::unique_ptr<RecordSource>> RabbitEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  RabbitOptions options = options_;
  if (!request.collections.empty()) {
    // A job naming collections (names or globs) reads those queues of the
    // endpoint's.
    std::vector<std::string> queues;
    for (const std::string& queue : options.queues) {
      for (const std::string& wanted : request.collections) {
        if (queue == wanted || fnmatch(wanted.c_str(), queue.c_str(), 0) == 0) {
          queues.push_back(queue);
          break;
        }
      }
    }
    options.queues = std::move(queues);
  }
  return std::unique_ptr<RecordSource>(std::make_unique<RabbitSource>(std::move(options)));
}

Result<std::unique_ptr<RecordSink>> RabbitEndpoint::open_record_sink(const engine::SinkRequest&) {
  return std::unique_ptr<RecordSink>(std::make_unique<RabbitSink>(options_, routing_key_));
}

}  // namespace megasync::connectors::rabbitmq
