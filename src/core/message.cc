#include "core/message.h"

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <chrono>

namespace megasync {
namespace {

constexpr std::string_view kPayload = "payload";
constexpr std::string_view kKey = "key";
constexpr std::string_view kTimestamp = "timestamp";
constexpr std::string_view kContentType = "content_type";

Value optional_text(const std::optional<std::string>& text) {
  return text ? Value(*text) : Value();
}

std::optional<std::string> text_field(const Change& change, std::string_view name) {
  auto found = change.fields.find(std::string(name));
  if (found == change.fields.end() || is_null(found->second)) {
    return std::nullopt;
  }
  if (const auto* bytes = std::get_if<Bytes>(&found->second)) {
    return bytes->data;
  }
  return to_text(found->second);
}

std::vector<std::string_view> segments(std::string_view topic) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= topic.size(); ++i) {
    if (i == topic.size() || topic[i] == '.' || topic[i] == '/') {
      out.push_back(topic.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

const std::string* Message::header(std::string_view name) const {
  for (const auto& [header_name, value] : headers) {
    if (header_name == name) {
      return &value;
    }
  }
  return nullptr;
}

Change to_change(Message message, Position position) {
  Change change;
  change.op = Op::kUpsert;
  change.collection = std::move(message.topic);
  change.key = {Value(std::move(message.id))};
  change.fields.emplace(kPayload, Bytes{std::move(message.payload)});
  change.fields.emplace(kKey, optional_text(message.key));
  change.fields.emplace(kTimestamp, message.timestamp_ms ? Value(*message.timestamp_ms) : Value());
  change.fields.emplace(kContentType, optional_text(message.content_type));
  for (auto& [name, value] : message.headers) {
    change.meta.emplace(std::string(kHeaderMetaPrefix) + name, std::move(value));
  }
  change.position = std::move(position);
  return change;
}

Message to_message(const Change& change) {
  Message message;
  message.topic = change.collection;
  if (!change.key.empty()) {
    message.id = to_text(change.key.front());
  }
  message.payload = text_field(change, kPayload).value_or("");
  message.key = text_field(change, kKey);
  message.content_type = text_field(change, kContentType);
  if (auto found = change.fields.find(std::string(kTimestamp)); found != change.fields.end()) {
    if (const auto* ms = std::get_if<std::int64_t>(&found->second)) {
      message.timestamp_ms = *ms;
    }
  }
  for (const auto& [name, value] : change.meta) {
    if (name.starts_with(kHeaderMetaPrefix)) {
      message.headers.emplace_back(name.substr(kHeaderMetaPrefix.size()), value);
    }
  }
  return message;
}

CollectionSchema message_schema(std::string topic) {
  CollectionSchema schema;
  schema.name = std::move(topic);
  schema.columns = {
      Column{.name = "id", .type = ColumnType::kText, .nullable = false},
      Column{.name = std::string(kKey), .type = ColumnType::kText},
      Column{.name = std::string(kPayload), .type = ColumnType::kBytes},
      Column{.name = std::string(kTimestamp), .type = ColumnType::kInteger},
      Column{.name = std::string(kContentType), .type = ColumnType::kText},
  };
  schema.primary_key = {"id"};
  schema.type_system = "messages";
  return schema;
}

std::uint64_t new_session() {
  static std::atomic<std::uint64_t> last{0};
  const auto now =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::uint64_t previous = last.load();
  std::uint64_t next = 0;
  do {
    next = std::max(now, previous + 1);
  } while (!last.compare_exchange_weak(previous, next));
  return next;
}

Position session_position(std::uint64_t session, std::uint64_t sequence) {
  return fmt::format("{:020}:{:020}", session, sequence);
}

Result<SessionPosition> parse_session_position(const Position& position) {
  SessionPosition parsed;
  const char* begin = position.data();
  const char* end = begin + position.size();
  auto [after_session, e1] = std::from_chars(begin, end, parsed.session);
  if (e1 != std::errc() || after_session == end || *after_session != ':') {
    return make_error(ErrorCode::kPermanent, "not a message position: '{}'", position);
  }
  auto [after_sequence, e2] = std::from_chars(after_session + 1, end, parsed.sequence);
  if (e2 != std::errc() || after_sequence != end) {
    return make_error(ErrorCode::kPermanent, "not a message position: '{}'", position);
  }
  return parsed;
}

Result<MessageTemplate> MessageTemplate::parse(std::string_view text) {
  MessageTemplate parsed;
  parsed.text_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      parsed.parts_.push_back({Part::Kind::kLiteral, std::move(literal), 0});
      literal.clear();
    }
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return make_error(ErrorCode::kInvalidConfig,
                        "template '{}': a lone '}}' (write '}}}}' for a literal brace)", text);
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidConfig, "template '{}': '{{' without its '}}'", text);
    }
    const std::string_view name = text.substr(i + 1, close - i - 1);
    flush();
    if (name == "topic") {
      parsed.parts_.push_back({Part::Kind::kTopic, "", 0});
    } else if (name == "key") {
      parsed.parts_.push_back({Part::Kind::kKey, "", 0});
    } else if (name == "id") {
      parsed.parts_.push_back({Part::Kind::kId, "", 0});
    } else if (name.starts_with("header.") && name.size() > 7) {
      parsed.parts_.push_back({Part::Kind::kHeader, std::string(name.substr(7)), 0});
    } else if (name.starts_with("topic.")) {
      std::size_t segment = 0;
      const std::string_view digits = name.substr(6);
      auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), segment);
      if (error != std::errc() || end != digits.data() + digits.size()) {
        return make_error(ErrorCode::kInvalidConfig,
                          "template '{}': '{{{}}}' needs a segment number, as in {{topic.1}}", text,
                          name);
      }
      parsed.parts_.push_back({Part::Kind::kTopicSegment, "", segment});
    } else {
      return make_error(ErrorCode::kInvalidConfig,
                        "template '{}': unknown placeholder '{{{}}}' (valid: {{topic}}, "
                        "{{topic.N}}, {{key}}, {{id}}, {{header.NAME}})",
                        text, name);
    }
    i = close;
  }
  flush();
  return parsed;
}

bool MessageTemplate::fixed() const {
  for (const Part& part : parts_) {
    if (part.kind != Part::Kind::kLiteral) {
      return false;
    }
  }
  return true;
}

std::string MessageTemplate::render(const Message& message) const {
  std::string out;
  for (const Part& part : parts_) {
    switch (part.kind) {
      case Part::Kind::kLiteral:
        out += part.text;
        break;
      case Part::Kind::kTopic:
        out += message.topic;
        break;
      case Part::Kind::kTopicSegment: {
        const auto parts = segments(message.topic);
        if (part.segment < parts.size()) {
          out += parts[part.segment];
        }
        break;
      }
      case Part::Kind::kKey:
        out += message.key.value_or("");
        break;
      case Part::Kind::kId:
        out += message.id;
        break;
      case Part::Kind::kHeader:
        if (const std::string* value = message.header(part.text)) {
          out += *value;
        }
        break;
    }
  }
  return out;
}

}  // namespace megasync
