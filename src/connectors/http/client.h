// The HTTP client shared by the object store connectors (s3, and the Azure and
// GCS connectors after it): libcurl easy handles kept in a pool so that
// connections are reused, bodies streamed in both directions (a large object is
// never held in memory), a timeout per request, and retries with exponential
// backoff and jitter on connection errors, 5xx and 429 (Retry-After honoured).
//
// It knows nothing of any storage protocol: a connector builds each Request
// (URL, headers, signing), and may add protocol knowledge through
// Request::retry_on (e.g. an S3 error code sent with status 400).
//
// Thread-safety: one HttpClient is shared by all the threads of an endpoint;
// send() may be called concurrently (each call takes its own handle from the
// pool). A Request and its callbacks are used by the calling thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/retry.h"

namespace megasync::connectors::http {

// Response header names lower-cased; a repeated header keeps its last value.
using Headers = std::map<std::string, std::string>;

struct Response {
  long status = 0;
  Headers headers;
  std::string body;  // empty when the request streamed it to Request::on_body

  // The header's value, or "" when absent (`name` lower-case).
  std::string header(const std::string& name) const;
};

struct Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // already encoded as it must go on the wire
  std::vector<std::pair<std::string, std::string>> headers;

  // The request body: `body` in memory, or streamed from `body_reader`
  // (fills the buffer, returns the bytes placed, 0 at the end) with
  // `body_size` bytes announced as Content-Length. A streamed body can be sent
  // again on retry only when `body_rewind` is set (it restarts the stream).
  std::string body;
  std::function<Result<std::size_t>(char* buffer, std::size_t capacity)> body_reader;
  std::uint64_t body_size = 0;
  std::function<Status()> body_rewind;

  // Streams a 2xx response body here instead of Response::body. After the first
  // byte was delivered, a failure is no longer retried (the sink has it).
  std::function<Status(std::string_view chunk)> on_body;

  // Signing by libcurl (CURLOPT_AWS_SIGV4, "aws:amz:<region>:<service>") with
  // "<key id>:<secret>"; empty: not signed.
  std::string aws_sigv4;
  std::string credentials;

  // The whole request, transfer included; 0 = the client's default.
  std::chrono::milliseconds timeout{0};
  // Extra protocol rule: true when this (non-2xx) response is worth retrying.
  std::function<bool(const Response&)> retry_on;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{300'000};  // per attempt, when the request sets none
  // A transfer slower than 1 KiB/s for this long is aborted (and retried).
  std::chrono::seconds low_speed_time{60};
  BackoffPolicy backoff{.max_attempts = 5,
                        .initial = std::chrono::milliseconds(250),
                        .max = std::chrono::milliseconds(20'000)};
  std::size_t max_idle_handles = 16;  // handles (and their connections) kept
};

// True for statuses that a later attempt may get past: 408, 429, 500, 502, 503, 504.
bool retryable_status(long status);

// Retry-After as seconds ("120") or an HTTP date; nullopt when absent or
// unreadable. `now` is for the date form.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

// One raw header line from libcurl ("Name: value\r\n") into lower-case name and
// trimmed value; nullopt for status lines and the blank end line.
std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line);

// The wait before retry `attempt` (2 = first retry): the backoff's jittered
// delay, or Retry-After when the server asked for longer (capped at 2 × max).
std::chrono::milliseconds retry_delay(const BackoffPolicy& backoff, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      std::mt19937_64& rng);

class HttpClient {
 public:
  // `name` prefixes error messages (e.g. "s3 http://127.0.0.1:9000").
  HttpClient(std::string name, ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request`, retrying what is retryable (see the file comment) up to
  // the backoff's attempts. Returns the final response whatever its status
  // (callers map 4xx to errors); an error only when no response came
  // (kRetryable for connection errors and timeouts, or the error of a body
  // callback).
  Result<Response> send(const Request& request);

 private:
  struct Handle;
  Result<Response> attempt(const Request& request, bool& body_started);
  Handle* acquire();
  void release(Handle* handle);

  std::string name_;
  ClientOptions options_;
  std::mutex mutex_;
  std::vector<Handle*> idle_;
  std::mt19937_64 rng_;  // guarded by mutex_
};

}  // namespace megasync::connectors::http
