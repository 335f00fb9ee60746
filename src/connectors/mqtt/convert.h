// The mqtt connector's pure part: topic name and filter checks, the client id
// derived from a job, and MQTT messages (topic, payload, MQTT v5 properties)
// to and from megasync Messages. No I/O.
//
// Mapping (MQTT v5): user properties are the headers, in order; the content
// type property is the content type; the user properties named by
// `id_property`, `key_property` and `timestamp_property` carry the id, the
// key and the timestamp (milliseconds since the epoch, decimal) and are not
// repeated among the headers. A message without an id property gets
// content_id(): the same message redelivered gets the same id. MQTT 3.1.1
// has no properties: a message read has no headers, key, content type or
// timestamp, and its id is content_id(); a message published loses them.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/message.h"

namespace megasync::connectors::mqtt {

// The user properties that carry a message's id, key and timestamp.
struct PropertyNames {
  std::string id = "message-id";
  std::string key = "key";
  std::string timestamp = "timestamp";
};

// A message as it comes off (or goes onto) the wire.
struct WireMessage {
  std::string topic;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> user_properties;
  std::optional<std::string> content_type;
};

Message to_message(const WireMessage& wire, const PropertyNames& names);
// The stable id of a message without an id property: "xxh3-" and 32 hex
// digits, a hash of the topic, content type, user properties and payload.
std::string content_id(const WireMessage& wire);
// The wire form of `message` published to `topic`: its headers (except those
// named like the id, key or timestamp property), then the id, the key (when
// it has one) and the timestamp (when it has one) as user properties.
WireMessage to_wire(const Message& message, std::string topic, const PropertyNames& names);

// Why `topic` cannot be published to ("" when it can): empty, a wildcard
// ('+', '#'), a NUL character, not UTF-8, or longer than 65535 bytes.
std::string invalid_topic_name(std::string_view topic);
// Why `filter` cannot be subscribed to ("" when it can): '+' and '#' must
// fill a whole level, '#' only as the last one.
std::string invalid_topic_filter(std::string_view filter);
// "megasync-<job>", characters other than letters, digits, '-' and '_'
// replaced by '_'.
std::string default_client_id(std::string_view job);

}  // namespace megasync::connectors::mqtt
