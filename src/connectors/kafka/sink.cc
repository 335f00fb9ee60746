#include "connectors/kafka/sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace megasync::connectors::kafka {
namespace {

constexpr const char* kIdHeader = "message-id";
constexpr const char* kContentTypeHeader = "content-type";

}  // namespace

Status KafkaSink::connect() {
  Result<Conf> conf = make_conf(
      options_, {{"enable.idempotence", "true"},
                 {"acks", "all"},
                 {"linger.ms", "5"},
                 {"delivery.timeout.ms", std::to_string(options_.delivery_timeout.count())}});
  if (!conf) {
    return fail(conf.error());
  }
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaSink::on_delivery);
  rd_kafka_conf_set_opaque(conf->get(), this);
  Result<Handle> producer = make_handle(options_, RD_KAFKA_PRODUCER, std::move(*conf));
  if (!producer) {
    return fail(producer.error());
  }
  producer_ = std::move(*producer);
  return ok();
}

void KafkaSink::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* sink = static_cast<KafkaSink*>(opaque);
  // _msg_opaque is the change index + 1 (0 would be no index).
  const auto index = reinterpret_cast<std::uintptr_t>(m->_private);
  if (index != 0) {
    sink->reports_[index - 1] = m->err;
  }
}

Status KafkaSink::prepare(const std::vector<CollectionSchema>&) {
  return producer_ ? ok() : connect();
}

Status KafkaSink::apply(const Batch& batch) {
  std::vector<Rejected> rejected;
  if (Status s = apply_or_reject(batch, rejected); !s) {
    return s;
  }
  if (!rejected.empty()) {
    return fail(rejected.front().error);
  }
  return ok();
}

Status KafkaSink::apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
  if (!producer_) {
    if (Status s = connect(); !s) {
      return s;
    }
  }
  reports_.clear();
  const std::string context = fmt::format("endpoint {}", options_.name);
  std::map<std::size_t, std::string> topics;  // of the produced changes
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& change = batch.changes[i];
    if (change.op != Op::kUpsert) {
      continue;  // a delete has no message to send
    }
    const Message message = to_message(change);
    std::string topic = topic_.render(message);
    if (topic.empty()) {
      rejected.push_back(Rejected{
          .index = i,
          .error =
              Error(ErrorCode::kPermanent,
                    fmt::format("{}: topic template {:?} gives an empty topic for message {:?}",
                                context, topic_.text(), message.id))});
      continue;
    }
    rd_kafka_headers_t* headers = rd_kafka_headers_new(message.headers.size() + 2);
    bool has_id = false;
    bool has_type = false;
    for (const auto& [name, value] : message.headers) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
      has_id = has_id || name == kIdHeader;
      has_type = has_type || name == kContentTypeHeader;
    }
    if (!has_id) {
      rd_kafka_header_add(headers, kIdHeader, -1, message.id.data(),
                          static_cast<ssize_t>(message.id.size()));
    }
    if (!has_type && message.content_type) {
      rd_kafka_header_add(headers, kContentTypeHeader, -1, message.content_type->data(),
                          static_cast<ssize_t>(message.content_type->size()));
    }
    // (The librdkafka macros cast their arguments: no expressions in them.)
    const void* key_data = message.key ? message.key->data() : nullptr;
    const std::size_t key_size = message.key ? message.key->size() : 0;
    void* value = const_cast<char*>(message.payload.data());
    const std::size_t value_size = message.payload.size();
    const std::int64_t timestamp = message.timestamp_ms.value_or(0);
    void* opaque = reinterpret_cast<void*>(static_cast<std::uintptr_t>(i + 1));
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (;;) {
      err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_data, key_size),
          RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        break;
      }
      rd_kafka_poll(producer_.get(), 100);  // room in the queue as reports come
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      topics[i] = std::move(topic);
      continue;  // the headers are the message's now
    }
    rd_kafka_headers_destroy(headers);
    if (permanent_delivery_error(err)) {
      rejected.push_back(
          Rejected{.index = i,
                   .error = Error(ErrorCode::kPermanent,
                                  fmt::format("{}: Kafka refused message {:?} to topic {:?}: {}",
                                              context, message.id, topic, rd_kafka_err2str(err)))});
      continue;
    }
    return make_error(ErrorCode::kRetryable, "{}: produce to topic {:?}: {}", context, topic,
                      rd_kafka_err2str(err));
  }
  const auto timeout = options_.delivery_timeout + std::chrono::seconds(5);
  if (rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not every delivery was reported: start over with a new producer (the
    // old one's queue is purged so that it does not deliver behind our back
    // out of order; what it did deliver is a duplicate the id marks).
    (void)rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_.reset();
    return make_error(ErrorCode::kRetryable, "{}: {} messages not confirmed within {} ms: {}",
                      context, topics.size(), timeout.count(), rd_kafka_err2str(err));
  }
  char fatal[512];
  if (rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    producer_.reset();
    return make_error(ErrorCode::kRetryable, "{}: the idempotent producer failed: {}", context,
                      fatal);
  }
  for (const auto& [index, topic] : topics) {
    auto report = reports_.find(index);
    if (report == reports_.end()) {
      return make_error(ErrorCode::kRetryable, "{}: no delivery report for a message to {:?}",
                        context, topic);
    }
    if (report->second == RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    if (permanent_delivery_error(report->second)) {
      rejected.push_back(
          Rejected{.index = index,
                   .error = Error(ErrorCode::kPermanent,
                                  fmt::format("{}: Kafka refused the message to topic {:?}: {}",
                                              context, topic, rd_kafka_err2str(report->second)))});
      continue;
    }
    return make_error(ErrorCode::kRetryable, "{}: delivery to topic {:?} failed: {}", context,
                      topic, rd_kafka_err2str(report->second));
  }
  return ok();
}

}  // namespace megasync::connectors::kafka
