// The HTTP API's routes and authorisation, independent of the HTTP server.
//
//   GET  /livez /readyz                 open
//   GET  /metrics                       open, or viewer when api.protect_metrics
//   GET  /api/v1/status, /jobs, /jobs/{name}, /jobs/{name}/runs, /events   viewer
//   POST /api/v1/jobs/{name}/run        operator; audited
//
// Bearer tokens are compared by their SHA-256 (the config stores only hashes).
// No or unknown token: 401 with WWW-Authenticate; too weak a role: 403. Every
// mutating call — allowed, refused or failed — writes one audit row.
//
// Created by the daemon; handle() may be called from many threads at once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/backend.h"
#include "config/config.h"
#include "monitor/metrics.h"
#include "state/state_store.h"

namespace megasync::api {

struct Request {
  std::string method;  // "GET", "POST"
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lowercase
  std::string body;
  std::string remote;  // client address
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

class Router {
 public:
  Router(Backend& backend, monitor::MetricsRegistry& metrics, state::StateStore& store,
         const config::ApiConfig& api);

  // Replaces the tokens and switches (after a config reload).
  void reconfigure(const config::ApiConfig& api);

  Response handle(const Request& request);

 private:
  struct Caller;
  Backend& backend_;
  monitor::MetricsRegistry& metrics_;
  state::StateStore& store_;
  mutable std::mutex mutex_;
  config::ApiConfig api_;
};

// Lowercase hex SHA-256 of `text`.
std::string sha256_hex(const std::string& text);

}  // namespace megasync::api
