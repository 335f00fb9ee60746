// Shared set-up of the router tests: three tokens, one per role, and request builders.
#pragma once

#include <optional>
#include <string>

#include "api/router.h"
#include "api/tests/fake_backend.h"
#include "api/tests/fake_state_store.h"

namespace megasync::api::testing {

inline const std::string kViewerToken = "viewer-token-0123456789";
inline const std::string kOperatorToken = "operator-token-0123456789";
inline const std::string kAdminToken = "admin-token-0123456789";

inline config::ApiConfig api_with_tokens() {
  config::ApiConfig api;
  api.listen = "127.0.0.1:7171";
  api.tokens = {{"ci-viewer", sha256_hex(kViewerToken), config::Role::kViewer},
                {"deployer", sha256_hex(kOperatorToken), config::Role::kOperator},
                {"root", sha256_hex(kAdminToken), config::Role::kAdmin}};
  return api;
}

inline Request make_request(std::string method, std::string path,
                            std::optional<std::string> authorization = std::nullopt,
                            std::map<std::string, std::string> query = {}) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.query = std::move(query);
  if (authorization) {
    request.headers["authorization"] = *authorization;
  }
  request.remote = "10.0.0.5";
  return request;
}

inline std::string bearer(const std::string& token) {
  return "Bearer " + token;
}

// A router over fakes, rebuilt per test.
struct RouterHarness {
  explicit RouterHarness(const config::ApiConfig& api = api_with_tokens())
      : router(backend, metrics, store, api) {}
  FakeBackend backend;
  monitor::MetricsRegistry metrics;
  FakeStateStore store;
  Router router;
};

}  // namespace megasync::api::testing
