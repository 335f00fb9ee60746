#include "connectors/mqtt/source.h"

#include <fmt/format.h>
#include <mqtt_protocol.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace megasync::connectors::mqtt {

WireMessage wire_of(const mosquitto_message* msg, const mosquitto_property* properties) {
  WireMessage wire;
  wire.topic = msg->topic != nullptr ? msg->topic : "";
  if (msg->payload != nullptr && msg->payloadlen > 0) {
    wire.payload.assign(static_cast<const char*>(msg->payload),
                        static_cast<std::size_t>(msg->payloadlen));
  }
  for (const mosquitto_property* p = properties; p != nullptr; p = mosquitto_property_next(p)) {
    const int id = mosquitto_property_identifier(p);
    if (id == MQTT_PROP_USER_PROPERTY) {
      char* name = nullptr;
      char* value = nullptr;
      if (mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, false) !=
          nullptr) {
        wire.user_properties.emplace_back(name != nullptr ? name : "",
                                          value != nullptr ? value : "");
      }
      std::free(name);
      std::free(value);
    } else if (id == MQTT_PROP_CONTENT_TYPE) {
      char* value = nullptr;
      if (mosquitto_property_read_string(p, MQTT_PROP_CONTENT_TYPE, &value, false) != nullptr &&
          value != nullptr) {
        wire.content_type = value;
      }
      std::free(value);
    }
  }
  return wire;
}

Result<std::vector<CollectionSchema>> MqttSource::describe() {
  if (options_.topics.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: an mqtt source needs `topics` (topic filters to subscribe to)",
                      options_.name);
  }
  std::vector<CollectionSchema> schemas;
  for (const std::string& topic : options_.topics) {
    schemas.push_back(message_schema(topic));
  }
  return schemas;
}

Status MqttSource::connect(Deadline deadline) {
  Connection::Callbacks callbacks;
  callbacks.on_message = [this](const mosquitto_message* msg, const mosquitto_property* props) {
    inbox_.push_back(to_message(wire_of(msg, props), options_.properties));
  };
  if (connection_ == nullptr) {
    Result<std::unique_ptr<Connection>> connection =
        Connection::open(options_, client_id_, true, std::move(callbacks), deadline);
    if (!connection) {
      return fail(connection.error());
    }
    connection_ = std::move(*connection);
  } else if (Status s = connection_->reconnect(deadline); !s) {
    return s;
  }
  // Also when the broker kept the session: a subscription is idempotent, and
  // a broker that lost its state gets the subscriptions back.
  if (Status s = connection_->subscribe(options_.topics, deadline); !s) {
    return s;
  }
  lost_ = false;
  return ok();
}

Status MqttSource::open(const std::optional<Position>&) {
  if (Status s = connect(Deadline::after(std::chrono::seconds(30))); !s) {
    return s;
  }
  if (!connection_->session_present()) {
    spdlog::info(
        "endpoint {}: new MQTT session {} on {} (messages published before it are not "
        "read)",
        options_.name, client_id_, display(options_));
  }
  session_ = new_session();
  sequence_ = 0;
  released_ = 0;
  return ok();
}

Result<std::optional<Batch>> MqttSource::next(Deadline until, std::size_t max_changes) {
  const std::size_t wanted = std::max<std::size_t>(max_changes, 1);
  // Read while the batch is not full and not too much is unconfirmed.
  auto room = [&] {
    const auto unreleased = static_cast<std::int64_t>(sequence_ - released_ + inbox_.size());
    return inbox_.size() < wanted && unreleased < options_.max_unreleased;
  };
  bool first = true;
  while (room() && (first || !until.expired())) {
    const auto slice = first ? std::chrono::milliseconds(0)
                             : std::min(until.remaining(), std::chrono::milliseconds(100));
    first = false;
    if (lost_) {
      if (Status s = connect(Deadline::after(std::chrono::seconds(10))); !s) {
        spdlog::warn("{}; retrying", s.error().message());
        std::this_thread::sleep_for(std::min(until.remaining(), std::chrono::milliseconds(500)));
        continue;
      }
      spdlog::info("endpoint {}: reconnected to MQTT broker {}", options_.name, display(options_));
      continue;
    }
    const std::size_t before = inbox_.size();
    if (Status s = connection_->loop(slice); !s) {
      spdlog::warn("{}; reconnecting (the session keeps what was not read)", s.error().message());
      lost_ = true;
      continue;
    }
    if (inbox_.size() == before && !inbox_.empty()) {
      break;  // nothing more for now: hand over what came
    }
  }
  if (inbox_.empty()) {
    if (!room()) {
      // max_unreleased messages wait for the targets: give them time.
      std::this_thread::sleep_for(std::min(until.remaining(), std::chrono::milliseconds(50)));
    }
    return std::optional<Batch>();
  }
  Batch batch;
  while (!inbox_.empty() && batch.changes.size() < wanted) {
    Message message = std::move(inbox_.front());
    inbox_.pop_front();
    batch.bytes += message.payload.size() + message.topic.size() + message.id.size() + 32;
    ++sequence_;
    Position position = session_position(session_, sequence_);
    batch.changes.push_back(to_change(std::move(message), position));
    batch.end = std::move(position);
  }
  return std::optional<Batch>(std::move(batch));
}

Status MqttSource::release(const Position& durable_everywhere) {
  Result<SessionPosition> position = parse_session_position(durable_everywhere);
  if (!position) {
    return make_error(ErrorCode::kPermanent, "endpoint {}: {:?} is not an mqtt source position",
                      options_.name, durable_everywhere);
  }
  if (position->session == session_) {
    released_ = std::max(released_, position->sequence);
  }
  return ok();
}

int MqttSource::compare(const Position& a, const Position& b) const {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

Result<std::optional<std::int64_t>> MqttSource::backlog(const std::optional<Position>&) {
  return std::optional<std::int64_t>(static_cast<std::int64_t>(inbox_.size()));
}

}  // namespace megasync::connectors::mqtt
