// What each route answers: probes, metrics, documents, errors, validation, redaction.
#include <gtest/gtest.h>

#include "api/tests/router_test_util.h"
#include "core/redact.h"

namespace megasync::api::testing {
namespace {

Response get(RouterHarness& h, const std::string& path,
             std::map<std::string, std::string> query = {}) {
  return h.router.handle(make_request("GET", path, bearer(kAdminToken), std::move(query)));
}

std::string error_of(const Response& r) {
  EXPECT_EQ(r.content_type, "application/json");
  return nlohmann::json::parse(r.body).at("error").get<std::string>();
}

TEST(RouterRoutes, Livez) {
  RouterHarness h;
  Response r = get(h, "/livez");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  h.backend.is_live = false;
  EXPECT_EQ(get(h, "/livez").status, 500);
}

TEST(RouterRoutes, ReadyzPlainAndVerbose) {
  RouterHarness h;
  Response r = get(h, "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");

  r = get(h, "/readyz", {{"verbose", ""}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[+]config ok\n[+]state ok\nreadyz check passed\n");

  h.backend.checks[1] = {"state", false, "disk\nfull"};
  for (const auto& query : {std::map<std::string, std::string>{},
                            std::map<std::string, std::string>{{"verbose", "1"}}}) {
    r = get(h, "/readyz", query);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body, "[+]config ok\n[-]state failed: disk full\nreadyz check failed\n");
  }
}

TEST(RouterRoutes, MetricsExposition) {
  RouterHarness h;
  h.metrics.counter("megasync_test_total", "A test counter.").with({}).inc(3);
  const Response r = get(h, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, h.metrics.render());
  EXPECT_NE(r.body.find("megasync_test_total 3\n"), std::string::npos);
}

TEST(RouterRoutes, Documents) {
  RouterHarness h;
  Response r = get(h, "/api/v1/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body), h.backend.status_doc);
  EXPECT_EQ(nlohmann::json::parse(get(h, "/api/v1/jobs").body).size(), 2U);
  EXPECT_EQ(nlohmann::json::parse(get(h, "/api/v1/jobs/orders").body).at("name"), "orders");
  r = get(h, "/api/v1/jobs/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r), "no job named nope");
  r = get(h, "/api/v1/jobs/nope/runs");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r), "no job named nope");
}

TEST(RouterRoutes, UnknownPathsAre404) {
  RouterHarness h;
  for (const char* path : {"/", "/nope", "/api/v1", "/api/v1/", "/api/v2/status", "/api/v1/jobs/",
                           "/api/v1/jobs/orders/", "/api/v1/jobs/orders/runs/1",
                           "/api/v1/jobs/orders/logs", "/livez/", "/api/v1/statusx"}) {
    const Response r = get(h, path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_FALSE(error_of(r).empty());
  }
  // Before authentication: an unknown path is 404 even without a token.
  EXPECT_EQ(h.router.handle(make_request("GET", "/api/v1/secret-admin")).status, 404);
}

TEST(RouterRoutes, WrongMethodIs405WithAllow) {
  RouterHarness h;
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  for (const Case& c :
       {Case{"GET", "/api/v1/jobs/orders/run", "POST"},
        Case{"PUT", "/api/v1/jobs/orders/run", "POST"}, Case{"POST", "/api/v1/status", "GET, HEAD"},
        Case{"DELETE", "/api/v1/jobs/orders", "GET, HEAD"}, Case{"PATCH", "/livez", "GET, HEAD"},
        Case{"POST", "/metrics", "GET, HEAD"}}) {
    const Response r = h.router.handle(make_request(c.method, c.path, bearer(kAdminToken)));
    EXPECT_EQ(r.status, 405) << c.method << " " << c.path;
    EXPECT_EQ(r.headers.at("Allow"), c.allow);
    EXPECT_FALSE(error_of(r).empty());
  }
  EXPECT_TRUE(h.store.audits().empty());  // no mutation was attempted
  EXPECT_TRUE(h.backend.triggered.empty());
}

TEST(RouterRoutes, RunsLimit) {
  RouterHarness h;
  EXPECT_EQ(get(h, "/api/v1/jobs/orders/runs").status, 200);
  EXPECT_EQ(h.backend.last_runs_limit, 50);
  EXPECT_EQ(get(h, "/api/v1/jobs/orders/runs", {{"limit", "1"}}).status, 200);
  EXPECT_EQ(h.backend.last_runs_limit, 1);
  EXPECT_EQ(get(h, "/api/v1/jobs/orders/runs", {{"limit", "1000"}}).status, 200);
  EXPECT_EQ(h.backend.last_runs_limit, 1000);
  for (const char* bad : {"0", "1001", "-1", "abc", "10x", "", " 5", "99999999999999999999"}) {
    const Response r = get(h, "/api/v1/jobs/orders/runs", {{"limit", bad}});
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_of(r), "limit must be an integer from 1 to 1000");
  }
}

TEST(RouterRoutes, EventsQuery) {
  RouterHarness h;
  EXPECT_EQ(get(h, "/api/v1/events").status, 200);
  EXPECT_EQ(h.backend.last_query.limit, 100);
  EXPECT_EQ(h.backend.last_query.after_id, 0);
  EXPECT_EQ(get(h, "/api/v1/events",
                {{"after", "42"}, {"type", "sync.*"}, {"job", "orders"}, {"limit", "7"}})
                .status,
            200);
  EXPECT_EQ(h.backend.last_query.after_id, 42);
  EXPECT_EQ(h.backend.last_query.type, "sync.*");
  EXPECT_EQ(h.backend.last_query.job, "orders");
  EXPECT_EQ(h.backend.last_query.limit, 7);
  EXPECT_EQ(get(h, "/api/v1/events", {{"after", "-1"}}).status, 400);
  EXPECT_EQ(get(h, "/api/v1/events", {{"after", "x"}}).status, 400);
  EXPECT_EQ(get(h, "/api/v1/events", {{"limit", "0"}}).status, 400);
}

TEST(RouterRoutes, TriggerResults) {
  RouterHarness h;
  auto post = [&h](const std::string& job) {
    return h.router.handle(
        make_request("POST", "/api/v1/jobs/" + job + "/run", bearer(kOperatorToken)));
  };
  Response r = post("orders");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(nlohmann::json::parse(r.body), (nlohmann::json{{"job", "orders"}, {"queued", true}}));
  EXPECT_EQ(h.backend.triggered, std::vector<std::string>{"orders by deployer"});
  r = post("nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r), "no job named nope");
  r = post("paused");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r), "job paused is disabled");
  h.backend.trigger_error = "queue full";
  EXPECT_EQ(post("orders").status, 503);
}

class RouterSecrets : public ::testing::Test {
 protected:
  void SetUp() override {
    register_secret(kSecret);
    register_secret(kQuotedSecret);
  }
  void TearDown() override { clear_secrets_for_testing(); }

