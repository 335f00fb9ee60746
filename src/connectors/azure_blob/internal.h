// Names shared by the azure_blob connector's source files (not part of its
// interface).
//
// Thread-safety: constants.
#pragma once

#include <string_view>

namespace megasync::connectors::azure_blob {

// Where keep_version() puts old versions, under the store's prefix.
inline constexpr std::string_view kVersionsDir = ".megasync-versions";
// Metadata: header prefix and megasync's own fields (rclone reads and writes
// the same "mtime").
inline constexpr std::string_view kMetaPrefix = "x-ms-meta-";
inline constexpr std::string_view kMetaMtime = "mtime";    // RFC 3339, nanoseconds, UTC
inline constexpr std::string_view kMetaSha256 = "sha256";  // lowercase hex of the content

}  // namespace megasync::connectors::azure_blob
