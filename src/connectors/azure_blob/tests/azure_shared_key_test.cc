// The azure_blob connector's pure part: the SharedKey string-to-sign and
// signature against values computed independently (Python's hmac/hashlib on
// the Azurite development key; RFC 4231 for the HMAC), the time formats rclone
// shares with us, block ids and listing metadata. Azurite accepting the
// signed requests (tests/e2e/test_azure_*.py) is the live check.
#include <gtest/gtest.h>

#include "connectors/azure_blob/shared_key.h"
#include "connectors/http/encode.h"

namespace megasync::connectors::azure_blob {
namespace {

constexpr std::string_view kAzuriteKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr std::string_view kDate = "Mon, 01 Jan 2024 00:00:00 GMT";

TEST(AzureSharedKeyTest, HmacMatchesRfc4231) {
  // RFC 4231, test case 2.
  EXPECT_EQ(http::hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(AzureSharedKeyTest, DecodesTheKeyAndRejectsNonBase64) {
  auto key = decode_key(kAzuriteKey);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 64u);
  EXPECT_EQ(http::base64(*key), kAzuriteKey);
  auto one_pad = decode_key("YWJjZGU=");  // "abcde"
  ASSERT_TRUE(one_pad);
  EXPECT_EQ(*one_pad, "abcde");
  auto bad = decode_key("not base64!");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidConfig);
  EXPECT_EQ(bad.error().message().find("not base64!"), std::string::npos);
}

TEST(AzureSharedKeyTest, ListBlobsOnTheEmulatorPath) {
  // GET http://127.0.0.1:10000/devstoreaccount1/mycontainer?restype=container&comp=list&prefix=a%2F
  const std::string text =
      string_to_sign("devstoreaccount1", "GET", "/devstoreaccount1/mycontainer",
                     {{"restype", "container"}, {"comp", "list"}, {"prefix", "a/"}},
                     {{"x-ms-version", "2021-08-06"}, {"x-ms-date", std::string(kDate)}}, 0);
  EXPECT_EQ(text,
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n"
            "x-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/mycontainer\n"
            "comp:list\nprefix:a/\nrestype:container");
  auto key = decode_key(kAzuriteKey);
  ASSERT_TRUE(key);
  EXPECT_EQ(authorization("devstoreaccount1", *key, text),
            "SharedKey devstoreaccount1:Hqo66UQvZlfpu1cMm095S8df5UQhzsEML4LDXx78aIU=");
}

TEST(AzureSharedKeyTest, PutBlobWithStandardHeadersAndMetadata) {
  const std::string text =
      string_to_sign("devstoreaccount1", "PUT", "/devstoreaccount1/mycontainer/dir/hello.txt", {},
                     {{"Content-Type", "text/plain"},
                      {"Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="},
                      {"x-ms-meta-origin", "syncd"},
                      {"X-Ms-Blob-Type", "BlockBlob"},
                      {"x-ms-date", std::string(kDate)},
                      {"x-ms-version", "2021-08-06"}},
                     11);
  EXPECT_EQ(text,
            "PUT\n\n\n11\nXrY7u+Ae7tCTyyK7j1rNww==\ntext/plain\n\n\n\n\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n"
            "x-ms-meta-origin:syncd\nx-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/mycontainer/dir/hello.txt");
  auto key = decode_key(kAzuriteKey);
  ASSERT_TRUE(key);
  EXPECT_EQ(authorization("devstoreaccount1", *key, text),
            "SharedKey devstoreaccount1:yI35d9S6PJwXCQq7qpedmhjhqJ1pZgE1HjZU+Lu3XzE=");
}

TEST(AzureSharedKeyTest, FieldOrderQueryCanonicalisationAndEncodedPath) {
  // Every standard field in Microsoft's order; query names lower-cased and
  // sorted, a repeated name's values sorted and comma-joined, values decoded
  // (a block id's '+', '/', '='); the path as sent, still encoded.
  const std::string text =
      string_to_sign("acct", "PUT", "/c/with%20space%2Bplus.txt",
                     {{"comp", "block"}, {"blockid", "a+b/c=="}, {"Zeta", "2"}, {"zeta", "1"}},
                     {{"Range", "bytes=0-9"},
                      {"If-Unmodified-Since", "U"},
                      {"If-None-Match", "*"},
                      {"If-Match", "\"e\""},
                      {"If-Modified-Since", "M"},
                      {"Date", "D"},
                      {"Content-Type", "T"},
                      {"Content-MD5", "5"},
                      {"Content-Language", "L"},
                      {"Content-Encoding", "E"},
                      {"x-ms-date", "  spaced  "}},
                     42);
  EXPECT_EQ(text,
            "PUT\nE\nL\n42\n5\nT\nD\nM\n\"e\"\n*\nU\nbytes=0-9\nx-ms-date:spaced\n"
            "/acct/c/with%20space%2Bplus.txt\nblockid:a+b/c==\ncomp:block\nzeta:1,2");
}

TEST(AzureSharedKeyTest, HttpDate) {
  EXPECT_EQ(http_date(WallClock::from_time_t(1704067200)), kDate);
  EXPECT_EQ(http_date(WallClock::from_time_t(951782400)), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(AzureSharedKeyTest, MtimeAsRcloneWritesAndReadsIt) {
  const WallTime t = WallClock::from_time_t(1704067200) + std::chrono::nanoseconds(123456789);
  EXPECT_EQ(format_mtime(t), "2024-01-01T00:00:00.123456789Z");
  auto back = parse_mtime("2024-01-01T00:00:00.123456789Z");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  auto offset = parse_mtime("2024-01-01T01:30:00.5+01:30");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, WallClock::from_time_t(1704067200) + std::chrono::milliseconds(500));
  auto whole = parse_mtime("2024-01-01T00:00:00Z");
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, WallClock::from_time_t(1704067200));
  EXPECT_FALSE(parse_mtime("1704067200.123"));
  EXPECT_FALSE(parse_mtime("2024-01-01T00:00:00.1Zjunk"));
}

TEST(AzureSharedKeyTest, BlockIdsHaveOneLength) {
  EXPECT_EQ(block_id(0).size(), block_id(49'999).size());
  EXPECT_NE(block_id(1), block_id(10));
  EXPECT_EQ(block_id(7), http::base64("megasync-block-000007"));
}

TEST(AzureSharedKeyTest, MetadataElements) {
  auto meta = metadata_elements(
      "<mtime>2024-01-01T00:00:00Z</mtime><SHA256>ab</SHA256><empty/><note>a &amp; b</note>");
  EXPECT_EQ(meta.size(), 4u);
  EXPECT_EQ(meta["mtime"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(meta["sha256"], "ab");
  EXPECT_EQ(meta["empty"], "");
  EXPECT_EQ(meta["note"], "a & b");
}

}  // namespace
}  // namespace megasync::connectors::azure_blob
