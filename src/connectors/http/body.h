// Helpers the object store connectors (s3, azure_blob) share to move an
// object's bytes from the engine's ByteSource into request bodies: reading a
// piece of a given size, putting read bytes back in front of a stream, and the
// errors for a source that changed while it was read.
//
// Thread-safety: functions are pure; a PrefixedSource is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/object.h"

namespace megasync::connectors::http {

// Reads from `in` until `buffer` holds `want` bytes or the stream ends; returns
// the bytes added.
Result<std::size_t> fill(ByteSource& in, std::string& buffer, std::size_t want);

// Retryable: the source turned out `how` ("shorter", "longer") than the
// `listed` bytes announced for `name`.
Error length_changed(std::string_view name, std::uint64_t listed, std::string_view how);

// Retryable: what `store` received for `name` does not have the source's SHA-256.
Error digest_mismatch(std::string_view store, std::string_view name);

// The stream given to write(), with bytes already read put back in front.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, ByteSource& rest) : prefix_(std::move(prefix)), rest_(rest) {}
  Result<std::size_t> read(char* buffer, std::size_t capacity) override;

 private:
  std::string prefix_;
  std::size_t offset_ = 0;
  ByteSource& rest_;
};

}  // namespace megasync::connectors::http
