#include "connectors/mqtt/source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace megasync::connectors::mqtt {
namespace {

// How long to wait for a message even when `until` is now (a run that stops
// once caught up): the broker pushes what it queued for the session, so an
// empty inbox says nothing until it had a moment to send it.
constexpr std::chrono::milliseconds kQuietWait{300};

}  // namespace

WireMessage wire_of(const Publish& publish) {
  WireMessage wire;
  wire.topic = publish.topic;
  wire.payload = publish.payload;
  wire.user_properties = publish.properties.user_properties;
  wire.content_type = publish.properties.content_type;
  return wire;
}

MqttSource::~MqttSource() {
  if (receiver_ != nullptr) {
    // What is not acknowledged comes again at the next connection.
    receiver_->disconnect(std::nullopt);
  }
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
  // A new connection: the packet ids of the last one are dead, and so are the
  // acknowledgements held for it (the broker sends those messages again).
  receiver_.reset();
  held_.clear();
  ++connection_;
  session_ = new_session();
  sequence_ = 0;
  released_ = 0;
  const auto receive_maximum =
      static_cast<std::uint16_t>(std::clamp<std::int64_t>(options_.max_unreleased, 1, 65535));
  const std::uint64_t connection = connection_;
  Result<std::unique_ptr<Receiver>> receiver = Receiver::connect(
      options_, client_id_, receive_maximum,
      [this, connection](Publish&& publish) {
        Received received;
        received.message = to_message(wire_of(publish), options_.properties);
        received.connection = connection;
        received.packet_id = publish.qos > 0 ? publish.packet_id : 0;
        inbox_.push_back(std::move(received));
      },
      deadline);
  if (!receiver) {
    return fail(receiver.error());
  }
  // Also when the broker kept the session: a subscription is idempotent, and
  // a broker that lost its state gets the subscriptions back.
  if (Status s = (*receiver)->subscribe(options_.topics, deadline); !s) {
    return s;
  }
  receiver_ = std::move(*receiver);
  backoff_ = std::chrono::milliseconds(0);
  return ok();
}

void MqttSource::drop_connection(const Error& why) {
  spdlog::warn("{}; reconnecting (the broker sends again what was not acknowledged)",
               why.message());
  receiver_.reset();
  held_.clear();
  retry_at_ = SteadyClock::now();
}

Status MqttSource::open(const std::optional<Position>&) {
  if (Status s = connect(Deadline::after(std::chrono::seconds(30))); !s) {
    return s;
  }
  if (!receiver_->session_present()) {
    spdlog::info(
        "endpoint {}: new MQTT session {} on {} (messages published before it are not "
        "read)",
        options_.name, client_id_, display(options_));
  }
  return ok();
}

Result<std::optional<Batch>> MqttSource::next(Deadline until, std::size_t max_changes) {
  const std::size_t wanted = std::max<std::size_t>(max_changes, 1);
  // Read while the batch is not full. The broker sends at most Receive
  // Maximum (max_unreleased) QoS 1 messages unacknowledged; the inbox bound
  // covers QoS 0 and brokers that ignore it.
  auto room = [&] {
    return inbox_.size() < wanted &&
           static_cast<std::int64_t>(inbox_.size()) < options_.max_unreleased;
  };
  const Deadline wait = until.remaining() < kQuietWait ? Deadline::after(kQuietWait) : until;
  bool first = true;
  while (room() && (first || !wait.expired())) {
    // Short waits while acknowledgements are held: a broker whose in-flight
    // window is full (a 3.1.1 session gets Mosquitto's max_inflight_messages,
    // 20) sends nothing more until release() sends PUBACKs.
    const auto slice =
        first ? std::chrono::milliseconds(0)
              : std::min(wait.remaining(), std::chrono::milliseconds(held_.empty() ? 100 : 20));
    first = false;
    if (receiver_ == nullptr) {
      if (SteadyClock::now() < retry_at_) {
        std::this_thread::sleep_for(std::min(
            wait.remaining(),
            std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - SteadyClock::now())));
        continue;
      }
      if (Status s = connect(Deadline::after(std::chrono::seconds(10))); !s) {
        if (!s.error().retryable()) {
          return fail(s.error());
        }
        backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(250),
                              std::chrono::milliseconds(5000));
        retry_at_ = SteadyClock::now() + backoff_;
        spdlog::warn("{}; retrying in {} ms", s.error().message(), backoff_.count());
        continue;
      }
      spdlog::info("endpoint {}: reconnected to MQTT broker {}", options_.name, display(options_));
      continue;
    }
    const std::size_t before = inbox_.size();
    if (Status s = receiver_->poll(slice); !s) {
      drop_connection(s.error());
      continue;
    }
    if (inbox_.size() == before && !inbox_.empty()) {
      break;  // nothing more for now: hand over what came
    }
    if (inbox_.empty() && !held_.empty() && slice.count() > 0) {
      break;  // let the engine release() what the targets have
    }
  }
  if (inbox_.empty()) {
    if (!held_.empty()) {
      // Not caught up: the broker may wait for these acknowledgements before
      // it sends more. An empty batch ending at the last message keeps the
      // run going and lets release() send them.
      Batch batch;
      batch.end = session_position(session_, sequence_);
      return std::optional<Batch>(std::move(batch));
    }
    return std::optional<Batch>();
  }
  Batch batch;
  while (!inbox_.empty() && batch.changes.size() < wanted) {
    Received received = std::move(inbox_.front());
    inbox_.pop_front();
    Message& message = received.message;
    batch.bytes += message.payload.size() + message.topic.size() + message.id.size() + 32;
    ++sequence_;
    if (received.packet_id != 0 && received.connection == connection_ && receiver_ != nullptr) {
      held_.push_back(Held{sequence_, received.packet_id});
    }
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
  if (position->session != session_ || receiver_ == nullptr) {
    return ok();  // an earlier connection's: its packet ids are dead
  }
  released_ = std::max(released_, position->sequence);
  while (!held_.empty() && held_.front().sequence <= released_) {
    if (Status s = receiver_->puback(held_.front().packet_id); !s) {
      drop_connection(s.error());
      return ok();  // not acknowledged: they come again
    }
    held_.pop_front();
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
