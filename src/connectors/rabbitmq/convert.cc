#include "connectors/rabbitmq/convert.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <nlohmann/json.hpp>

namespace megasync::connectors::rabbitmq {
namespace {

nlohmann::json field_json(const amqp_field_value_t& value);

nlohmann::json table_json(const amqp_table_t& table) {
  nlohmann::json out = nlohmann::json::object();
  for (int i = 0; i < table.num_entries; ++i) {
    out[to_string(table.entries[i].key)] = field_json(table.entries[i].value);
  }
  return out;
}

nlohmann::json field_json(const amqp_field_value_t& value) {
  switch (value.kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
      return value.value.boolean != 0;
    case AMQP_FIELD_KIND_I8:
      return value.value.i8;
    case AMQP_FIELD_KIND_U8:
      return value.value.u8;
    case AMQP_FIELD_KIND_I16:
      return value.value.i16;
    case AMQP_FIELD_KIND_U16:
      return value.value.u16;
    case AMQP_FIELD_KIND_I32:
      return value.value.i32;
    case AMQP_FIELD_KIND_U32:
      return value.value.u32;
    case AMQP_FIELD_KIND_I64:
      return value.value.i64;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      return value.value.u64;
    case AMQP_FIELD_KIND_F32:
      return value.value.f32;
    case AMQP_FIELD_KIND_F64:
      return value.value.f64;
    case AMQP_FIELD_KIND_VOID:
      return nullptr;
    case AMQP_FIELD_KIND_TABLE:
      return table_json(value.value.table);
    case AMQP_FIELD_KIND_ARRAY: {
      nlohmann::json out = nlohmann::json::array();
      for (int i = 0; i < value.value.array.num_entries; ++i) {
        out.push_back(field_json(value.value.array.entries[i]));
      }
      return out;
    }
    default:
      return field_text(value);
  }
}

void hash_part(XXH3_state_t* state, std::string_view part) {
  const std::uint64_t size = part.size();
  XXH3_128bits_update(state, &size, sizeof size);
  XXH3_128bits_update(state, part.data(), part.size());
}

}  // namespace

std::string to_string(amqp_bytes_t bytes) {
  return bytes.len == 0 ? std::string()
                        : std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

amqp_bytes_t to_bytes(std::string_view text) {
  amqp_bytes_t bytes;
  bytes.len = text.size();
  bytes.bytes = const_cast<char*>(text.data());  // rabbitmq-c only reads it
  return bytes;
}

std::string field_text(const amqp_field_value_t& value) {
  switch (value.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      return to_string(value.value.bytes);
    case AMQP_FIELD_KIND_BOOLEAN:
      return value.value.boolean != 0 ? "true" : "false";
    case AMQP_FIELD_KIND_I8:
      return std::to_string(value.value.i8);
    case AMQP_FIELD_KIND_U8:
      return std::to_string(value.value.u8);
    case AMQP_FIELD_KIND_I16:
      return std::to_string(value.value.i16);
    case AMQP_FIELD_KIND_U16:
      return std::to_string(value.value.u16);
    case AMQP_FIELD_KIND_I32:
      return std::to_string(value.value.i32);
    case AMQP_FIELD_KIND_U32:
      return std::to_string(value.value.u32);
    case AMQP_FIELD_KIND_I64:
      return std::to_string(value.value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      return std::to_string(value.value.u64);
    case AMQP_FIELD_KIND_F32:
      return fmt::format("{}", value.value.f32);
    case AMQP_FIELD_KIND_F64:
      return fmt::format("{}", value.value.f64);
    case AMQP_FIELD_KIND_DECIMAL:
      return fmt::format("{}e-{}", value.value.decimal.value, value.value.decimal.decimals);
    case AMQP_FIELD_KIND_VOID:
      return "";
    case AMQP_FIELD_KIND_TABLE:
    case AMQP_FIELD_KIND_ARRAY:
      return field_json(value).dump();
    default:
      return "";
  }
}

std::vector<std::pair<std::string, std::string>> table_headers(const amqp_table_t& table) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(static_cast<std::size_t>(std::max(table.num_entries, 0)));
  for (int i = 0; i < table.num_entries; ++i) {
    out.emplace_back(to_string(table.entries[i].key), field_text(table.entries[i].value));
  }
  return out;
}

Message to_message(const Delivery& delivery) {
  Message message;
  message.topic = delivery.queue;
  message.key = delivery.routing_key;
  message.payload = delivery.body;
  const amqp_basic_properties_t* p = delivery.properties;
  if (p != nullptr) {
    if ((p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0) {
      message.content_type = to_string(p->content_type);
    }
    if ((p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
      message.timestamp_ms = static_cast<std::int64_t>(p->timestamp) * 1000;
    }
    if ((p->_flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
      message.headers = table_headers(p->headers);
    }
    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0 && p->message_id.len > 0) {
      message.id = to_string(p->message_id);
    }
  }
  if (message.id.empty()) {
    message.id = delivery_id(delivery, message);
  }
  return message;
}

std::string delivery_id(const Delivery& delivery, const Message& message) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  hash_part(state, delivery.queue);
  hash_part(state, delivery.exchange);
  hash_part(state, delivery.routing_key);
  hash_part(state, message.content_type.value_or(""));
  hash_part(state, message.timestamp_ms ? std::to_string(*message.timestamp_ms) : "");
  for (const auto& [name, value] : message.headers) {
    hash_part(state, name);
    hash_part(state, value);
  }
  hash_part(state, delivery.body);
  const XXH128_hash_t hash = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("xxh3-{:016x}{:016x}", hash.high64, hash.low64);
}

void fill_properties(const Message& message, bool persistent, PublishProperties& out) {
  amqp_basic_properties_t& p = out.properties;
  p = amqp_basic_properties_t{};
  p._flags = AMQP_BASIC_MESSAGE_ID_FLAG;
  p.message_id = to_bytes(message.id);
  if (persistent) {
    p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  }
  if (message.content_type) {
    p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    p.content_type = to_bytes(*message.content_type);
  }
  if (message.timestamp_ms) {
    p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    p.timestamp = static_cast<std::uint64_t>(*message.timestamp_ms / 1000);
  }
  out.entries.clear();
  if (!message.headers.empty()) {
    out.entries.reserve(message.headers.size());
    for (const auto& [name, value] : message.headers) {
      amqp_table_entry_t entry{};
      entry.key = to_bytes(name);
      entry.value.kind = AMQP_FIELD_KIND_UTF8;
      entry.value.value.bytes = to_bytes(value);
      out.entries.push_back(entry);
    }
    p._flags |= AMQP_BASIC_HEADERS_FLAG;
    p.headers.num_entries = static_cast<int>(out.entries.size());
    p.headers.entries = out.entries.data();
  }
}

}  // namespace megasync::connectors::rabbitmq
