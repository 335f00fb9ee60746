// AzureObjectStore::write: one Put Blob (from memory for small blobs,
// streamed otherwise) or Put Block × n + Put Block List with blocks sent in
// parallel.
//
// Memory per write: at most 8 MiB for a small blob; nothing but libcurl's
// buffers for a streamed Put Blob; block_concurrency × block_size for a
// block upload.
//
// A block upload that fails commits nothing: the blob keeps its old content,
// and the uploaded blocks stay uncommitted until the service discards them
// (after a week, or at the blob's next successful write).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <thread>

#include "connectors/azure_blob/internal.h"
#include "connectors/azure_blob/object_store.h"
#include "connectors/http/body.h"
#include "connectors/http/encode.h"

namespace megasync::connectors::azure_blob {
namespace {

using http::base64;
using http::Digest;
using http::digest_mismatch;
using http::fill;
using http::hex;
using http::length_changed;
using http::md5_raw;
using http::PrefixedSource;
using http::sha256_hex;

constexpr std::uint64_t kBufferedMax = 8ull << 20;  // held in memory for Content-MD5
constexpr std::uint64_t kMaxBlocks = 50'000;        // per blob, the service's limit

// Azure metadata names must be C# identifiers; others (from S3 sources, say)
// cannot be stored and are left out.
bool valid_meta_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

void AzureObjectStore::add_meta_headers(http::Request& request, const ObjectMeta& meta,
                                        const std::string& sha256) const {
  for (const auto& [name, value] : meta.metadata) {
    if (name == kMetaMtime || name == kMetaSha256 || value.empty()) {
      continue;
    }
    if (!valid_meta_name(name)) {
      spdlog::debug("{}: metadata '{}' is not a valid Azure metadata name; not stored", name_,
                    name);
      continue;
    }
    request.headers.emplace_back(std::string(kMetaPrefix) + name, value);
  }
  if (meta.mtime != WallTime{}) {
    request.headers.emplace_back(std::string(kMetaPrefix) + std::string(kMetaMtime),
                                 format_mtime(meta.mtime));
  }
  if (!sha256.empty()) {
    request.headers.emplace_back(std::string(kMetaPrefix) + std::string(kMetaSha256), sha256);
  }
}

Result<ObjectInfo> AzureObjectStore::write(std::string_view path, ByteSource& in,
                                           const ObjectMeta& meta) {
  if (auto ready = ensure_container(true); !ready) {
    return fail(ready.error());
  }
  const std::string name = full_name(path);
  const std::uint64_t threshold = options_.block_threshold;
  if (meta.size && *meta.size > threshold) {
    return put_blocks(name, in, meta.size, meta);
  }
  if (meta.size && *meta.size > std::min(kBufferedMax, threshold)) {
    return put_streamed(name, in, *meta.size, meta);
  }
  // Small or of unknown size: read up to the in-memory limit, one byte more
  // to learn whether the stream ends there.
  const std::size_t limit = static_cast<std::size_t>(std::min(kBufferedMax, threshold));
  std::string data;
  if (auto n = fill(in, data, limit + 1); !n) {
    return fail(n.error());
  }
  if (data.size() <= limit) {
    if (meta.size && *meta.size != data.size()) {
      return fail(
          length_changed(name, *meta.size, *meta.size > data.size() ? "shorter" : "longer"));
    }
    return put_buffered(name, data, meta);
  }
  if (meta.size) {
    return fail(length_changed(name, *meta.size, "longer"));
  }
  PrefixedSource whole(std::move(data), in);
  return put_blocks(name, whole, std::nullopt, meta);
}

Result<ObjectInfo> AzureObjectStore::put_buffered(const std::string& name, const std::string& data,
                                                  const ObjectMeta& meta) {
  const std::string sha256 = sha256_hex(data);
  if (!meta.sha256.empty() && meta.sha256 != sha256) {
    return fail(digest_mismatch(name_, name));
  }
  Call c = call("PUT", name);
  c.request.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  c.request.headers.emplace_back("Content-Type", "application/octet-stream");
  c.request.headers.emplace_back("Content-MD5", base64(md5_raw(data)));
  add_meta_headers(c.request, meta, sha256);
  c.request.body = data;
  auto response = send(c);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("put {}", name)));
  }
  ObjectInfo info;
  info.path = name.substr(options_.prefix.size());
  info.size = data.size();
  info.mtime = meta.mtime;
  info.sha256 = sha256;
  info.metadata = meta.metadata;
  return info;
}

