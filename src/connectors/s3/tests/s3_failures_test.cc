// The s3 store's failure paths, which a healthy server never takes: a loopback
// HTTP server answers with the failures S3 sends (a failing part, errors inside
// a 200 DeleteObjects answer, NotImplemented), and the test checks the requests
// the store sends in reaction (AbortMultipartUpload, per-key DELETEs).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "connectors/s3/encode.h"
#include "connectors/s3/object_store.h"

namespace megasync::connectors::s3 {
namespace {

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

class S3FailuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      std::lock_guard lock(mutex_);
      log_.push_back(req.method + " " + req.target + " " + std::to_string(res.status));
    });
    // One request per connection: stop() need not wait for idle keep-alives.
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
  S3Options options() const {
    S3Options o;
    o.bucket = "bkt";
    o.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    o.access_key_id = "AKID";
    o.secret_access_key = "not-a-real-secret";
    o.multipart_threshold = 5 << 20;
    o.part_size = 5 << 20;
    o.http.backoff = BackoffPolicy{.max_attempts = 2,
                                   .initial = std::chrono::milliseconds(1),
                                   .max = std::chrono::milliseconds(2)};
    return o;
  }
  // The requests the server answered; stops it first (its logger runs after
  // each answer is sent).
  std::vector<std::string> log() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
    std::lock_guard lock(mutex_);
    return log_;
  }
  static void bucket_exists(httplib::Server& server) {
    server.Get("/bkt/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
                      "application/xml");
    });
    // The notes of open multipart uploads (.megasync-uploads/<hash>).
    server.Put(
        R"(/bkt/\.megasync-uploads/.+)",
        [](const httplib::Request&, httplib::Response& res) { res.set_header("ETag", "\"n\""); });
    server.Delete(R"(/bkt/\.megasync-uploads/.+)",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> log_;
};

TEST_F(S3FailuresTest, AFailedPartAbortsTheUpload) {
  bucket_exists(server_);
  server_.Post("/bkt/big.bin", [](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("uploads")) {
      res.set_content(
          "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"
          "</InitiateMultipartUploadResult>",
          "application/xml");
    } else {
      res.status = 400;  // Complete must never be sent
    }
  });
  server_.Put("/bkt/big.bin", [](const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("partNumber") == "2") {
      res.status = 500;
      res.set_content("<Error><Code>InternalError</Code></Error>", "application/xml");
      return;
    }
    res.set_header("ETag", "\"e\"");
  });
  server_.Delete("/bkt/big.bin",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  Start();
  S3ObjectStore store(options());
  StringSource source(std::string(12 << 20, 'x'));
  ObjectMeta meta;
  meta.size = 12 << 20;
  auto written = store.write("big.bin", source, meta);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(written.error().message().find("upload part 2 of big.bin"), std::string::npos)
      << written.error().message();
  const auto requests = log();
  EXPECT_NE(std::find(requests.begin(), requests.end(), "DELETE /bkt/big.bin?uploadId=U1 204"),
            requests.end());
  for (const auto& r : requests) {
    EXPECT_EQ(r.find("POST /bkt/big.bin?uploadId"), std::string::npos) << r;
  }
}

