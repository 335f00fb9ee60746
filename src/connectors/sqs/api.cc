#include "connectors/sqs/api.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>

namespace megasync::connectors::sqs {
namespace {

http::ClientOptions client_options(const SqsOptions& options) {
  http::ClientOptions o;
  o.timeout = options.request_timeout;
  return o;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += fmt::format("{:02x}", digest[i]);
  }
  return out;
}

bool is_url(std::string_view text) {
  return text.starts_with("http://") || text.starts_with("https://");
}

}  // namespace

SqsError parse_error(const http::Response& response) {
  SqsError error;
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    const std::string type = body.value("__type", std::string());
    error.code = type.substr(type.find('#') == std::string::npos ? 0 : type.find('#') + 1);
    error.message = body.contains("message") ? body.value("message", std::string())
                                             : body.value("Message", std::string());
  }
  if (error.code.empty()) {
    // x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender
    const std::string query = response.header("x-amzn-query-error");
    error.code =
        query.empty() ? fmt::format("HTTP {}", response.status) : query.substr(0, query.find(';'));
  }
  return error;
}

bool sqs_retryable(const http::Response& response) {
  static constexpr std::array<std::string_view, 6> kCodes = {
      "ThrottlingException", "RequestThrottled", "KmsThrottled",
      "ServiceUnavailable",  "InternalFailure",  "RequestThrottledException"};
  if (response.status != 400) {
    return false;
  }
  const std::string code = parse_error(response).code;
  for (std::string_view c : kCodes) {
    if (code == c) {
      return true;
    }
  }
  return false;
}

std::string queue_name(std::string_view name_or_url) {
  if (!is_url(name_or_url)) {
    return std::string(name_or_url);
  }
  while (name_or_url.ends_with('/')) {
    name_or_url.remove_suffix(1);
  }
  return std::string(name_or_url.substr(name_or_url.rfind('/') + 1));
}

SqsApi::SqsApi(const SqsOptions& options)
    : options_(options), client_("sqs " + options.endpoint, client_options(options)) {}

http::Request SqsApi::request(std::string_view action, const nlohmann::json& body) const {
  http::Request r;
  r.method = "POST";
  r.url = options_.endpoint + "/";
  r.headers.emplace_back("Content-Type", "application/x-amz-json-1.0");
  r.headers.emplace_back("X-Amz-Target", fmt::format("AmazonSQS.{}", action));
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // libcurl 7.88 signs the hash of an empty payload for a body it reads
  // through a callback (as the HTTP client sends bodies), unless this header
  // gives the hash: the payload is signed through it (AWS accepts it on SQS).
  r.headers.emplace_back("x-amz-content-sha256", sha256_hex(r.body));
  http::sign_aws(r, options_.credentials, options_.region, "sqs");
  r.retry_on = sqs_retryable;
  return r;
}

Result<nlohmann::json> SqsApi::call(std::string_view action, const nlohmann::json& body,
                                    std::chrono::milliseconds timeout) {
  http::Request r = request(action, body);
  r.timeout = timeout.count() > 0 ? timeout : options_.request_timeout;
  Result<http::Response> response = client_.send(r);
  if (!response) {
    return fail(
        response.error().with_context(fmt::format("endpoint {}: {}", options_.name, action)));
  }
  if (response->status >= 200 && response->status < 300) {
    nlohmann::json answer = nlohmann::json::parse(response->body, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
      return make_error(ErrorCode::kRetryable, "endpoint {}: {}: the answer is not JSON: {:.200}",
                        options_.name, action, response->body);
    }
    return answer;
  }
  const SqsError error = parse_error(*response);
  const std::string detail =
      error.message.empty() ? error.code : fmt::format("{}: {}", error.code, error.message);
  if (error.code == "QueueDoesNotExist" ||
      error.code == "AWS.SimpleQueueService.NonExistentQueue") {
    return make_error(ErrorCode::kNotFound, "endpoint {}: {}: {}", options_.name, action, detail);
  }
  if (response->status == 401 || response->status == 403 || error.code == "AccessDenied" ||
      error.code == "AccessDeniedException" || error.code == "InvalidClientTokenId" ||
      error.code == "SignatureDoesNotMatch" || error.code == "ExpiredToken" ||
      error.code == "IncompleteSignature" || error.code == "UnrecognizedClientException") {
    return make_error(ErrorCode::kPermanent,
                      "endpoint {}: {}: access denied ({}); check access_key_id, "
                      "secret_access_key and session_token (or AWS_ACCESS_KEY_ID, "
                      "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), region and the queue's policy",
                      options_.name, action, detail);
  }
  const bool retryable = http::retryable_status(response->status) || sqs_retryable(*response);
  return make_error(retryable ? ErrorCode::kRetryable : ErrorCode::kPermanent,
                    "endpoint {}: {}: {}", options_.name, action, detail);
}

Result<std::string> SqsApi::queue_url(const std::string& name_or_url, bool create) {
  if (is_url(name_or_url)) {
    return name_or_url;
  }
  Result<nlohmann::json> found = call("GetQueueUrl", {{"QueueName", name_or_url}});
  if (!found && found.error().code() == ErrorCode::kNotFound && create) {
    nlohmann::json body = {{"QueueName", name_or_url}};
    if (is_fifo(name_or_url)) {
      body["Attributes"] = {{"FifoQueue", "true"}};
    }
    found = call("CreateQueue", body);
  }
  if (!found) {
    if (found.error().code() == ErrorCode::kNotFound) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint {}: queue '{}' does not exist; create it, or set create: true "
                        "on the endpoint",
                        options_.name, name_or_url);
    }
    return fail(found.error());
  }
  if (!found->contains("QueueUrl") || !(*found)["QueueUrl"].is_string()) {
    return make_error(ErrorCode::kPermanent,
                      "endpoint {}: no QueueUrl in the answer for queue '{}'", options_.name,
                      name_or_url);
  }
  return (*found)["QueueUrl"].get<std::string>();
}

}  // namespace megasync::connectors::sqs
