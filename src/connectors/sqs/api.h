// The sqs connector's options and its client of the SQS JSON protocol (AWS's
// current default, the one the AWS SDKs speak): every action is a POST to the
// endpoint's URL with `X-Amz-Target: AmazonSQS.<Action>`, a JSON body
// (`application/x-amz-json-1.0`) and a SigV4 signature (service `sqs`, by
// libcurl through connectors/http). Errors come back as JSON with `__type`
// ("com.amazonaws.sqs#QueueDoesNotExist") and `message`.
//
// Thread-safety: SqsApi is used by one thread at a time (each source and sink
// owns its own); the underlying HttpClient would allow more.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/http/aws.h"
#include "connectors/http/client.h"
#include "core/error.h"

namespace megasync::connectors::sqs {

// SQS's limits.
inline constexpr std::size_t kMaxBatchEntries = 10;    // Send/DeleteMessageBatch, Receive
inline constexpr std::size_t kMaxAttributes = 10;      // message attributes per message
inline constexpr int kMaxWaitSeconds = 20;             // ReceiveMessage long polling
inline constexpr std::size_t kMaxDedupIdLength = 128;  // MessageGroupId, MessageDeduplicationId

struct SqsOptions {
  std::string name;      // the endpoint's, for messages
  std::string endpoint;  // "https://sqs.us-east-1.amazonaws.com", no trailing '/'
  std::string region = "us-east-1";
  http::AwsCredentials credentials;
  bool create = false;  // create missing queues
  // Source.
  std::vector<std::string> queues;  // names or queue URLs
  std::chrono::seconds visibility_timeout{60};
  std::string id_attribute = "message-id";
  std::string key_attribute = "key";
  // Target.
  std::string queue = "{topic}";  // MessageTemplate
  std::string message_group_id;   // FIFO queues: the group of messages without a key
  std::uint64_t max_message_bytes = 262144;
  std::chrono::milliseconds request_timeout{30000};
};

// An SQS error answer: the code after '#' in __type (or the query-compatible
// header's), and the message.
struct SqsError {
  std::string code;
  std::string message;
};
SqsError parse_error(const http::Response& response);

// True for throttling and service-side codes sent with status 400.
bool sqs_retryable(const http::Response& response);

// The queue's name from a name or a queue URL (its last path segment).
std::string queue_name(std::string_view name_or_url);
inline bool is_fifo(std::string_view queue) {
  return queue.ends_with(".fifo");
}

class SqsApi {
 public:
  explicit SqsApi(const SqsOptions& options);

  // The request an action sends (for the signing test and call()).
  http::Request request(std::string_view action, const nlohmann::json& body) const;

  // Calls `action`; the parsed answer, or an error naming the endpoint and
  // the action: kNotFound for a missing queue, kPermanent for refused
  // credentials and other client errors, kRetryable for throttling, 5xx and
  // connection loss (after the HTTP client's own retries). `timeout` 0: the
  // endpoint's request_timeout.
  Result<nlohmann::json> call(std::string_view action, const nlohmann::json& body,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // The URL of a queue given by name or URL (a URL is taken as it is). A
  // missing queue is created when `create` (FIFO when its name ends in
  // .fifo), else kInvalidConfig naming it.
  Result<std::string> queue_url(const std::string& name_or_url, bool create);

 private:
  const SqsOptions& options_;
  http::HttpClient client_;
};

}  // namespace megasync::connectors::sqs
