#include "api/responses.h"

#include "core/redact.h"

namespace megasync::api {

Response json_response(int status, const nlohmann::json& doc) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  // Invalid UTF-8 (from a file name, say) is replaced instead of throwing.
  response.body =
      redact_json(doc).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return response;
}

Response error_response(int status, std::string_view message) {
  return json_response(status, nlohmann::json{{"error", std::string(message)}});
}

Response text_response(int status, std::string body, std::string content_type) {
  Response response;
  response.status = status;
  response.content_type = std::move(content_type);
  response.body = std::move(body);
  return response;
}

int read_error_status(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kRetryable:
    case ErrorCode::kCancelled:
      return 503;
    default:
      return 500;
  }
}

int trigger_error_status(const Error& error) {
  return error.code() == ErrorCode::kPermanent ? 409 : read_error_status(error);
}

}  // namespace megasync::api
