// Every trigger — allowed, refused, not found or failed — leaves one audit row.
#include <gtest/gtest.h>

#include "api/tests/router_test_util.h"

namespace megasync::api::testing {
namespace {

Response trigger(RouterHarness& h, const std::string& job,
                 std::optional<std::string> authorization) {
  return h.router.handle(make_request("POST", "/api/v1/jobs/" + job + "/run", authorization));
}

state::AuditRecord only_audit(const RouterHarness& h) {
  const std::vector<state::AuditRecord> audits = h.store.audits();
  EXPECT_EQ(audits.size(), 1U);
  return audits.empty() ? state::AuditRecord{} : audits.front();
}

TEST(RouterAudit, AllowedTrigger) {
  RouterHarness h;
  const auto before = std::chrono::system_clock::now();
  EXPECT_EQ(trigger(h, "orders", bearer(kOperatorToken)).status, 202);
  const state::AuditRecord audit = only_audit(h);
  EXPECT_EQ(audit.actor, "deployer");
  EXPECT_EQ(audit.action, "job.trigger");
  EXPECT_EQ(audit.target, "orders");
  EXPECT_EQ(audit.outcome, "ok");
  EXPECT_EQ(audit.remote, "10.0.0.5");
  EXPECT_GE(audit.time, before);
}

TEST(RouterAudit, Unauthenticated) {
  RouterHarness h;
  EXPECT_EQ(trigger(h, "orders", std::nullopt).status, 401);
  const state::AuditRecord audit = only_audit(h);
  EXPECT_EQ(audit.actor, "unauthenticated");
  EXPECT_EQ(audit.outcome, "denied: missing bearer token");
  EXPECT_EQ(audit.target, "orders");
  EXPECT_TRUE(h.backend.triggered.empty());
}

TEST(RouterAudit, UnknownToken) {
  RouterHarness h;
  EXPECT_EQ(trigger(h, "orders", bearer("guess")).status, 401);
  EXPECT_EQ(only_audit(h).outcome, "denied: unknown token");
}

TEST(RouterAudit, TooWeakARole) {
  RouterHarness h;
  EXPECT_EQ(trigger(h, "orders", bearer(kViewerToken)).status, 403);
  const state::AuditRecord audit = only_audit(h);
  EXPECT_EQ(audit.actor, "ci-viewer");
  EXPECT_EQ(audit.outcome, "denied: token \"ci-viewer\" has role viewer; this needs operator");
  EXPECT_TRUE(h.backend.triggered.empty());
}

TEST(RouterAudit, NotFoundAndFailed) {
  RouterHarness h;
  EXPECT_EQ(trigger(h, "nope", bearer(kAdminToken)).status, 404);
  EXPECT_EQ(trigger(h, "paused", bearer(kAdminToken)).status, 409);
  const std::vector<state::AuditRecord> audits = h.store.audits();
  ASSERT_EQ(audits.size(), 2U);
  EXPECT_EQ(audits[0].actor, "root");
  EXPECT_EQ(audits[0].target, "nope");
  EXPECT_EQ(audits[0].outcome, "not_found");
  EXPECT_EQ(audits[1].target, "paused");
  EXPECT_EQ(audits[1].outcome, "error: job paused is disabled");
}

TEST(RouterAudit, ReadsAreNotAudited) {
  RouterHarness h;
  for (const char* path : {"/livez", "/metrics", "/api/v1/status", "/api/v1/jobs/orders/runs"}) {
    h.router.handle(make_request("GET", path, bearer(kAdminToken)));
    h.router.handle(make_request("GET", path));
  }
  EXPECT_TRUE(h.store.audits().empty());
}

TEST(RouterAudit, UnwritableAuditLogRefusesTheTrigger) {
  RouterHarness h;
  h.store.fail_writable = true;
  const Response r = trigger(h, "orders", bearer(kOperatorToken));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(nlohmann::json::parse(r.body).at("error").get<std::string>().find("not triggered"),
            std::string::npos);
  EXPECT_TRUE(h.backend.triggered.empty());
}

TEST(RouterAudit, LostRowAfterASuccessfulTriggerKeepsTheAnswer) {
  RouterHarness h;
  h.store.fail_audit = true;  // writable a moment ago, failing now
  EXPECT_EQ(trigger(h, "orders", bearer(kOperatorToken)).status, 202);
  EXPECT_EQ(h.backend.triggered.size(), 1U);
  // A denial is still a denial when its row cannot be written.
  EXPECT_EQ(trigger(h, "orders", std::nullopt).status, 401);
  EXPECT_EQ(trigger(h, "orders", bearer(kViewerToken)).status, 403);
  EXPECT_EQ(h.backend.triggered.size(), 1U);
}

}  // namespace
}  // namespace megasync::api::testing