TEST_F(S3FailuresTest, UploadsLeftByAKilledProcessAreAbortedBeforeTheFirstWrite) {
  const std::string note = ".megasync-uploads/" + sha256_hex("U9").substr(0, 32);
  server_.Get("/bkt/", [&](const httplib::Request& req, httplib::Response& res) {
    std::string contents;
    if (req.get_param_value("prefix") == ".megasync-uploads/") {
      contents = "<Contents><Key>" + note + "</Key><Size>10</Size><ETag>&quot;n&quot;</ETag>" +
                 "<LastModified>2026-11-29T08:00:00.000Z</LastModified></Contents>";
    }
    res.set_content(
        "<ListBucketResult><IsTruncated>false</IsTruncated>" + contents + "</ListBucketResult>",
        "application/xml");
  });
  server_.Get("/bkt/" + note, [](const httplib::Request&, httplib::Response& res) {
    res.set_content("dir/old.bin\nU9\n", "text/plain");
  });
  server_.Delete("/bkt/" + note,
                 [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  std::atomic<int> aborts{0};
  std::atomic<int> puts_before_abort{0};
  server_.Delete("/bkt/dir/old.bin", [&](const httplib::Request&, httplib::Response& res) {
    ++aborts;
    res.status = 204;
  });
  server_.Put("/bkt/small.txt", [&](const httplib::Request&, httplib::Response& res) {
    if (aborts.load() == 0) {
      ++puts_before_abort;
    }
    res.set_header("ETag", "\"e\"");
  });
  Start();
  S3ObjectStore store(options());
  for (const char* content : {"first", "second"}) {
    StringSource source(content);
    ASSERT_TRUE(store.write("small.txt", source, ObjectMeta{}));
  }
  const auto requests = log();
  // The logger runs after each answer, so its order is not the requests'.
  std::multiset<std::string> seen;
  for (const auto& r : requests) {
    if (r.starts_with("DELETE") || r.starts_with("PUT")) {
      seen.insert(r);
    }
  }
  const std::multiset<std::string> expected = {
      "DELETE /bkt/dir/old.bin?uploadId=U9 204",
      "DELETE /bkt/" + note + " 204",
      "PUT /bkt/small.txt 200",
      "PUT /bkt/small.txt 200",
  };
  EXPECT_EQ(seen, expected);  // aborted once only
  EXPECT_EQ(aborts.load(), 1);
  EXPECT_EQ(puts_before_abort.load(), 0);  // before the first write
}

// A process killed while writing a note can leave it cut short (s3rver keeps
// the bytes it got). The note's name still identifies the upload.
class CutShortNoteTest : public S3FailuresTest, public ::testing::WithParamInterface<bool> {};

TEST_P(CutShortNoteTest, IsRemovedAndItsUploadFoundByListMultipartUploads) {
  const bool service_lists_uploads = GetParam();
  const std::string note = ".megasync-uploads/" + sha256_hex("U9").substr(0, 32);
  server_.Get("/bkt/", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("uploads") && service_lists_uploads) {
      EXPECT_FALSE(req.has_param("prefix"));  // the store has no prefix
      res.set_content(
          "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
          "<Upload><Key>other.bin</Key><UploadId>U7</UploadId></Upload>"
          "<Upload><Key>dir/old.bin</Key><UploadId>U9</UploadId></Upload>"
          "</ListMultipartUploadsResult>",
          "application/xml");
      return;
    }
    std::string contents;  // s3rver answers ?uploads with a plain listing
    if (req.get_param_value("prefix") == ".megasync-uploads/") {
      contents = "<Contents><Key>" + note + "</Key><Size>6</Size><ETag>&quot;n&quot;</ETag>" +
                 "<LastModified>2026-11-29T08:00:00.000Z</LastModified></Contents>";
    }
    res.set_content(
        "<ListBucketResult><IsTruncated>false</IsTruncated>" + contents + "</ListBucketResult>",
        "application/xml");
  });
  server_.Get("/bkt/" + note, [](const httplib::Request&, httplib::Response& res) {
    res.set_content("dir/ol", "text/plain");
  });
  server_.Delete("/bkt/" + note,
                 [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  server_.Delete(R"(/bkt/(dir/old|other)\.bin)",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  server_.Put("/bkt/small.txt", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("ETag", "\"e\"");
  });
  Start();
  S3ObjectStore store(options());
  StringSource source("content");
  ASSERT_TRUE(store.write("small.txt", source, ObjectMeta{}));
  std::multiset<std::string> seen;
  for (const auto& r : log()) {
    if (r.starts_with("DELETE")) {
      seen.insert(r);
    }
  }
  std::multiset<std::string> expected = {"DELETE /bkt/" + note + " 204"};
  if (service_lists_uploads) {
    expected.insert("DELETE /bkt/dir/old.bin?uploadId=U9 204");  // not U7: not megasync's
  }
  EXPECT_EQ(seen, expected);
}

INSTANTIATE_TEST_SUITE_P(S3FailuresTest, CutShortNoteTest, ::testing::Bool(),
                         [](const auto& param_info) {
                           return param_info.param ? "ServiceListsUploads"
                                                   : "ServiceCannotListUploads";
                         });

TEST_F(S3FailuresTest, ASourceShorterThanListedAbortsAndIsRetryable) {
  bucket_exists(server_);
  server_.Post("/bkt/big.bin", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "<InitiateMultipartUploadResult><UploadId>U2</UploadId>"
        "</InitiateMultipartUploadResult>",
        "application/xml");
  });
  server_.Put("/bkt/big.bin", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("ETag", "\"e\"");
  });
  server_.Delete("/bkt/big.bin",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  Start();
  S3ObjectStore store(options());
  StringSource source(std::string(7 << 20, 'x'));
  ObjectMeta meta;
  meta.size = 9 << 20;  // the file shrank after the listing
  auto written = store.write("big.bin", source, meta);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(written.error().message().find("shorter"), std::string::npos);
  const auto requests = log();
  EXPECT_NE(std::find(requests.begin(), requests.end(), "DELETE /bkt/big.bin?uploadId=U2 204"),
            requests.end());
}

