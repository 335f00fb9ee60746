#include "api/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cctype>
#include <chrono>

#include "api/listen_address.h"

namespace megasync::api {
namespace {

constexpr auto kStartWait = std::chrono::seconds(5);
constexpr auto kPoll = std::chrono::milliseconds(1);
constexpr time_t kIoTimeoutSeconds = 10;
constexpr std::size_t kMaxBodyBytes = std::size_t{64} * 1024;  // no route takes a body worth more

std::string lowercase(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

Request to_request(const httplib::Request& in) {
  Request out;
  out.method = in.method;
  out.path = in.path;
  for (const auto& [key, value] : in.params) {
    out.query.emplace(key, value);  // the first of repeated parameters wins
  }
  for (const auto& [key, value] : in.headers) {
    out.headers.emplace(lowercase(key), value);
  }
  out.body = in.body;
  out.remote = in.remote_addr;
  return out;
}

void apply(const Response& in, httplib::Response& out) {
  out.status = in.status;
  for (const auto& [key, value] : in.headers) {
    out.set_header(key, value);
  }
  out.set_content(in.body, in.content_type.c_str());
}

}  // namespace

Server::Server(Router& router) : router_(router) {}

Server::~Server() {
  stop();
}

Result<int> Server::start(const std::string& listen) {
  if (thread_.joinable()) {
    return make_error(ErrorCode::kPermanent, "api server already listening");
  }
  const Result<ListenAddress> address = parse_listen(listen);
  if (!address) {
    return fail(address.error());
  }
  auto http = std::make_unique<httplib::Server>();
  http->set_read_timeout(kIoTimeoutSeconds, 0);
  http->set_write_timeout(kIoTimeoutSeconds, 0);
  http->set_payload_max_length(kMaxBodyBytes);
  // httplib's default also sets SO_REUSEPORT, which would let a second daemon
  // bind the same port silently and share its traffic. SO_REUSEADDR alone
  // still allows a quick restart over connections in TIME_WAIT.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const httplib::Server::Handler handler = [this](const httplib::Request& request,
                                                  httplib::Response& response) {
    apply(router_.handle(to_request(request)), response);
  };
  // Routing, 404 and 405 belong to the Router; httplib only carries bytes.
  // (httplib sends HEAD to the GET handlers.)
  http->Get(".*", handler);
  http->Post(".*", handler);
  http->Put(".*", handler);
  http->Delete(".*", handler);
  http->Patch(".*", handler);

  int port = address->port;
  if (port == 0) {
    port = http->bind_to_any_port(address->host);
  } else if (!http->bind_to_port(address->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return make_error(ErrorCode::kPermanent,
                      "cannot listen on {}: address in use? set api.listen to a free address",
                      listen);
  }
  http_ = std::move(http);
  finished_ = false;
  thread_ = std::thread([this] {
    if (!http_->listen_after_bind()) {
      spdlog::error("api: the listener stopped with an error");
    }
    finished_ = true;
  });
  // httplib 0.11 has no wait_until_ready(), and its stop() does nothing until
  // the accept loop runs: wait for it so that start() returns a serving server.
  const auto deadline = std::chrono::steady_clock::now() + kStartWait;
  while (!http_->is_running() && !finished_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kPoll);
  }
  spdlog::info("api: listening on {} (port {})", listen, port);
  return port;
}

void Server::stop() {
  if (!thread_.joinable()) {
    return;
  }
  // stop() before the loop runs would be lost (see start()), and twice would
  // trip httplib's assertion on the closed socket: stop exactly once, running.
  while (!finished_) {
    if (http_->is_running()) {
      http_->stop();
      break;
    }
    std::this_thread::sleep_for(kPoll);
  }
  thread_.join();
  http_.reset();
}

}  // namespace megasync::api
