#include "connectors/sqs/endpoint.h"

#include <fnmatch.h>

#include "connectors/sqs/sink.h"
#include "connectors/sqs/source.h"

namespace megasync::connectors::sqs {

Status SqsEndpoint::probe(Deadline deadline) {
  SqsOptions options = options_;
  options.request_timeout = std::max(std::chrono::milliseconds(1),
                                     std::min(options.request_timeout, deadline.remaining()));
  SqsApi api(options);
  Result<nlohmann::json> answer = api.call("ListQueues", {{"MaxResults", 1}});
  if (!answer) {
    return fail(answer.error());
  }
  return ok();
}

Result<std::unique_ptr<RecordSource>> SqsEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  SqsOptions options = options_;
  if (!request.collections.empty()) {
    // A job naming collections (names or globs) reads those queues of the
    // endpoint's.
    std::vector<std::string> queues;
    for (const std::string& queue : options.queues) {
      const std::string name = queue_name(queue);
      for (const std::string& wanted : request.collections) {
        if (name == wanted || fnmatch(wanted.c_str(), name.c_str(), 0) == 0) {
          queues.push_back(queue);
          break;
        }
      }
    }
    options.queues = std::move(queues);
  }
  return std::unique_ptr<RecordSource>(std::make_unique<SqsSource>(std::move(options)));
}

Result<std::unique_ptr<RecordSink>> SqsEndpoint::open_record_sink(const engine::SinkRequest&) {
  return std::unique_ptr<RecordSink>(std::make_unique<SqsSink>(options_, queue_));
}

}  // namespace megasync::connectors::sqs
