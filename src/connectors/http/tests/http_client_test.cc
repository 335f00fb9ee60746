#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "connectors/http/client.h"

namespace megasync::connectors::http {
namespace {

using std::chrono::milliseconds;

TEST(HttpHeaders, ParsesNameAndValue) {
  auto h = parse_header_line("Content-Length:  42 \r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->first, "content-length");
  EXPECT_EQ(h->second, "42");
  auto meta = parse_header_line("x-amz-meta-mtime: 1700000000123\r\n");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->first, "x-amz-meta-mtime");
  EXPECT_EQ(meta->second, "1700000000123");
  EXPECT_FALSE(parse_header_line("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(parse_header_line("\r\n"));
  auto empty = parse_header_line("X-Empty:\r\n");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->second, "");
}

TEST(HttpRetry, RetryAfterSecondsAndDates) {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // 07:28:00 GMT
  EXPECT_EQ(parse_retry_after("120", now), milliseconds(120'000));
  EXPECT_EQ(parse_retry_after(" 0 ", now), milliseconds(0));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now), milliseconds(5000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), milliseconds(0));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-3", now));
}

TEST(HttpRetry, RetryableStatuses) {
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L}) {
    EXPECT_TRUE(retryable_status(status)) << status;
  }
  for (long status : {200L, 204L, 400L, 401L, 403L, 404L, 409L, 412L, 501L}) {
    EXPECT_FALSE(retryable_status(status)) << status;
  }
}

TEST(HttpRetry, DelayHonoursRetryAfterWithinACap) {
  BackoffPolicy backoff{.max_attempts = 5, .initial = milliseconds(100), .max = milliseconds(1000)};
  std::mt19937_64 rng(7);
  for (int attempt = 2; attempt <= 6; ++attempt) {
    const auto d = retry_delay(backoff, attempt, std::nullopt, rng);
    EXPECT_GE(d, backoff.ceiling(attempt) / 2);
    EXPECT_LE(d, backoff.ceiling(attempt));
  }
  EXPECT_EQ(retry_delay(backoff, 2, milliseconds(1500), rng), milliseconds(1500));
  EXPECT_EQ(retry_delay(backoff, 2, milliseconds(60'000), rng), milliseconds(2000));  // 2 × max
  EXPECT_LE(retry_delay(backoff, 2, milliseconds(1), rng), milliseconds(100));
}

// A loopback server: the client's retries, streaming and errors against real HTTP.
class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running())
      std::this_thread::yield();
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  static ClientOptions fast() {
    ClientOptions o;
    o.backoff =
        BackoffPolicy{.max_attempts = 4, .initial = milliseconds(5), .max = milliseconds(20)};
    return o;
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(HttpClientTest, Retries503UntilSuccessHonouringRetryAfter) {
  std::atomic<int> calls{0};
  server_.Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls < 3) {
      res.status = 503;
      res.set_header("Retry-After", "0");
      res.set_content("<Error><Code>SlowDown</Code></Error>", "application/xml");
      return;
    }
    res.set_content("done", "text/plain");
  });
  HttpClient client("test", fast());
  Request r;
  r.url = url("/flaky");
  auto response = client.send(r);
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "done");
  EXPECT_EQ(calls.load(), 3);
}

TEST_F(HttpClientTest, GivesUpAfterMaxAttemptsAndReturnsTheLastResponse) {
  std::atomic<int> calls{0};
  server_.Get("/down", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 500;
  });
  HttpClient client("test", fast());
  Request r;
  r.url = url("/down");
  auto response = client.send(r);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(calls.load(), 4);
}

TEST_F(HttpClientTest, DoesNotRetryClientErrorsOrOneWayStreams) {
  std::atomic<int> calls{0};
  server_.Get("/denied", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 403;
  });
  server_.Put("/busy", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 503;
  });
  HttpClient client("test", fast());
  Request get;
  get.url = url("/denied");
  ASSERT_EQ(client.send(get)->status, 403);
  EXPECT_EQ(calls.load(), 1);

  calls = 0;
  Request put;
  put.method = "PUT";
  put.url = url("/busy");
  std::string data = "streamed";
  std::size_t offset = 0;
  put.body_size = data.size();
  put.body_reader = [&](char* buffer, std::size_t capacity) -> Result<std::size_t> {
    const std::size_t n = std::min(capacity, data.size() - offset);
    std::copy_n(data.data() + offset, n, buffer);
    offset += n;
    return n;
  };
  ASSERT_EQ(client.send(put)->status, 503);
  EXPECT_EQ(calls.load(), 1);  // the stream cannot be replayed
  calls = 0;
  offset = 0;
  put.body_rewind = [&]() -> Status {
    offset = 0;
    return ok();
  };
  ASSERT_EQ(client.send(put)->status, 503);
  EXPECT_EQ(calls.load(), 4);
}

TEST_F(HttpClientTest, StreamsBodiesBothWays) {
  std::string received;
  server_.Put("/up", [&](const httplib::Request& req, httplib::Response& res) {
    received = req.body;
    res.set_content(std::string(3 << 20, 'z'), "application/octet-stream");
  });
  HttpClient client("test", fast());
  Request put;
  put.method = "PUT";
  put.url = url("/up");
  const std::string data(1 << 20, 'q');
  std::size_t offset = 0;
  put.body_size = data.size();
  put.body_reader = [&](char* buffer, std::size_t capacity) -> Result<std::size_t> {
    const std::size_t n = std::min(capacity, data.size() - offset);
    std::copy_n(data.data() + offset, n, buffer);
    offset += n;
    return n;
  };
  std::size_t streamed = 0;
  put.on_body = [&](std::string_view chunk) -> Status {
    streamed += chunk.size();
    return ok();
  };
  auto response = client.send(put);
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(received, data);
  EXPECT_EQ(streamed, std::size_t{3} << 20);
  EXPECT_TRUE(response->body.empty());
}

TEST_F(HttpClientTest, ASinkErrorStopsTheTransferAndIsReturned) {
  server_.Get("/big", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1 << 20, 'z'), "application/octet-stream");
  });
  HttpClient client("test", fast());
  Request get;
  get.url = url("/big");
  get.on_body = [](std::string_view) -> Status {
    return make_error(ErrorCode::kCancelled, "stopped by the sink");
  };
  auto response = client.send(get);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), ErrorCode::kCancelled);
}

TEST(HttpClientConnection, RefusedConnectionIsRetryableAndNamesTheClient) {
  ClientOptions o;
  o.backoff = BackoffPolicy{.max_attempts = 2, .initial = milliseconds(1), .max = milliseconds(2)};
  HttpClient client("s3 http://127.0.0.1:1/b", o);
  Request r;
  r.url = "http://127.0.0.1:1/b/key?list-type=2";
  auto response = client.send(r);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(
      response.error().message().find("s3 http://127.0.0.1:1/b: GET http://127.0.0.1:1/b/key:"),
      std::string::npos)
      << response.error().message();
}

}  // namespace
}  // namespace megasync::connectors::http