  static constexpr const char* kSecret = "hunter2-database-password";
  static constexpr const char* kQuotedSecret = "pa\"ss\\word-42";
};

TEST_F(RouterSecrets, NeverLeaveInAnyResponse) {
  RouterHarness h;
  const std::string secret = kSecret;
  const std::string quoted = kQuotedSecret;
  h.backend.status_doc = {{"dsn", "postgres://app:" + secret + "@db/orders"},
                          {"note", "password is " + secret},
                          {"nested", {{"list", {secret, quoted}}}},
                          {secret, "as a key"}};
  h.backend.checks[1] = {"state", false, "cannot open with " + secret};
  h.metrics.gauge("megasync_probe", "probe").with({}).set(1);
  std::vector<Response> responses;
  for (const char* path : {"/livez", "/readyz", "/metrics", "/api/v1/status", "/api/v1/jobs",
                           "/api/v1/jobs/orders", "/api/v1/jobs/orders/runs", "/api/v1/events"}) {
    responses.push_back(get(h, path, {{"verbose", ""}}));
  }
  responses.push_back(get(h, "/api/v1/jobs/" + secret));  // echoed in the 404
  h.backend.trigger_error = "connect failed: password " + secret + " rejected";
  responses.push_back(
      h.router.handle(make_request("POST", "/api/v1/jobs/orders/run", bearer(kOperatorToken))));
  for (const Response& r : responses) {
    EXPECT_EQ(r.body.find(secret), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("pa\\\"ss\\\\word-42"), std::string::npos) << r.body;  // JSON-escaped
    EXPECT_EQ(r.body.find(quoted), std::string::npos) << r.body;
  }
  const nlohmann::json status = nlohmann::json::parse(responses[3].body);
  EXPECT_EQ(status.at("note"), "password is ***");
  EXPECT_EQ(status.at("nested").at("list"), (nlohmann::json{"***", "***"}));
  for (const state::AuditRecord& audit : h.store.audits()) {
    EXPECT_EQ(audit.outcome.find(secret), std::string::npos) << audit.outcome;
  }
}

}  // namespace
}  // namespace megasync::api::testing
