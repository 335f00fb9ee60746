// The postgres connector's service layer without a server: error
// classification, quoting, conninfo building, and a refused connection.
#include <gtest/gtest.h>

#include "connectors/postgres/endpoint.h"
#include "connectors/postgres/service.h"

namespace megasync::connectors::postgres {
namespace {

TEST(PgClassifyError, BySqlstateClass) {
  EXPECT_EQ(classify_error("40001", "serialization").code(), ErrorCode::kRetryable);
  EXPECT_EQ(classify_error("40P01", "deadlock").code(), ErrorCode::kRetryable);
  EXPECT_EQ(classify_error("57P01", "admin shutdown").code(), ErrorCode::kRetryable);
  EXPECT_EQ(classify_error("08006", "connection failure").code(), ErrorCode::kRetryable);
  EXPECT_EQ(classify_error("53300", "too many connections").code(), ErrorCode::kRetryable);
  EXPECT_EQ(classify_error("28P01", "bad password").code(), ErrorCode::kPermanent);
  EXPECT_EQ(classify_error("42P01", "undefined table").code(), ErrorCode::kPermanent);
  EXPECT_EQ(classify_error("23505", "unique violation").code(), ErrorCode::kPermanent);
  EXPECT_EQ(classify_error("", "server closed the connection").code(), ErrorCode::kRetryable);
  EXPECT_EQ(classify_error("42501", "permission denied").message(),
            "permission denied (SQLSTATE 42501)");
}

TEST(PgQuote, IdentifiersAndLiterals) {
  EXPECT_EQ(quote_ident("orders"), "\"orders\"");
  EXPECT_EQ(quote_ident("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
  EXPECT_EQ(quote_literal("a\\b"), "E'a\\\\b'");
}

TEST(PgConninfo, QuotesEveryValueAndPrefersTheUrl) {
  PostgresOptions options;
  options.host = "db.internal";
  options.port = 6543;
  options.user = "sync";
  options.password = "p'w\\d x";
  options.database = "app";
  EXPECT_EQ(conninfo(options),
            "host='db.internal' port=6543 user='sync' password='p\\'w\\\\d x' dbname='app' "
            "sslmode='prefer'");
  options.url = "postgresql://u@h/app";
  EXPECT_EQ(conninfo(options), "postgresql://u@h/app");
}

TEST(PgEndpoint, ARefusedConnectionIsRetryableAndSaysWhatToCheck) {
  PostgresOptions options;
  options.port = 1;  // nothing listens there
  options.user = "megasync";
  options.password = "never-shown";
  options.database = "app";
  options.sslmode = "disable";
  PostgresEndpoint endpoint(options);
  Status status = endpoint.probe(Deadline::after(std::chrono::seconds(5)));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(status.error().message().find("cannot connect to postgres"), std::string::npos);
  EXPECT_NE(status.error().message().find("is the server running"), std::string::npos)
      << status.error().message();
  EXPECT_EQ(status.error().message().find("never-shown"), std::string::npos);
}

}  // namespace
}  // namespace megasync::connectors::postgres
