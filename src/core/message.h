// Messages, as the message connectors (rabbitmq, nats, mqtt, kafka,
// redis_streams, sqs) exchange them through the record sync engine.
//
// A message travels as a Change (the engine's unit): an upsert into the
// collection named by its topic, keyed by its id. Every message connector
// converts with to_change() / to_message(), so that the fields mean the same
// whichever two systems a job joins:
//
//   collection   the topic, queue, subject or stream it was read from
//   key          {id}: unique at its source (a message id, an offset, a
//                stream entry id), so that a target can drop a redelivery
//   fields       "payload" (bytes), "key" (text or null: routing or
//                partition key), "timestamp" (integer, milliseconds since the
//                epoch, or null), "content_type" (text or null)
//   meta         "header:<name>" for each header, in the source's spelling
//
// Positions of message sources. A broker that redelivers what was not
// acknowledged (RabbitMQ, MQTT, JetStream, SQS) has no position to resume
// from: after a restart, the unacknowledged messages simply come again. Such
// a source numbers its deliveries with a session_position(): the session
// grows with every open(), so that every position of a new session orders
// after any checkpoint an earlier session left (the engine skips batches a
// target's checkpoint is already past: a new session starting again at 1
// must not look older).
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync {

struct Message {
  std::string topic;
  std::string id;
  std::optional<std::string> key;
  std::string payload;  // raw bytes
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::int64_t> timestamp_ms;
  std::optional<std::string> content_type;

  // The value of the first header named `name` (exact match), if any.
  const std::string* header(std::string_view name) const;
};

inline constexpr std::string_view kHeaderMetaPrefix = "header:";

Change to_change(Message message, Position position);
Message to_message(const Change& change);
// The schema of a message collection: columns id, key, payload, timestamp,
// content_type; primary key id.
CollectionSchema message_schema(std::string topic);

// Positions for sources without a resumable one (see above): a session (fixed
// for one open(), larger than any earlier session's: new_session() is the
// wall clock in nanoseconds, made strictly increasing within the process)
// and a sequence number within it. Encoded so that byte order is their order.
std::uint64_t new_session();
Position session_position(std::uint64_t session, std::uint64_t sequence);
struct SessionPosition {
  std::uint64_t session = 0;
  std::uint64_t sequence = 0;
};
Result<SessionPosition> parse_session_position(const Position& position);

// A target name built from a message: text with placeholders
//   {topic}        the source topic
//   {topic.N}      its Nth segment (from 0), split at '.' and '/'
//   {key}          the message key (empty when none)
//   {id}           the message id
//   {header.NAME}  the value of header NAME (empty when absent)
// and "{{" / "}}" for literal braces. For example, with messages read from
// "orders.eu" and "orders.us", "orders-{topic.1}" names "orders-eu" and
// "orders-us".
class MessageTemplate {
 public:
  // kInvalidConfig naming the bad placeholder and the valid ones.
  static Result<MessageTemplate> parse(std::string_view text);
  std::string render(const Message& message) const;
  const std::string& text() const { return text_; }
  // True when the template has no placeholder (every message gets the same name).
  bool fixed() const;

 private:
  struct Part {
    enum class Kind { kLiteral, kTopic, kTopicSegment, kKey, kId, kHeader } kind;
    std::string text;  // the literal, or the header name
    std::size_t segment = 0;
  };
  std::string text_;
  std::vector<Part> parts_;
};

}  // namespace megasync
