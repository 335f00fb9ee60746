// Building router responses: JSON documents (always redacted), JSON errors,
// plain text, and the HTTP status for an Error.
//
// Thread-safety: pure functions (redact() is thread-safe).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/router.h"
#include "core/error.h"

namespace megasync::api {

// A JSON response; the document is redacted on the way out.
Response json_response(int status, const nlohmann::json& doc);
// {"error": "<message>"}, redacted.
Response error_response(int status, std::string_view message);
Response text_response(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");

// The status for a failed read: 404 not found, 503 retryable or cancelled, 500 otherwise.
int read_error_status(const Error& error);
// The status for a failed trigger: as for reads, and 409 for kPermanent
// (the job exists but cannot run now).
int trigger_error_status(const Error& error);

}  // namespace megasync::api
