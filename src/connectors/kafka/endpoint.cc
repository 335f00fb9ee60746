#include "connectors/kafka/endpoint.h"

#include <fmt/format.h>

#include "connectors/kafka/sink.h"
#include "connectors/kafka/source.h"

namespace megasync::connectors::kafka {

Status KafkaEndpoint::probe(Deadline deadline) {
  Result<Conf> conf = make_conf(options_, {});
  if (!conf) {
    return fail(conf.error());
  }
  Result<Handle> client = make_handle(options_, RD_KAFKA_PRODUCER, std::move(*conf));
  if (!client) {
    return fail(client.error());
  }
  const rd_kafka_metadata_t* metadata = nullptr;
  const auto left = std::max<std::int64_t>(deadline.remaining().count(), 100);
  rd_kafka_resp_err_t err = rd_kafka_metadata(client->get(), /*all_topics=*/0, nullptr, &metadata,
                                              static_cast<int>(left));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(ErrorCode::kRetryable, "endpoint {}: no metadata from {}: {}", options_.name,
                      options_.bootstrap_servers, rd_kafka_err2str(err));
  }
  rd_kafka_metadata_destroy(metadata);
  return ok();
}

Result<std::unique_ptr<RecordSource>> KafkaEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  const std::string group = options_.group.empty() ? default_group(request.job) : options_.group;
  return std::unique_ptr<RecordSource>(std::make_unique<KafkaSource>(options_, group));
}

Result<std::unique_ptr<RecordSink>> KafkaEndpoint::open_record_sink(const engine::SinkRequest&) {
  return std::unique_ptr<RecordSink>(std::make_unique<KafkaSink>(options_, topic_));
}

}  // namespace megasync::connectors::kafka
