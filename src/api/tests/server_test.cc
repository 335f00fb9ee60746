// The real listener on loopback, driven with httplib::Client.
#include "api/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "api/tests/router_test_util.h"

namespace megasync::api::testing {
namespace {

TEST(Server, ServesTheRouterOnLoopback) {
  RouterHarness h;
  h.metrics.counter("megasync_test_total", "Test.").with({}).inc();
  Server server(h.router);
  const Result<int> port = server.start("127.0.0.1:0");
  ASSERT_TRUE(port) << port.error().message();
  ASSERT_GT(*port, 0);

  httplib::Client client("127.0.0.1", *port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);

  auto livez = client.Get("/livez");
  ASSERT_TRUE(livez) << httplib::to_string(livez.error());
  EXPECT_EQ(livez->status, 200);
  EXPECT_EQ(livez->body, "ok\n");

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("megasync_test_total 1\n"), std::string::npos);

  auto verbose = client.Get("/readyz?verbose");
  ASSERT_TRUE(verbose);
  EXPECT_EQ(verbose->body, "[+]config ok\n[+]state ok\nreadyz check passed\n");

  auto anonymous = client.Get("/api/v1/status");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer realm=\"megasync\"");

  const httplib::Headers viewer = {{"Authorization", bearer(kViewerToken)}};
  auto status = client.Get("/api/v1/status", viewer);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(status->body), h.backend.status_doc);

  auto runs = client.Get("/api/v1/jobs/orders/runs?limit=0", viewer);
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->status, 400);

  const httplib::Headers operator_token = {{"Authorization", bearer(kOperatorToken)}};
  auto triggered = client.Post("/api/v1/jobs/orders/run", operator_token, "", "application/json");
  ASSERT_TRUE(triggered);
  EXPECT_EQ(triggered->status, 202);
  ASSERT_EQ(h.store.audits().size(), 1U);
  EXPECT_EQ(h.store.audits().front().remote, "127.0.0.1");
  EXPECT_EQ(h.store.audits().front().actor, "deployer");

  auto wrong_method = client.Delete("/api/v1/jobs/orders/run", operator_token);
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");

  server.stop();
  server.stop();  // idempotent
  EXPECT_FALSE(client.Get("/livez"));
}

TEST(Server, ReportsAnAddressInUse) {
  RouterHarness h;
  Server first(h.router);
  const Result<int> port = first.start("127.0.0.1:0");
  ASSERT_TRUE(port);
  Server second(h.router);
  const std::string listen = "127.0.0.1:" + std::to_string(*port);
  const Result<int> clash = second.start(listen);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), ErrorCode::kPermanent);
  EXPECT_EQ(clash.error().message(),
            "cannot listen on " + listen + ": address in use? set api.listen to a free address");
  EXPECT_FALSE(first.start("127.0.0.1:0"));  // already listening
}

TEST(Server, RejectsAMalformedAddressAndStopsWithoutStart) {
  RouterHarness h;
  Server server(h.router);
  const Result<int> r = server.start("localhost");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidConfig);
  server.stop();
}

TEST(Server, RestartsAfterStop) {
  RouterHarness h;
  Server server(h.router);
  for (int i = 0; i < 3; ++i) {
    const Result<int> port = server.start("127.0.0.1:0");
    ASSERT_TRUE(port);
    httplib::Client client("127.0.0.1", *port);
    auto r = client.Get("/livez");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    server.stop();
  }
}

}  // namespace
}  // namespace megasync::api::testing
