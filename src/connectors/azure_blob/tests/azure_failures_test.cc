// The azure_blob store against a loopback HTTP server answering as the Blob
// service does, for what Azurite cannot be made to do: a failing block (no
// Put Block List may follow), a source shorter than listed, throttling that
// passes, a wrong key and a missing container (one permanent error each, not
// retried, naming what to fix). The server also recomputes each request's
// SharedKey signature from what arrived on the wire, so headers libcurl adds
// or changes would show.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "connectors/azure_blob/object_store.h"
#include "connectors/azure_blob/shared_key.h"

namespace megasync::connectors::azure_blob {
namespace {

// A valid base64 key; not any real account's.
constexpr std::string_view kKey = "c2VjcmV0LWtleS1mb3ItdGhlLWxvb3BiYWNrLXRlc3Q=";

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    const std::size_t n = std::min(capacity, data_.size() - offset_);
    std::copy_n(data_.data() + offset_, n, buffer);
    offset_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t offset_ = 0;
};

class AzureFailuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      std::lock_guard lock(mutex_);
      log_.push_back(req.method + " " + req.target + " " + std::to_string(res.status));
    });
    // Every request must carry a signature that matches what arrived.
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!signed_correctly(req)) {
        res.status = 403;
        res.set_header("x-ms-error-code", "AuthenticationFailed");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.set_keep_alive_max_count(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
  }
  void Start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running())
      std::this_thread::yield();
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  static bool signed_correctly(const httplib::Request& req) {
    HeaderList headers;
    for (const auto& [name, value] : req.headers) {
      headers.emplace_back(name, value);
    }
    QueryList query;
    for (const auto& [name, value] : req.params) {
      query.emplace_back(name, value);
    }
    const std::string path = req.target.substr(0, req.target.find('?'));
    std::uint64_t length = 0;
    if (req.has_header("Content-Length")) {
      length = std::stoull(req.get_header_value("Content-Length"));
    }
    const std::string expected =
        authorization("acct", *decode_key(kKey),
                      string_to_sign("acct", req.method, path, query, headers, length));
    const bool matches = req.get_header_value("Authorization") == expected;
    EXPECT_TRUE(matches) << req.method << " " << req.target;
    return matches;
  }
  AzureOptions options(bool create = false) const {
    AzureOptions o;
    o.account = "acct";
    o.key = std::string(kKey);
    o.container = "c";
    o.endpoint = "http://127.0.0.1:" + std::to_string(port_) + "/acct";
    o.create = create;
    o.block_threshold = 1 << 20;
    o.block_size = 1 << 20;
    o.http.backoff = BackoffPolicy{.max_attempts = 3,
                                   .initial = std::chrono::milliseconds(1),
                                   .max = std::chrono::milliseconds(2)};
    return o;
  }
  // The requests the server answered; stops it first.
  std::vector<std::string> log() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
    std::lock_guard lock(mutex_);
    return log_;
  }
  void container_exists() {
    server_.Get("/acct/c", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<EnumerationResults><Blobs></Blobs><NextMarker/></EnumerationResults>",
                      "application/xml");
    });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> log_;
};

TEST_F(AzureFailuresTest, APutBlobCarriesContentMd5AndRcloneMetadata) {
  container_exists();
  server_.Put(
      R"(/acct/c/dir/a b\+c\.txt)", [](const httplib::Request& req, httplib::Response& res) {
        EXPECT_EQ(req.get_header_value("x-ms-blob-type"), "BlockBlob");
        EXPECT_EQ(req.get_header_value("Content-MD5"), "XrY7u+Ae7tCTyyK7j1rNww==");
        EXPECT_EQ(req.get_header_value("x-ms-meta-mtime"), "2024-01-01T00:00:00.250000000Z");
        EXPECT_EQ(req.get_header_value("x-ms-meta-sha256").size(), 64u);
        EXPECT_EQ(req.body, "hello world");
        res.status = 201;
      });
  Start();
  AzureObjectStore store(options());
  StringSource source("hello world");
  ObjectMeta meta;
  meta.size = 11;
  meta.mtime = WallClock::from_time_t(1704067200) + std::chrono::milliseconds(250);
  auto written = store.write("dir/a b+c.txt", source, meta);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(written->size, 11u);
  const auto requests = log();
  EXPECT_NE(std::find(requests.begin(), requests.end(), "PUT /acct/c/dir/a%20b%2Bc.txt 201"),
            requests.end());
}

TEST_F(AzureFailuresTest, AFailedBlockCommitsNothing) {
  container_exists();
  std::atomic<int> block_lists{0};
  server_.Put("/acct/c/big.bin", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("comp") == "blocklist") {
      ++block_lists;
      res.status = 201;
      return;
    }
    EXPECT_TRUE(req.has_header("Content-MD5"));
    if (req.get_param_value("blockid") == block_id(2)) {
      res.status = 500;
      res.set_header("x-ms-error-code", "InternalError");
      return;
    }
    res.status = 201;
  });
  Start();
  AzureObjectStore store(options());
  StringSource source(std::string((4 << 20) + 5, 'x'));
  ObjectMeta meta;
  meta.size = (4 << 20) + 5;
  auto written = store.write("big.bin", source, meta);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(written.error().message().find("put block 2 of big.bin"), std::string::npos)
      << written.error().message();
  log();
  EXPECT_EQ(block_lists.load(), 0);
}

