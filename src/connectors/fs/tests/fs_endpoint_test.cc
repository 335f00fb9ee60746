#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "connectors/fs/endpoint.h"

namespace megasync::connectors::fs {
namespace {

class FsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/megasync-fs-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FsEndpointTest, ExistingWritableDirectoryIsUp) {
  FsEndpoint endpoint({.root = dir_});
  EXPECT_TRUE(endpoint.probe(Deadline::never()));
  // The probe's write round trip leaves nothing behind.
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(FsEndpointTest, MissingDirectoryIsDownUnlessCreateIsSet) {
  FsEndpoint missing({dir_ + "/nope", false, false});
  Status status = missing.probe(Deadline::never());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(status.error().message().find("create: true"), std::string::npos);

  FsEndpoint created({dir_ + "/made/here", true, false});
  EXPECT_TRUE(created.probe(Deadline::never()));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/made/here"));
}

TEST_F(FsEndpointTest, AFileIsNotADirectory) {
  std::ofstream(dir_ + "/file") << "x";
  FsEndpoint endpoint({.root = dir_ + "/file"});
  Status status = endpoint.probe(Deadline::never());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kPermanent);
}

}  // namespace
}  // namespace megasync::connectors::fs
