#include "connectors/http/body.h"

#include <fmt/format.h>

#include <algorithm>

namespace megasync::connectors::http {

Result<std::size_t> fill(ByteSource& in, std::string& buffer, std::size_t want) {
  const std::size_t start = buffer.size();
  buffer.resize(want);
  std::size_t have = start;
  while (have < want) {
    Result<std::size_t> n = in.read(buffer.data() + have, want - have);
    if (!n) {
      buffer.resize(have);
      return fail(n.error());
    }
    if (*n == 0) {
      break;
    }
    have += *n;
  }
  buffer.resize(have);
  return have - start;
}

Error length_changed(std::string_view name, std::uint64_t listed, std::string_view how) {
  return Error(ErrorCode::kRetryable,
               fmt::format("{}: the source is {} than the {} bytes listed (changed during the "
                           "sync); retried next cycle",
                           name, how, listed));
}

Error digest_mismatch(std::string_view store, std::string_view name) {
  return Error(ErrorCode::kRetryable,
               fmt::format("{}: {}: content does not match the source's SHA-256 (changed while "
                           "read?)",
                           store, name));
}

Result<std::size_t> PrefixedSource::read(char* buffer, std::size_t capacity) {
  if (offset_ < prefix_.size()) {
    const std::size_t n = std::min(capacity, prefix_.size() - offset_);
    std::copy_n(prefix_.data() + offset_, n, buffer);
    offset_ += n;
    return n;
  }
  return rest_.read(buffer, capacity);
}

}  // namespace megasync::connectors::http
