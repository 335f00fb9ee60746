// The mariadb connector's service layer without a server: error
// classification, URL parsing, and a refused connection.
#include <gtest/gtest.h>

#include "connectors/mariadb/endpoint.h"
#include "connectors/mariadb/service.h"

namespace megasync::connectors::mariadb {
namespace {

TEST(MariaClassifyError, ByErrorNumber) {
  for (unsigned int number : {2002u, 2003u, 2006u, 2013u, 1040u, 1205u, 1213u}) {
    EXPECT_EQ(classify_error(number, "x").code(), ErrorCode::kRetryable) << number;
  }
  for (unsigned int number : {1045u, 1049u, 1146u, 1064u, 1062u, 1406u}) {
    EXPECT_EQ(classify_error(number, "x").code(), ErrorCode::kPermanent) << number;
  }
  EXPECT_EQ(classify_error(1213, "Deadlock found").message(),
            "Deadlock found (MariaDB error 1213)");
}

TEST(MariaUrl, ParsesEveryPart) {
  MariadbOptions options;
  ASSERT_TRUE(parse_url("mysql://sync:p%40ss:w@db.internal:3307/app?ssl=1", options));
  EXPECT_EQ(options.user, "sync");
  EXPECT_EQ(options.password, "p@ss:w");
  EXPECT_EQ(options.host, "db.internal");
  EXPECT_EQ(options.port, 3307);
  EXPECT_EQ(options.database, "app");

  MariadbOptions defaults;
  ASSERT_TRUE(parse_url("mariadb://[::1]/my%20db", defaults));
  EXPECT_EQ(defaults.host, "::1");
  EXPECT_EQ(defaults.port, 3306);
  EXPECT_EQ(defaults.user, "");
  EXPECT_EQ(defaults.database, "my db");
}

TEST(MariaUrl, RejectsBadUrlsWithoutEchoingThem) {
  for (const char* url :
       {"postgresql://u:secret@h/db", "mysql://u:secret@h:99999/db", "mysql://u:secret@h:3306/",
        "mysql://u:secret@h", "mysql://u:secret@/db", "mysql://u:sec%zzret@h/db"}) {
    MariadbOptions options;
    Status status = parse_url(url, options);
    ASSERT_FALSE(status) << url;
    EXPECT_EQ(status.error().code(), ErrorCode::kInvalidConfig);
    EXPECT_EQ(status.error().message().find("secret"), std::string::npos)
        << status.error().message();
  }
}

TEST(MariaEndpoint, ARefusedConnectionIsRetryableAndSaysWhatToCheck) {
  MariadbOptions options;
  options.port = 1;  // nothing listens there
  options.user = "megasync";
  options.password = "never-shown";
  options.database = "app";
  MariadbEndpoint endpoint(options);
  Status status = endpoint.probe(Deadline::after(std::chrono::seconds(5)));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(status.error().message().find("cannot connect to mariadb"), std::string::npos);
  EXPECT_NE(status.error().message().find("is the server running"), std::string::npos)
      << status.error().message();
  EXPECT_EQ(status.error().message().find("never-shown"), std::string::npos);
}

}  // namespace
}  // namespace megasync::connectors::mariadb
