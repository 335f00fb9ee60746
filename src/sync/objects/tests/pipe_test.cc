#include "sync/objects/pipe.h"

#include <gtest/gtest.h>

#include <thread>

namespace megasync::sync::objects {
namespace {

std::string drain(ByteSource& source, Status& status) {
  std::string out;
  char buffer[7];
  while (true) {
    Result<std::size_t> n = source.read(buffer, sizeof buffer);
    if (!n) {
      status = fail(n.error());
      return out;
    }
    if (*n == 0) {
      return out;
    }
    out.append(buffer, *n);
  }
}

TEST(BytePipeTest, CarriesBytesInOrderThroughASmallBuffer) {
  BytePipe pipe(16);
  std::string expected;
  for (int i = 0; i < 500; ++i) {
    expected += "chunk" + std::to_string(i) + ";";
  }
  std::thread producer([&] {
    for (std::size_t i = 0; i < expected.size(); i += 10) {
      ASSERT_TRUE(pipe.sink().write(std::string_view(expected).substr(i, 10)));
    }
    pipe.close(ok());
  });
  Status status = ok();
  EXPECT_EQ(drain(pipe.source(), status), expected);
  EXPECT_TRUE(status);
  producer.join();
}

TEST(BytePipeTest, ProducerErrorReachesTheConsumer) {
  BytePipe pipe(1024);
  ASSERT_TRUE(pipe.sink().write("partial"));
  pipe.close(make_error(ErrorCode::kNotFound, "gone"));
  Status status = ok();
  EXPECT_EQ(drain(pipe.source(), status), "");  // no truncated content
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
}

TEST(BytePipeTest, AbortUnblocksAFullProducer) {
  BytePipe pipe(4);
  ASSERT_TRUE(pipe.sink().write("full"));
  std::thread consumer([&] { pipe.abort(Error(ErrorCode::kRetryable, "disk full")); });
  Status blocked = pipe.sink().write("more");  // waits until the abort
  consumer.join();
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().message(), "disk full");
}

TEST(BytePipeTest, CancelStopsBothEnds) {
  CancelSource cancel;
  BytePipe pipe(4, cancel.token());
  cancel.cancel();
  EXPECT_FALSE(pipe.sink().write("x"));
  char buffer[4];
  Result<std::size_t> n = pipe.source().read(buffer, sizeof buffer);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace megasync::sync::objects
