// Messages to and from SQS (core/message.h), the pure part of the sqs
// connector, unit tested:
//
//   payload       the body. SQS bodies are Unicode text (XML 1.0 characters:
//                 #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF); a
//                 payload that is not (binary, invalid UTF-8) goes as base64
//                 with the attribute content-transfer-encoding=base64, which
//                 the source decodes (and does not show as a header)
//   id            the `message-id` attribute (id_attribute) when present,
//                 else the SQS MessageId (the same on every redelivery)
//   key           the `key` attribute (key_attribute), else the FIFO
//                 MessageGroupId
//   content_type  the `content-type` attribute
//   timestamp     SentTimestamp (the target cannot set it: SQS stamps its own)
//   headers       the other message attributes: String and Number (and custom
//                 String.x / Number.x types) as their text, Binary as its
//                 bytes; a header value that is not SQS text goes as Binary
//
// SQS allows 10 attributes per message: id, key, content-type,
// content-transfer-encoding and the headers together. A message needing more,
// or larger than max_message_bytes (body plus attribute names, types and
// values), is refused for good (dead-lettered). Headers with an empty value
// are not sent (SQS refuses empty attribute values); a header named like one
// of the reserved attributes is left out (the reserved one wins).
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/sqs/api.h"
#include "core/error.h"
#include "core/message.h"

namespace megasync::connectors::sqs {

inline constexpr std::string_view kContentTypeAttribute = "content-type";
inline constexpr std::string_view kEncodingAttribute = "content-transfer-encoding";

// True when SQS takes `text` as it is (valid UTF-8 of allowed characters).
bool is_sqs_text(std::string_view text);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// A received SQS message (an element of ReceiveMessage's Messages) as a
// Message of `topic` (the queue's name).
Message from_sqs(const nlohmann::json& received, const std::string& topic,
                 const SqsOptions& options);

// The SendMessageBatch entry for `message` (without its Id) and its size as
// SQS counts it; kPermanent naming the message when SQS could never take it
// (too many attributes, too large, a FIFO queue and no group id).
struct Entry {
  nlohmann::json json;
  std::size_t bytes = 0;
};
Result<Entry> to_entry(const Message& message, const std::string& queue, const SqsOptions& options);

// A FIFO MessageGroupId / MessageDeduplicationId from any text: the text when
// SQS takes it (1-128 characters of a-z A-Z 0-9 and punctuation), else its
// SHA-256 in hex.
std::string fifo_token(std::string_view text);

}  // namespace megasync::connectors::sqs
