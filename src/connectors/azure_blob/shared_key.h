// The azure_blob connector's pure part: SharedKey signing (the string-to-sign
// of Microsoft's "Authorize with Shared Key" for the Blob service, HMAC-SHA256
// with OpenSSL), the time formats of the Blob service and of rclone's mtime
// metadata, block ids, and the metadata elements of a listing. No I/O.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace megasync::connectors::azure_blob {

// The service version every request announces (x-ms-version); Azurite 3.35
// and the service accept it.
inline constexpr std::string_view kApiVersion = "2021-08-06";

using HeaderList = std::vector<std::pair<std::string, std::string>>;
// Query parameters as name and DECODED value (the URL carries them encoded).
using QueryList = std::vector<std::pair<std::string, std::string>>;

// The string-to-sign of a Blob request (service version 2015-02-21 or later):
// the verb, the twelve standard header fields in Microsoft's order (Content-
// Length empty when 0), the x-ms-* headers lower-cased, sorted, one
// "name:value\n" each, and the canonicalized resource "/<account><path>" with
// one "\n<name>:<value>" per query parameter (lower-cased names, sorted; a
// repeated name's values sorted and comma-joined). `encoded_path` is the URL
// path exactly as sent (percent-encoded; with the account in it for the
// emulator's path-style URLs). `headers` are matched case-insensitively.
std::string string_to_sign(std::string_view account, std::string_view method,
                           std::string_view encoded_path, const QueryList& query,
                           const HeaderList& headers, std::uint64_t content_length);

// The raw account key from its base64 text; kInvalidConfig when it is not
// base64 (the key itself never appears in the message).
Result<std::string> decode_key(std::string_view base64_key);

// HMAC-SHA256(key, data), raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// "SharedKey <account>:<base64 signature>".
std::string authorization(std::string_view account, std::string_view raw_key,
                          std::string_view string_to_sign);

// RFC 1123 in GMT, as x-ms-date wants it: "Mon, 01 Jan 2024 00:00:00 GMT".
std::string http_date(WallTime t);

// The mtime metadata as rclone's azureblob backend writes it: RFC 3339 in UTC
// with nine decimals ("2024-01-01T00:00:00.123456789Z"). Parsing accepts any
// number of decimals and a numeric offset ("+01:00") as rclone may write.
std::string format_mtime(WallTime t);
Result<WallTime> parse_mtime(std::string_view text);

// The base64 id of block `number` (0-based) of a blob: every id of one blob
// has the same length, as the service requires.
std::string block_id(std::size_t number);

// The children of a listing's <Metadata> element: name -> unescaped value.
std::map<std::string, std::string> metadata_elements(std::string_view metadata_xml);

}  // namespace megasync::connectors::azure_blob
