#include "connectors/http/client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <thread>

namespace megasync::connectors::http {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// The URL without its query string, for messages (a query may be long).
std::string_view without_query(std::string_view url) {
  return url.substr(0, url.find('?'));
}

bool retryable_curl_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    // The connection broke where libcurl would have sent a streamed body
    // again on a new one, which only the caller can start over.
    case CURLE_SEND_FAIL_REWIND:
      return true;
    default:
      return false;
  }
}

// What one transfer's callbacks share.
struct Transfer {
  CURL* easy = nullptr;
  const Request* request = nullptr;
  Response response;
  std::size_t body_offset = 0;  // into request->body
  std::optional<Error> callback_error;
  bool body_started = false;
};

constexpr std::size_t kMaxErrorBody = 64 * 1024;

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto header = parse_header_line(line)) {
    t->response.headers[header->first] = std::move(header->second);
  }
  return size * count;
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->on_body && status >= 200 && status < 300) {
    t->body_started = true;
    if (Status written = t->request->on_body(std::string_view(data, n)); !written) {
      t->callback_error = written.error();
      return 0;  // aborts the transfer
    }
    return n;
  }
  if (t->response.body.size() < kMaxErrorBody || !t->request->on_body) {
    t->response.body.append(data, n);
  }
  return n;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t capacity = size * count;
  const Request& r = *t->request;
  if (!r.body_reader) {
    const std::size_t n = std::min(capacity, r.body.size() - t->body_offset);
    std::memcpy(buffer, r.body.data() + t->body_offset, n);
    t->body_offset += n;
    return n;
  }
  Result<std::size_t> n = r.body_reader(buffer, capacity);
  if (!n) {
    t->callback_error = n.error();
    return CURL_READFUNC_ABORT;
  }
  return *n;
}

// Lets libcurl send an in-memory body again, as it does on a new connection
// when a reused one turns out closed; a streamed body cannot go back.
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  const Request& r = *t->request;
  if (r.body_reader || origin != SEEK_SET || offset < 0 ||
      static_cast<std::size_t>(offset) > r.body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->body_offset = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

}  // namespace

std::string Response::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) {
    return std::nullopt;
  }
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    if (seconds < 0) {
      return std::nullopt;
    }
    return std::chrono::milliseconds(seconds * 1000);
  }
  // An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* parsed = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (parsed == nullptr || *parsed != '\0') {
    return std::nullopt;
  }
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (at <= now) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line) {
  if (line.starts_with("HTTP/")) {
    return std::nullopt;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::nullopt;
  }
  const std::string_view name = trim(line.substr(0, colon));
  if (name.empty()) {
    return std::nullopt;
  }
  return std::make_pair(lower(name), std::string(trim(line.substr(colon + 1))));
}

std::chrono::milliseconds retry_delay(const BackoffPolicy& backoff, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      std::mt19937_64& rng) {
  const auto delay = backoff.delay(attempt, rng);
  if (retry_after && *retry_after > delay) {
    return std::min(*retry_after, backoff.max * 2);
  }
  return delay;
}

struct HttpClient::Handle {
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(std::string name, ClientOptions options)
    : name_(std::move(name)), options_(std::move(options)), rng_(std::random_device{}()) {
  global_init();
}

HttpClient::~HttpClient() {
  for (Handle* h : idle_) {
    curl_easy_cleanup(h->easy);
    delete h;
  }
}

HttpClient::Handle* HttpClient::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      Handle* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  auto* h = new Handle;
  h->easy = curl_easy_init();
  return h;
}

void HttpClient::release(Handle* handle) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.max_idle_handles) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(handle->easy);
  delete handle;
}

Result<Response> HttpClient::attempt(const Request& request, bool& body_started) {
  Handle* h = acquire();
  if (h->easy == nullptr) {
    delete h;
    return make_error(ErrorCode::kRetryable, "{}: cannot create a libcurl handle", name_);
  }
  // reset() keeps the handle's open connections, so they are reused.
  CURL* easy = h->easy;
  curl_easy_reset(easy);
  h->error[0] = '\0';
  Transfer t;
  t.easy = easy;
  t.request = &request;

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);  // keys may contain "." and ".." segments
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, h->error);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  const auto timeout = request.timeout.count() > 0 ? request.timeout : options_.timeout;
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.low_speed_time.count()));
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);

  const bool has_body = request.body_reader || !request.body.empty();
  const curl_off_t body_size =
      static_cast<curl_off_t>(request.body_reader ? request.body_size : request.body.size());
  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, body_size);
  } else if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, body_size);
  } else if (request.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (has_body || request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, &t);
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, &t);
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  if (request.method == "POST") {
    // Otherwise libcurl adds a form Content-Type the caller did not choose.
    bool typed =
        std::any_of(request.headers.begin(), request.headers.end(),
                    [](const auto& header) { return lower(header.first) == "content-type"; });
    if (!typed) {
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    }
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(easy, CURLOPT_USERPWD, request.credentials.c_str());
  }

  const CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  // Credentials must not stay in an idle handle longer than needed.
  curl_easy_setopt(easy, CURLOPT_USERPWD, nullptr);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  const std::string curl_message = h->error[0] != '\0' ? h->error : curl_easy_strerror(code);
  if (code != CURLE_OK) {
    // A failed connection is not put back: its state is unknown.
    curl_easy_cleanup(easy);
    delete h;
  } else {
    release(h);
  }
  body_started = t.body_started;

  if (t.callback_error) {
    return fail(*t.callback_error);
  }
  if (code != CURLE_OK) {
    return make_error(retryable_curl_code(code) ? ErrorCode::kRetryable : ErrorCode::kPermanent,
                      "{}: {} {}: {}", name_, request.method, without_query(request.url),
                      curl_message);
  }
  t.response.status = status;
  return std::move(t.response);
}

Result<Response> HttpClient::send(const Request& request) {
  const int attempts = std::max(1, options_.backoff.max_attempts);
  for (int n = 1;; ++n) {
    bool body_started = false;
    Result<Response> result = attempt(request, body_started);
    std::optional<std::chrono::milliseconds> retry_after;
    std::string why;
    if (!result) {
      if (!result.error().retryable()) {
        return result;
      }
      why = result.error().message();
    } else {
      const Response& r = *result;
      const bool again = retryable_status(r.status) ||
                         (r.status >= 300 && request.retry_on && request.retry_on(r));
      if (!again) {
        return result;
      }
      retry_after = parse_retry_after(r.header("retry-after"), std::chrono::system_clock::now());
      why = fmt::format("status {}", r.status);
    }
    const bool can_resend = !body_started && (!request.body_reader || request.body_rewind);
    if (n >= attempts || !can_resend) {
      return result;
    }
    if (request.body_reader && request.body_rewind) {
      if (Status rewound = request.body_rewind(); !rewound) {
        return fail(rewound.error());
      }
    }
    std::chrono::milliseconds wait;
    {
      std::lock_guard lock(mutex_);
      wait = retry_delay(options_.backoff, n + 1, retry_after, rng_);
    }
    spdlog::debug("{}: {} {}: {}; retry {} in {} ms", name_, request.method,
                  without_query(request.url), why, n, wait.count());
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace megasync::connectors::http
