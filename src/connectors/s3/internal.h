// Names and helpers shared by the s3 connector's source files (not part of its
// interface).
//
// Thread-safety: constants and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "connectors/http/client.h"
#include "connectors/s3/encode.h"

namespace megasync::connectors::s3 {

// Where keep_version() puts old versions, under the store's prefix.
inline constexpr std::string_view kVersionsDir = ".megasync-versions";
// Where a multipart upload in progress is noted (one small object per upload,
// holding its key and upload id), so that the next process can abort an upload
// whose writer was killed.
inline constexpr std::string_view kUploadsDir = ".megasync-uploads";
// User metadata: header prefix and megasync's own fields.
inline constexpr std::string_view kMetaPrefix = "x-amz-meta-";
inline constexpr std::string_view kMetaMtime = "mtime";    // milliseconds since the epoch
inline constexpr std::string_view kMetaSha256 = "sha256";  // lowercase hex of the content

// Sets x-amz-content-sha256 to the body's digest. libcurl 7.88 neither adds
// the header nor hashes a streamed body, and S3 requires it.
inline void sign_payload(http::Request& request, std::string_view body) {
  request.headers.emplace_back("x-amz-content-sha256", sha256_hex(body));
}
// For bodies streamed from a source: the payload is not part of the signature
// (Content-MD5 or the ETag check covers integrity instead).
inline void unsigned_payload(http::Request& request) {
  request.headers.emplace_back("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
}

}  // namespace megasync::connectors::s3
