#include "connectors/mqtt/sink.h"

#include <fmt/format.h>
#include <mqtt_protocol.h>
#include <spdlog/spdlog.h>

namespace megasync::connectors::mqtt {
namespace {

// PUBACK reasons that mean "try again later" rather than "never".
bool refusal_is_temporary(int reason) {
  return reason == MQTT_RC_QUOTA_EXCEEDED || reason == MQTT_RC_SERVER_BUSY ||
         reason == MQTT_RC_SERVER_UNAVAILABLE;
}

// Properties of a published message (v5). The caller frees them.
mosquitto_property* properties_of(const WireMessage& wire) {
  mosquitto_property* properties = nullptr;
  if (wire.content_type) {
    mosquitto_property_add_string(&properties, MQTT_PROP_CONTENT_TYPE, wire.content_type->c_str());
  }
  for (const auto& [name, value] : wire.user_properties) {
    mosquitto_property_add_string_pair(&properties, MQTT_PROP_USER_PROPERTY, name.c_str(),
                                       value.c_str());
  }
  return properties;
}

}  // namespace

Status MqttSink::prepare(const std::vector<CollectionSchema>&) {
  return ensure_connected();
}

Status MqttSink::apply(const Batch& batch) {
  std::vector<Rejected> rejected;
  if (Status s = apply_or_reject(batch, rejected); !s) {
    return s;
  }
  if (!rejected.empty()) {
    return fail(rejected.front().error);
  }
  return ok();
}

Status MqttSink::ensure_connected() {
  if (connection_ != nullptr) {
    // Process what came since the last batch (PINGRESP, a DISCONNECT): a
    // connection lost while idle is replaced now rather than failing a batch.
    if (connection_->loop(std::chrono::milliseconds(0))) {
      return ok();
    }
    connection_.reset();
  }
  Connection::Callbacks callbacks;
  callbacks.on_publish = [this](int mid, int reason) {
    auto found = pending_.find(mid);
    if (found == pending_.end()) {
      return;  // of an earlier, failed batch
    }
    if (reason >= 0x80) {
      refused_[found->second] = reason;
    }
    pending_.erase(found);
  };
  const std::string client_id =
      options_.client_id.empty() ? std::string() : options_.client_id + "-pub";
  Result<std::unique_ptr<Connection>> connection = Connection::open(
      options_, client_id, false, std::move(callbacks), Deadline::after(std::chrono::seconds(30)));
  if (!connection) {
    return fail(connection.error());
  }
  connection_ = std::move(*connection);
  return ok();
}

Status MqttSink::apply_or_reject(const Batch& batch, std::vector<Rejected>& rejected) {
  pending_.clear();
  refused_.clear();
  if (Status s = ensure_connected(); !s) {
    return s;
  }
  const std::string context = fmt::format("endpoint {}", options_.name);
  auto lost = [&](const Error& error) {
    connection_.reset();  // the next batch connects again
    pending_.clear();
    return fail(error);
  };
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& change = batch.changes[i];
    if (change.op != Op::kUpsert) {
      continue;  // a delete has no message to send
    }
    const Message message = to_message(change);
    std::string topic = topic_.render(message);
    if (std::string why = invalid_topic_name(topic); !why.empty()) {
      rejected.push_back(Rejected{
          .index = i,
          .error = Error(ErrorCode::kPermanent,
                         fmt::format("{}: topic {:?} (from template {:?}) cannot be published "
                                     "to: {}",
                                     context, topic, topic_.text(), why))});
      continue;
    }
    const WireMessage wire = to_wire(message, std::move(topic), options_.properties);
    mosquitto_property* properties = options_.protocol == 5 ? properties_of(wire) : nullptr;
    int mid = 0;
    const int rc = mosquitto_publish_v5(connection_->mosq(), &mid, wire.topic.c_str(),
                                        static_cast<int>(wire.payload.size()), wire.payload.data(),
                                        options_.qos, options_.retain, properties);
    mosquitto_property_free_all(&properties);
    if (rc == MOSQ_ERR_SUCCESS) {
      pending_[mid] = i;
      continue;
    }
    if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET ||
        rc == MOSQ_ERR_MALFORMED_UTF8 || rc == MOSQ_ERR_INVAL) {
      rejected.push_back(Rejected{
          .index = i,
          .error = Error(ErrorCode::kPermanent,
                         fmt::format("{}: message {:?} to topic {:?} cannot be published: {}",
                                     context, message.id, wire.topic, error_text(rc)))});
      continue;
    }
    return lost(Error(ErrorCode::kRetryable,
                      fmt::format("{}: publishing to topic {:?} on MQTT broker {}: {}", context,
                                  wire.topic, display(options_), error_text(rc))));
  }
  // QoS 1: a PUBACK each; QoS 0: done once written (on_publish then too).
  const Deadline deadline = Deadline::after(options_.publish_timeout);
  while (!pending_.empty()) {
    if (deadline.expired()) {
      return lost(Error(ErrorCode::kRetryable,
                        fmt::format("{}: {} of {} messages not acknowledged by MQTT broker {} "
                                    "within publish_timeout ({} ms)",
                                    context, pending_.size(), batch.changes.size(),
                                    display(options_), options_.publish_timeout.count())));
    }
    if (Status s =
            connection_->loop(std::min(deadline.remaining(), std::chrono::milliseconds(100)));
        !s) {
      return lost(s.error());
    }
  }
  for (const auto& [index, reason] : refused_) {
    const Message message = to_message(batch.changes[index]);
    const std::string topic = topic_.render(message);
    if (refusal_is_temporary(reason)) {
      return make_error(ErrorCode::kRetryable,
                        "{}: MQTT broker {} refused message {:?} to topic {:?} for now: {}",
                        context, display(options_), message.id, topic, reason_text(reason));
    }
    rejected.push_back(Rejected{
        .index = index,
        .error =
            Error(ErrorCode::kPermanent,
                  fmt::format("{}: MQTT broker {} refused message {:?} to topic {:?}: {}", context,
                              display(options_), message.id, topic, reason_text(reason)))});
  }
  return ok();
}

}  // namespace megasync::connectors::mqtt