Result<ObjectInfo> AzureObjectStore::put_streamed(const std::string& name, ByteSource& in,
                                                  std::uint64_t size, const ObjectMeta& meta) {
  Digest md5(Digest::Kind::kMd5);
  Digest sha(Digest::Kind::kSha256);
  std::uint64_t sent = 0;
  Call c = call("PUT", name);
  c.request.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  c.request.headers.emplace_back("Content-Type", "application/octet-stream");
  add_meta_headers(c.request, meta, meta.sha256);
  c.request.body_size = size;
  // Not rewindable: the source is a one-way stream, so a failed Put Blob is
  // not retried here (the engine's next attempt copies the blob again).
  c.request.body_reader = [&](char* buffer, std::size_t capacity) -> Result<std::size_t> {
    if (sent == size) {
      char probe;
      auto extra = in.read(&probe, 1);
      if (!extra) {
        return fail(extra.error());
      }
      if (*extra != 0) {
        return fail(length_changed(name, size, "longer"));
      }
      return std::size_t{0};
    }
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(capacity, size - sent));
    auto n = in.read(buffer, want);
    if (!n) {
      return fail(n.error());
    }
    if (*n == 0) {
      return fail(length_changed(name, size, "shorter"));
    }
    md5.update(std::string_view(buffer, *n));
    sha.update(std::string_view(buffer, *n));
    sent += *n;
    return *n;
  };
  auto response = send(c);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("put {}", name)));
  }
  const std::string digest = hex(sha.finish());
  const std::string md5_base64 = base64(md5.finish());
  // The service computes the MD5 of a Put Blob body and returns it.
  const std::string stored_md5 = response->header("content-md5");
  if (!stored_md5.empty() && stored_md5 != md5_base64) {
    return make_error(ErrorCode::kRetryable,
                      "{}: put {}: the service stored other bytes (Content-MD5 {}, sent {})", name_,
                      name, stored_md5, md5_base64);
  }
  if (!meta.sha256.empty() && meta.sha256 != digest) {
    return fail(digest_mismatch(name_, name));
  }
  ObjectInfo info;
  info.path = name.substr(options_.prefix.size());
  info.size = size;
  info.mtime = meta.mtime;
  info.sha256 = digest;
  info.metadata = meta.metadata;
  return info;
}

