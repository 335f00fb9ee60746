#include "api/responses.h"

#include "core/redact.h"

namespace megasync::api {

nlohmann::json redact_json(const nlohmann::json& doc) {
  // Redacting value by value, rather than the dumped text, also catches a
  // secret that JSON escaping would have altered (one containing `"` or `\`)
  // and cannot break the document's syntax.
  if (doc.is_string()) {
    return redact(doc.get_ref<const std::string&>());
  }
  if (doc.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : doc) {
      out.push_back(redact_json(item));
    }
    return out;
  }
  if (doc.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : doc.items()) {
      out[redact(key)] = redact_json(value);
    }
    return out;
  }
  return doc;
}

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
