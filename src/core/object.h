// The object sync vocabulary: an object in a store, and the byte streams that
// move it (docs/design.md).
//
// Thread-safety: values; streams are used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace megasync {

struct ObjectInfo {
  std::string path;  // relative to the store's root, '/'-separated, no leading '/'
  std::uint64_t size = 0;
  WallTime mtime{};
  std::string sha256;   // lowercase hex, empty when unknown
  std::string version;  // store-specific version id, empty when unversioned
  // The store's tag of this content (S3's ETag), empty when it has none; with
  // the size it tells whether an object changed since its metadata was read.
  std::string etag;
  // Listed by ObjectStore::list_quick without the metadata that needs a request
  // of its own: mtime is then the store's upload time, sha256 and metadata unknown.
  bool partial = false;
  std::map<std::string, std::string> metadata;
};

struct ObjectMeta {
  WallTime mtime{};    // preserved at the destination where the store allows
  std::string sha256;  // of the content, when the source knows it
  // The content's length, when the source listed it. Stores that must announce
  // the length before the bytes (S3's Content-Length) rely on it and fail the
  // write when the stream turns out longer or shorter.
  std::optional<std::uint64_t> size;
  std::map<std::string, std::string> metadata;
};

// Where read() delivers bytes. Returning an error stops the read.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status write(std::string_view chunk) = 0;
};

// What write() reads from. read() fills `buffer` and returns the bytes placed,
// 0 at the end of the stream.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<std::size_t> read(char* buffer, std::size_t capacity) = 0;
};

}  // namespace megasync
