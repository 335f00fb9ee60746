// The s3 connector's helpers: the shared ones of connectors/http/encode.h
// (URI and query encoding, XML, time formats, digests), named here in the s3
// namespace, and the S3-only mtime format.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "connectors/http/encode.h"
#include "core/error.h"
#include "core/time.h"

namespace megasync::connectors::s3 {

using http::base64;
using http::canonical_query;
using http::Digest;
using http::format_millis;
using http::hex;
using http::md5_raw;
using http::parse_http_date;
using http::parse_iso8601;
using http::sha256_hex;
using http::uri_decode;
using http::uri_encode;
using http::xml_elements;
using http::xml_escape;
using http::xml_text;
using http::xml_unescape;

// x-amz-meta-mtime as rclone writes and reads it: seconds since the epoch with
// a fraction ("1255369830.123"); parsing accepts any number of decimals.
std::string format_mtime(WallTime t);
Result<WallTime> parse_mtime(std::string_view text);

}  // namespace megasync::connectors::s3
