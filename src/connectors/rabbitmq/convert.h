// The rabbitmq connector's pure part: AMQP 0-9-1 properties and header tables
// to and from megasync Messages, and the id of a message without a
// message-id. No I/O.
//
// Header values: an AMQP table value of any type becomes text (a Message's
// headers are text): strings and byte arrays as they are, integers in
// decimal, booleans "true"/"false", floats in their shortest round-trip form,
// decimals as "<unscaled>e-<scale>", timestamps as decimal seconds, void as
// "", nested tables and arrays as JSON. The target writes every header back
// as a long string.
//
// Thread-safety: pure functions.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/message.h"

namespace megasync::connectors::rabbitmq {

std::string to_string(amqp_bytes_t bytes);
// A view of `text` (not copied: `text` must outlive the result).
amqp_bytes_t to_bytes(std::string_view text);

// One header value as text (see above).
std::string field_text(const amqp_field_value_t& value);
// The entries of an AMQP table, in order, as (name, text).
std::vector<std::pair<std::string, std::string>> table_headers(const amqp_table_t& table);

// Everything a message's read needs from a delivery.
struct Delivery {
  std::string queue;
  std::string exchange;
  std::string routing_key;
  std::string body;
  const amqp_basic_properties_t* properties = nullptr;  // may be null
};
// The Message of a delivery: id = the message-id property when present and
// not empty, else delivery_id(); key = the routing key; timestamp in
// milliseconds (AMQP's is in seconds).
Message to_message(const Delivery& delivery);
// The stable id of a message without a message-id: "xxh3-" and 32 hex digits,
// a hash of the queue, exchange, routing key, content type, timestamp,
// headers and body, so that a redelivery gets the same id. Two identical
// messages (same everything) get the same id.
std::string delivery_id(const Delivery& delivery, const Message& message);

// Properties for publishing `message`: message-id, content-type, timestamp
// (seconds), headers (long strings) and delivery mode 2 when `persistent`.
// The result points into `message` and `out`, which must outlive its use.
struct PublishProperties {
  amqp_basic_properties_t properties{};
  std::vector<amqp_table_entry_t> entries;
};
void fill_properties(const Message& message, bool persistent, PublishProperties& out);

}  // namespace megasync::connectors::rabbitmq
