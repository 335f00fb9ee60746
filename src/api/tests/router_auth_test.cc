// Who may call what: every route against every kind of caller.
#include <gtest/gtest.h>

#include <array>
#include <thread>

#include "api/tests/router_test_util.h"

namespace megasync::api::testing {
namespace {

enum CallerKind { kNoToken, kBadToken, kViewer, kOperator, kAdmin, kCallerKinds };

std::optional<std::string> authorization_for(CallerKind kind) {
  switch (kind) {
    case kNoToken:
      return std::nullopt;
    case kBadToken:
      return bearer("not-a-configured-token");
    case kViewer:
      return bearer(kViewerToken);
    case kOperator:
      return bearer(kOperatorToken);
    case kAdmin:
      return bearer(kAdminToken);
    default:
      return std::nullopt;
  }
}

struct RouteCase {
  const char* method;
  const char* path;
  std::array<int, kCallerKinds> expected;  // indexed by CallerKind
};

constexpr std::array<int, kCallerKinds> kOpen = {200, 200, 200, 200, 200};
constexpr std::array<int, kCallerKinds> kViewerRead = {401, 401, 200, 200, 200};
constexpr std::array<int, kCallerKinds> kOperatorWrite = {401, 401, 403, 202, 202};

const RouteCase kRoutes[] = {
    {"GET", "/livez", kOpen},
    {"GET", "/readyz", kOpen},
    {"GET", "/metrics", kOpen},
    {"GET", "/api/v1/status", kViewerRead},
    {"GET", "/api/v1/jobs", kViewerRead},
    {"GET", "/api/v1/jobs/orders", kViewerRead},
    {"GET", "/api/v1/jobs/orders/runs", kViewerRead},
    {"GET", "/api/v1/events", kViewerRead},
    {"HEAD", "/api/v1/status", kViewerRead},
    {"POST", "/api/v1/jobs/orders/run", kOperatorWrite},
};

void expect_matrix(RouterHarness& h, const RouteCase& route) {
  for (int kind = 0; kind < kCallerKinds; ++kind) {
    const Response r = h.router.handle(
        make_request(route.method, route.path, authorization_for(static_cast<CallerKind>(kind))));
    const int want = route.expected[static_cast<std::size_t>(kind)];
    EXPECT_EQ(r.status, want) << route.method << " " << route.path << " caller " << kind << "\n"
                              << r.body;
    if (want == 401) {
      EXPECT_EQ(r.headers.at("WWW-Authenticate"), "Bearer realm=\"megasync\"");
    }
    if (want >= 400) {
      EXPECT_EQ(r.content_type, "application/json");
      EXPECT_TRUE(nlohmann::json::parse(r.body).at("error").is_string()) << r.body;
    }
  }
}

TEST(RouterAuth, EveryRouteForEveryCaller) {
  RouterHarness h;
  for (const RouteCase& route : kRoutes) {
    expect_matrix(h, route);
  }
}

TEST(RouterAuth, ProtectedMetricsNeedAViewer) {
  config::ApiConfig api = api_with_tokens();
  api.protect_metrics = true;
  RouterHarness h(api);
  expect_matrix(h, {"GET", "/metrics", kViewerRead});
  expect_matrix(h, {"GET", "/livez", kOpen});  // probes stay open
  expect_matrix(h, {"GET", "/readyz", kOpen});
}

TEST(RouterAuth, MalformedAuthorizationIs401) {
  RouterHarness h;
  for (const std::string& header : std::vector<std::string>{
           "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token " + kAdminToken, kAdminToken,
           "Bearer " + kAdminToken + " extra", "Bearer " + sha256_hex(kAdminToken)}) {
    const Response r = h.router.handle(make_request("GET", "/api/v1/status", header));
    EXPECT_EQ(r.status, 401) << header;
    EXPECT_EQ(r.headers.count("WWW-Authenticate"), 1U);
  }
  EXPECT_EQ(h.router.handle(make_request("GET", "/api/v1/status", "bearer " + kViewerToken)).status,
            200);
}

TEST(RouterAuth, NoTokensOnLoopbackIsOpenAsAnonymousAdmin) {
  for (const char* listen : {"127.0.0.1:7171", "localhost:7171", "[::1]:0"}) {
    config::ApiConfig api;
    api.listen = listen;
    RouterHarness h(api);
    for (const RouteCase& route : kRoutes) {
      const int want = std::string(route.method) == "POST" ? 202 : 200;
      EXPECT_EQ(h.router.handle(make_request(route.method, route.path)).status, want)
          << listen << " " << route.path;
      // A token sent anyway changes nothing: there is nothing to check it against.
      EXPECT_EQ(h.router.handle(make_request(route.method, route.path, bearer("x"))).status, want);
    }
    ASSERT_FALSE(h.backend.triggered.empty());
    EXPECT_EQ(h.backend.triggered.front(), "orders by anonymous");
    ASSERT_FALSE(h.store.audits().empty());
    EXPECT_EQ(h.store.audits().front().actor, "anonymous");
  }
}

TEST(RouterAuth, NoTokensOffLoopbackClosesTheApi) {
  for (const char* listen : {"0.0.0.0:7171", ":7171", "10.1.2.3:7171", "[::]:7171"}) {
    config::ApiConfig api;
    api.listen = listen;
    RouterHarness h(api);
    expect_matrix(h, {"GET", "/livez", kOpen});
    expect_matrix(h, {"GET", "/metrics", kOpen});
    for (const RouteCase& route : kRoutes) {
      if (std::string(route.path).starts_with("/api/")) {
        expect_matrix(h, {route.method, route.path, {401, 401, 401, 401, 401}});
      }
    }
    EXPECT_TRUE(h.backend.triggered.empty());
    ASSERT_FALSE(h.store.audits().empty());
    EXPECT_EQ(h.store.audits().front().actor, "unauthenticated");

    api.protect_metrics = true;
    RouterHarness protected_metrics(api);
    EXPECT_EQ(protected_metrics.router.handle(make_request("GET", "/metrics")).status, 401);
  }
}

TEST(RouterAuth, ReconfigureSwapsTokens) {
  RouterHarness h;
  EXPECT_EQ(h.router.handle(make_request("GET", "/api/v1/status", bearer(kViewerToken))).status,
            200);
  config::ApiConfig api;
  api.listen = "127.0.0.1:7171";
  api.tokens = {{"new-viewer", sha256_hex("fresh-token-value"), config::Role::kViewer}};
  h.router.reconfigure(api);
  EXPECT_EQ(h.router.handle(make_request("GET", "/api/v1/status", bearer(kViewerToken))).status,
            401);
  EXPECT_EQ(
      h.router.handle(make_request("GET", "/api/v1/status", bearer("fresh-token-value"))).status,
      200);
}

TEST(RouterAuth, HandleIsSafeDuringReconfigure) {
  RouterHarness h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 200; ++i) {
        const int status =
            h.router.handle(make_request("GET", "/api/v1/jobs", bearer(kViewerToken))).status;
        EXPECT_EQ(status, 200);
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    h.router.reconfigure(api_with_tokens());
  }
  for (auto& thread : threads) {
    thread.join();
  }
}

}  // namespace
}  // namespace megasync::api::testing