TEST_F(S3FailuresTest, DeleteObjectsErrorsInA200AnswerFail) {
  server_.Post("/bkt/", [](const httplib::Request& req, httplib::Response& res) {
    EXPECT_TRUE(req.has_header("Content-MD5"));
    res.set_content(
        "<DeleteResult><Error><Key>b</Key><Code>AccessDenied</Code>"
        "<Message>no</Message></Error></DeleteResult>",
        "application/xml");
  });
  Start();
  S3ObjectStore store(options());
  Status removed = store.remove_many({"a", "b"});
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message().find("1 of 2 failed, first b: AccessDenied"),
            std::string::npos)
      << removed.error().message();
}

TEST_F(S3FailuresTest, NoMultiObjectDeleteFallsBackToOneDeleteEach) {
  server_.Post("/bkt/", [](const httplib::Request&, httplib::Response& res) {
    res.status = 501;
    res.set_content("<Error><Code>NotImplemented</Code></Error>", "application/xml");
  });
  server_.Delete(R"(/bkt/.*)",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  Start();
  S3ObjectStore store(options());
  ASSERT_TRUE(store.remove_many({"a", "b/c"}));
  ASSERT_TRUE(store.remove_many({"d"}));
  auto requests = log();
  std::sort(requests.begin(), requests.end());  // logged by the server's threads
  const std::vector<std::string> expected = {"DELETE /bkt/a 204", "DELETE /bkt/b/c 204",
                                             "DELETE /bkt/d 204", "POST /bkt/?delete= 501"};
  EXPECT_EQ(requests, expected);  // one POST only: the store remembers
}

TEST_F(S3FailuresTest, BadCredentialsAreOnePermanentErrorWithoutTheSecret) {
  server_.Get("/bkt/", [](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_content("<Error><Code>SignatureDoesNotMatch</Code><Message>nope</Message></Error>",
                    "application/xml");
  });
  Start();
  S3ObjectStore store(options());
  Status listed = store.list("", [](const ObjectInfo&) { return ok(); });
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(listed.error().message().find("access denied (SignatureDoesNotMatch: nope)"),
            std::string::npos);
  EXPECT_EQ(listed.error().message().find("not-a-real-secret"), std::string::npos);
  EXPECT_EQ(log().size(), 1u);  // not retried
}

}  // namespace
}  // namespace megasync::connectors::s3
