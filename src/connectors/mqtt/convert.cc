#include "connectors/mqtt/convert.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <charconv>
#include <cstdint>

namespace megasync::connectors::mqtt {
namespace {

void hash_part(XXH3_state_t* state, std::string_view part) {
  const std::uint64_t size = part.size();
  XXH3_128bits_update(state, &size, sizeof size);
  XXH3_128bits_update(state, part.data(), part.size());
}

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates).
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string common_check(std::string_view text) {
  if (text.empty()) {
    return "it is empty";
  }
  if (text.size() > 65535) {
    return "it is longer than 65535 bytes";
  }
  if (text.find('\0') != std::string_view::npos) {
    return "it contains a NUL character";
  }
  if (!valid_utf8(text)) {
    return "it is not valid UTF-8";
  }
  return "";
}

}  // namespace

std::string content_id(const WireMessage& wire) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  hash_part(state, wire.topic);
  hash_part(state, wire.content_type.value_or(""));
  for (const auto& [name, value] : wire.user_properties) {
    hash_part(state, name);
    hash_part(state, value);
  }
  hash_part(state, wire.payload);
  const XXH128_hash_t hash = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("xxh3-{:016x}{:016x}", hash.high64, hash.low64);
}

Message to_message(const WireMessage& wire, const PropertyNames& names) {
  Message message;
  message.topic = wire.topic;
  message.payload = wire.payload;
  message.content_type = wire.content_type;
  for (const auto& [name, value] : wire.user_properties) {
    if (name == names.id && message.id.empty() && !value.empty()) {
      message.id = value;
    } else if (name == names.key && !message.key) {
      message.key = value;
    } else if (name == names.timestamp && !message.timestamp_ms) {
      std::int64_t ms = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec == std::errc() && end == value.data() + value.size()) {
        message.timestamp_ms = ms;
      } else {
        message.headers.emplace_back(name, value);  // not ours: keep it as it came
      }
    } else {
      message.headers.emplace_back(name, value);
    }
  }
  if (message.id.empty()) {
    message.id = content_id(wire);
  }
  return message;
}

WireMessage to_wire(const Message& message, std::string topic, const PropertyNames& names) {
  WireMessage wire;
  wire.topic = std::move(topic);
  wire.payload = message.payload;
  wire.content_type = message.content_type;
  for (const auto& [name, value] : message.headers) {
    if (name != names.id && name != names.key && name != names.timestamp) {
      wire.user_properties.emplace_back(name, value);
    }
  }
  wire.user_properties.emplace_back(names.id, message.id);
  if (message.key) {
    wire.user_properties.emplace_back(names.key, *message.key);
  }
  if (message.timestamp_ms) {
    wire.user_properties.emplace_back(names.timestamp, std::to_string(*message.timestamp_ms));
  }
  return wire;
}

std::string invalid_topic_name(std::string_view topic) {
  if (std::string why = common_check(topic); !why.empty()) {
    return why;
  }
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return "it contains a wildcard ('+' or '#'), which only subscriptions may use";
  }
  return "";
}

std::string invalid_topic_filter(std::string_view filter) {
  if (std::string why = common_check(filter); !why.empty()) {
    return why;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    const std::string_view level = filter.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) {
      return fmt::format("the level {:?} mixes a wildcard with other characters", level);
    }
    if (level == "#" && slash != std::string_view::npos) {
      return "'#' may only be the last level";
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return "";
}

std::string default_client_id(std::string_view job) {
  std::string id = "megasync-";
  for (const char c : job) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
    id += plain ? c : '_';
  }
  return id;
}

}  // namespace megasync::connectors::mqtt
