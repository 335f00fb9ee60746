#include "connectors/sqs/convert.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <charconv>
#include <set>

namespace megasync::connectors::sqs {
namespace {

// Decodes one UTF-8 sequence at text[i]; nullopt when invalid.
std::optional<char32_t> next_code_point(std::string_view text, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  char32_t cp = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return std::nullopt;
  }
  if (i + length > text.size()) {
    return std::nullopt;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return std::nullopt;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;  // overlong, out of range, surrogate
  }
  i += length;
  return cp;
}

std::string hex_sha256(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int k = 0; k < n; ++k) {
    out += fmt::format("{:02x}", digest[k]);
  }
  return out;
}

nlohmann::json string_attribute(std::string_view value) {
  return {{"DataType", "String"}, {"StringValue", std::string(value)}};
}

std::string attribute_text(const nlohmann::json& attribute) {
  if (attribute.contains("StringValue") && attribute["StringValue"].is_string()) {
    return attribute["StringValue"].get<std::string>();
  }
  return {};
}

}  // namespace

bool is_sqs_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::optional<char32_t> cp = next_code_point(text, i);
    if (!cp) {
      return false;
    }
    const char32_t c = *cp;
    const bool allowed = c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
                         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
    if (!allowed) {
      return false;
    }
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t k = text.size(); k > 0 && text[k - 1] == '=' && size > 0; --k) {
    --size;
  }
  out.resize(size);
  return out;
}

std::string fifo_token(std::string_view text) {
  bool ok = !text.empty() && text.size() <= kMaxDedupIdLength;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    ok = ok && u > 0x20 && u < 0x7F;  // alphanumeric and punctuation
  }
  return ok ? std::string(text) : hex_sha256(text);
}

Message from_sqs(const nlohmann::json& received, const std::string& topic,
                 const SqsOptions& options) {
  Message m;
  m.topic = topic;
  m.payload = received.value("Body", std::string());
  m.id = received.value("MessageId", std::string());
  const nlohmann::json system = received.value("Attributes", nlohmann::json::object());
  if (system.contains("SentTimestamp") && system["SentTimestamp"].is_string()) {
    const std::string& sent = system["SentTimestamp"].get_ref<const std::string&>();
    std::int64_t ms = 0;
    if (std::from_chars(sent.data(), sent.data() + sent.size(), ms).ec == std::errc()) {
      m.timestamp_ms = ms;
    }
  }
  if (system.contains("MessageGroupId") && system["MessageGroupId"].is_string()) {
    m.key = system["MessageGroupId"].get<std::string>();
  }
  const nlohmann::json attributes = received.value("MessageAttributes", nlohmann::json::object());
  for (const auto& [name, attribute] : attributes.items()) {
    if (!attribute.is_object()) {
      continue;
    }
    const std::string type = attribute.value("DataType", std::string());
    if (name == options.id_attribute) {
      if (std::string id = attribute_text(attribute); !id.empty()) {
        m.id = std::move(id);
      }
    } else if (name == options.key_attribute) {
      m.key = attribute_text(attribute);
    } else if (name == kContentTypeAttribute) {
      m.content_type = attribute_text(attribute);
    } else if (name == kEncodingAttribute && attribute_text(attribute) == "base64") {
      if (std::optional<std::string> decoded = base64_decode(m.payload)) {
        m.payload = std::move(*decoded);
      } else {
        m.headers.emplace_back(name, "base64");  // not ours after all: kept as it came
      }
    } else if (type.starts_with("Binary")) {
      std::optional<std::string> bytes =
          base64_decode(attribute.value("BinaryValue", std::string()));
      m.headers.emplace_back(name, bytes ? std::move(*bytes) : std::string());
    } else {
      m.headers.emplace_back(name, attribute_text(attribute));
    }
  }
  return m;
}

Result<Entry> to_entry(const Message& message, const std::string& queue,
                       const SqsOptions& options) {
  Entry entry;
  nlohmann::json attributes = nlohmann::json::object();
  const std::set<std::string> reserved = {options.id_attribute, options.key_attribute,
                                          std::string(kContentTypeAttribute),
                                          std::string(kEncodingAttribute)};
  std::string body = message.payload;
  if (!is_sqs_text(body)) {
    body = base64_encode(body);
    attributes[std::string(kEncodingAttribute)] = string_attribute("base64");
  }
  if (!message.id.empty()) {
    attributes[options.id_attribute] = string_attribute(message.id);
  }
  if (message.key && !message.key->empty()) {
    attributes[options.key_attribute] = string_attribute(*message.key);
  }
  if (message.content_type && !message.content_type->empty()) {
    attributes[std::string(kContentTypeAttribute)] = string_attribute(*message.content_type);
  }
  for (const auto& [name, value] : message.headers) {
    if (value.empty() || reserved.contains(name) || attributes.contains(name)) {
      continue;
    }
    if (is_sqs_text(value)) {
      attributes[name] = string_attribute(value);
    } else {
      attributes[name] = {{"DataType", "Binary"}, {"BinaryValue", base64_encode(value)}};
    }
  }
  if (attributes.size() > kMaxAttributes) {
    return make_error(ErrorCode::kPermanent,
                      "endpoint {}: message {} of {} needs {} message attributes (its id, key, "
                      "content type and {} headers); SQS allows {}",
                      options.name, message.id, message.topic, attributes.size(),
                      message.headers.size(), kMaxAttributes);
  }
  entry.bytes = body.size();
  for (const auto& [name, attribute] : attributes.items()) {
    entry.bytes += name.size() + attribute["DataType"].get_ref<const std::string&>().size();
    entry.bytes += attribute.contains("StringValue")
                       ? attribute["StringValue"].get_ref<const std::string&>().size()
                       : (attribute["BinaryValue"].get_ref<const std::string&>().size() / 4) * 3;
  }
  if (entry.bytes > options.max_message_bytes) {
    return make_error(ErrorCode::kPermanent,
                      "endpoint {}: message {} of {} is {} bytes for SQS (body and attributes); "
                      "max_message_bytes is {}",
                      options.name, message.id, message.topic, entry.bytes,
                      options.max_message_bytes);
  }
  entry.json = {{"MessageBody", std::move(body)}};
  if (!attributes.empty()) {
    entry.json["MessageAttributes"] = std::move(attributes);
  }
  if (is_fifo(queue)) {
    std::string group =
        message.key && !message.key->empty() ? *message.key : options.message_group_id;
    if (group.empty()) {
      return make_error(ErrorCode::kPermanent,
                        "endpoint {}: message {} of {} has no key for the MessageGroupId of FIFO "
                        "queue {} (set message_group_id on the endpoint for such messages)",
                        options.name, message.id, message.topic, queue);
    }
    entry.json["MessageGroupId"] = fifo_token(group);
    entry.json["MessageDeduplicationId"] = fifo_token(message.id);
  }
  return entry;
}

}  // namespace megasync::connectors::sqs
