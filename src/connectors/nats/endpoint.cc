#include "connectors/nats/endpoint.h"

#include <fmt/format.h>

#include "connectors/nats/sink.h"
#include "connectors/nats/source.h"

namespace megasync::connectors::nats {

std::string NatsEndpoint::durable_for(const std::string& job) const {
  return options_.durable.empty() ? default_durable(job) : options_.durable;
}

Status NatsEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<Connection>> connection = Connection::open(options_, deadline);
  if (!connection) {
    return fail(connection.error());
  }
  const auto left = std::max<std::int64_t>(deadline.remaining().count(), 100);
  if (natsStatus s = natsConnection_FlushTimeout((*connection)->nc(), left); s != NATS_OK) {
    return make_error(classify(s), "endpoint {}: {}", options_.name,
                      describe_status(s, "no answer to PING"));
  }
  if (options_.stream.empty()) {
    return ok();
  }
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetStreamInfo(&info, (*connection)->js(), options_.stream.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return ok();
  }
  if ((s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)) {
    if (!options_.create_stream_subjects.empty()) {
      return ok();  // created by the first job that opens it
    }
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: JetStream has no stream {:?}; create it, or set "
                      "create_stream: {{subjects: [...]}}",
                      options_.name, options_.stream);
  }
  return make_error(classify(s), "endpoint {}: {}", options_.name,
                    describe_status(s, fmt::format("JetStream stream {}", options_.stream)));
}

Result<std::unique_ptr<RecordSource>> NatsEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  if (options_.stream.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: a nats source reads a JetStream stream: set `stream`",
                      options_.name);
  }
  return std::unique_ptr<RecordSource>(
      std::make_unique<NatsSource>(options_, durable_for(request.job)));
}

Result<std::unique_ptr<RecordSink>> NatsEndpoint::open_record_sink(const engine::SinkRequest&) {
  Result<std::unique_ptr<NatsSink>> sink = NatsSink::open(options_, subject_);
  if (!sink) {
    return fail(sink.error());
  }
  return std::unique_ptr<RecordSink>(std::move(*sink));
}

Result<std::vector<std::string>> NatsEndpoint::retained_for(const std::string& job) {
  // A `durable` named in the configuration may serve jobs still configured:
  // the user manages it. Only the name derived from the job is the job's own.
  if (options_.stream.empty() || !options_.durable.empty()) {
    return std::vector<std::string>{};
  }
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(10)));
  if (!connection) {
    return fail(connection.error());
  }
  const std::string durable = durable_for(job);
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info, (*connection)->js(), options_.stream.c_str(),
                                    durable.c_str(), nullptr, &jerr);
  if (s != NATS_OK) {
    return std::vector<std::string>{};
  }
  std::vector<std::string> lines = {fmt::format(
      "JetStream durable consumer {} of stream {} ({} messages not delivered, {} not acked)",
      durable, options_.stream, info->NumPending, info->NumAckPending)};
  jsConsumerInfo_Destroy(info);
  return lines;
}

Status NatsEndpoint::release_job(const std::string& job) {
  if (options_.stream.empty() || !options_.durable.empty()) {
    return ok();
  }
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, Deadline::after(std::chrono::seconds(10)));
  if (!connection) {
    return fail(connection.error());
  }
  const std::string durable = durable_for(job);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer((*connection)->js(), options_.stream.c_str(), durable.c_str(),
                                   nullptr, &jerr);
  if (s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr ||
      jerr == JSStreamNotFoundErr) {
    return ok();
  }
  return make_error(classify(s), "endpoint {}: {}", options_.name,
                    describe_status(s, fmt::format("deleting durable consumer {}", durable)));
}

}  // namespace megasync::connectors::nats