Result<ObjectInfo> AzureObjectStore::put_blocks(const std::string& name, ByteSource& in,
                                                std::optional<std::uint64_t> size,
                                                const ObjectMeta& meta) {
  std::uint64_t block_size = options_.block_size;
  if (size && *size / block_size >= kMaxBlocks) {
    const std::uint64_t mib = 1ull << 20;
    block_size = ((*size / (kMaxBlocks - 1)) / mib + 1) * mib;
  }

  // Blocks: this thread reads them in order and hands them to the workers. At
  // most block_concurrency blocks are alive at once (being read, queued or
  // uploading): the next block is read only when one has been uploaded, which
  // keeps the memory of an upload at block_concurrency x block_size.
  struct Block {
    std::size_t number = 0;
    std::string data;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Block> queue;
  bool done = false;
  std::optional<Error> failure;
  std::size_t alive = 0;  // blocks read and not yet uploaded, or being read
  // Buffers of uploaded blocks, reused: at most block_concurrency are ever
  // allocated, and the allocator is not left holding freed ones.
  std::vector<std::string> spare;
  const std::size_t concurrency = static_cast<std::size_t>(std::max(1, options_.block_concurrency));

  auto worker = [&] {
    for (;;) {
      Block block;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return !queue.empty() || done || failure; });
        if (failure || queue.empty()) {
          return;
        }
        block = std::move(queue.front());
        queue.pop_front();
      }
      Call put = call("PUT", name, {{"comp", "block"}, {"blockid", block_id(block.number)}});
      put.request.headers.emplace_back("Content-MD5", base64(md5_raw(block.data)));
      put.request.body = std::move(block.data);
      auto response = send(put);
      std::lock_guard lock(mutex);
      if (!response || response->status >= 300) {
        if (!failure) {
          failure = response
                        ? error_of(*response, fmt::format("put block {} of {}", block.number, name))
                        : response.error();
        }
        changed.notify_all();
        return;
      }
      spare.push_back(std::move(put.request.body));  // the reader fills it again
      --alive;
      changed.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < concurrency; ++i) {
    workers.emplace_back(worker);
  }

  Digest sha(Digest::Kind::kSha256);
  Digest md5(Digest::Kind::kMd5);
  std::uint64_t total = 0;
  std::size_t blocks = 0;
  std::optional<Error> read_error;
  for (std::size_t number = 0;; ++number) {
    std::string data;
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return alive < concurrency || failure; });
      if (failure) {
        break;
      }
      ++alive;
      if (!spare.empty()) {
        data = std::move(spare.back());
        spare.pop_back();
      }
    }
    data.clear();
    data.reserve(static_cast<std::size_t>(block_size));
    auto n = fill(in, data, static_cast<std::size_t>(block_size));
    if (!n) {
      read_error = n.error();
      break;
    }
    if (data.empty() && number > 0) {
      break;
    }
    if (number >= kMaxBlocks) {
      read_error = Error(ErrorCode::kPermanent,
                         fmt::format("{}: {}: more than {} blocks of {} bytes; raise block_size",
                                     name_, name, kMaxBlocks, block_size));
      break;
    }
    sha.update(data);
    md5.update(data);
    total += data.size();
    blocks = number + 1;
    const bool last = data.size() < block_size;
    {
      std::lock_guard lock(mutex);
      if (failure) {
        break;
      }
      queue.push_back(Block{number, std::move(data)});
      changed.notify_all();
    }
    if (last) {
      break;
    }
  }
  {
    std::lock_guard lock(mutex);
    done = true;
    if (read_error && !failure) {
      failure = read_error;
    }
    changed.notify_all();
  }
  for (auto& thread : workers) {
    thread.join();
  }
  const std::string digest = hex(sha.finish());
  if (!failure && size && total != *size) {
    failure = length_changed(name, *size, total < *size ? "shorter" : "longer");
  }
  if (!failure && !meta.sha256.empty() && meta.sha256 != digest) {
    failure = digest_mismatch(name_, name);
  }
  if (failure) {
    // Nothing committed: the blob is unchanged; the service discards the
    // uncommitted blocks.
    return fail(*failure);
  }

  std::string body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (std::size_t number = 0; number < blocks; ++number) {
    body += "<Latest>" + block_id(number) + "</Latest>";
  }
  body += "</BlockList>";
  Call commit = call("PUT", name, {{"comp", "blocklist"}});
  commit.request.headers.emplace_back("Content-Type", "application/xml");
  commit.request.headers.emplace_back("x-ms-blob-content-type", "application/octet-stream");
  // Block blobs have a Content-MD5 only when set here; rclone compares it.
  commit.request.headers.emplace_back("x-ms-blob-content-md5", base64(md5.finish()));
  add_meta_headers(commit.request, meta, meta.sha256.empty() ? digest : meta.sha256);
  commit.request.body = std::move(body);
  auto committed = send(commit);
  if (!committed) {
    return fail(committed.error());
  }
  if (committed->status >= 300) {
    return fail(error_of(*committed, fmt::format("put block list of {}", name)));
  }
  ObjectInfo info;
  info.path = name.substr(options_.prefix.size());
  info.size = total;
  info.mtime = meta.mtime;
  info.sha256 = digest;
  info.metadata = meta.metadata;
  return info;
}

}  // namespace megasync::connectors::azure_blob