TEST_F(AzureFailuresTest, ASourceShorterThanListedCommitsNothing) {
  container_exists();
  std::atomic<int> block_lists{0};
  server_.Put("/acct/c/big.bin", [&](const httplib::Request& req, httplib::Response& res) {
    block_lists += req.get_param_value("comp") == "blocklist" ? 1 : 0;
    res.status = 201;
  });
  Start();
  AzureObjectStore store(options());
  StringSource source(std::string(3 << 20, 'x'));
  ObjectMeta meta;
  meta.size = 5 << 20;  // the file shrank after the listing
  auto written = store.write("big.bin", source, meta);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(written.error().message().find("shorter"), std::string::npos);
  log();
  EXPECT_EQ(block_lists.load(), 0);
}

TEST_F(AzureFailuresTest, ThrottlingIsRetriedByTheClient) {
  std::atomic<int> calls{0};
  server_.Get("/acct/c", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls < 3) {
      res.status = 503;
      res.set_header("x-ms-error-code", "ServerBusy");
      return;
    }
    res.set_content(
        "<EnumerationResults><Blobs><Blob><Name>x &amp; y</Name><Properties>"
        "<Last-Modified>Mon, 01 Jan 2024 00:00:00 GMT</Last-Modified>"
        "<Content-Length>3</Content-Length></Properties><Metadata>"
        "<Mtime>2024-01-01T01:00:00Z</Mtime></Metadata></Blob></Blobs><NextMarker/>"
        "</EnumerationResults>",
        "application/xml");
  });
  Start();
  AzureObjectStore store(options());
  std::vector<ObjectInfo> seen;
  ASSERT_TRUE(store.list("", [&](const ObjectInfo& info) {
    seen.push_back(info);
    return ok();
  }));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "x & y");
  EXPECT_EQ(seen[0].size, 3u);
  EXPECT_EQ(seen[0].mtime, WallClock::from_time_t(1704070800));  // rclone's "Mtime"
}

TEST_F(AzureFailuresTest, AWrongKeyIsOnePermanentErrorWithoutTheKey) {
  server_.Get("/acct/c", [](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_header("x-ms-error-code", "AuthenticationFailed");
    res.set_content(
        "<Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the "
        "request.\nRequestId:1</Message></Error>",
        "application/xml");
  });
  Start();
  AzureObjectStore store(options());
  Status listed = store.list("", [](const ObjectInfo&) { return ok(); });
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code(), ErrorCode::kPermanent);
  const std::string& message = listed.error().message();
  EXPECT_NE(message.find("access denied (AuthenticationFailed: Server failed to authenticate "
                         "the request.)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("azure_blob http://127.0.0.1:"), std::string::npos) << message;
  EXPECT_EQ(message.find(kKey), std::string::npos);
  EXPECT_EQ(log().size(), 1u);  // not retried
}

TEST_F(AzureFailuresTest, AMissingContainerIsNamedOrCreatedAtTheFirstWrite) {
  std::atomic<bool> created{false};
  server_.Get("/acct/c", [&](const httplib::Request&, httplib::Response& res) {
    if (!created) {
      res.status = 404;
      res.set_header("x-ms-error-code", "ContainerNotFound");
      return;
    }
    res.set_content("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>",
                    "application/xml");
  });
  server_.Put("/acct/c", [&](const httplib::Request& req, httplib::Response& res) {
    EXPECT_EQ(req.get_param_value("restype"), "container");
    created = true;
    res.status = 201;
  });
  server_.Put("/acct/c/f",
              [](const httplib::Request&, httplib::Response& res) { res.status = 201; });
  Start();
  {
    AzureObjectStore store(options());
    Status listed = store.list("", [](const ObjectInfo&) { return ok(); });
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error().code(), ErrorCode::kPermanent);
    EXPECT_NE(listed.error().message().find("container 'c' does not exist"), std::string::npos);
    EXPECT_NE(listed.error().message().find("create: true"), std::string::npos);
  }
  AzureObjectStore store(options(/*create=*/true));
  int seen = 0;
  ASSERT_TRUE(store.list("", [&](const ObjectInfo&) {
    ++seen;
    return ok();
  }));
  EXPECT_EQ(seen, 0);
  EXPECT_FALSE(created);  // listing (a dry run) creates nothing
  StringSource source("x");
  ObjectMeta meta;
  meta.size = 1;
  ASSERT_TRUE(store.write("f", source, meta));
  EXPECT_TRUE(created);
}

}  // namespace
}  // namespace megasync::connectors::azure_blob
