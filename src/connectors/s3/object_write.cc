// S3ObjectStore::write: a single PUT (from memory for small objects, streamed
// otherwise) or a multipart upload with parts sent in parallel.
//
// Memory per write: at most 8 MiB for a small object; nothing but libcurl's
// buffers for a streamed PUT; part_concurrency × part_size for a
// multipart upload.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

#include "connectors/http/body.h"
#include "connectors/s3/encode.h"
#include "connectors/s3/internal.h"
#include "connectors/s3/object_store.h"

namespace megasync::connectors::s3 {
namespace {

constexpr std::uint64_t kBufferedMax = 8ull << 20;  // held in memory for Content-MD5
constexpr std::uint64_t kMaxParts = 10'000;         // S3's limit

using http::digest_mismatch;
using http::fill;
using http::length_changed;
using http::PrefixedSource;

}  // namespace

void S3ObjectStore::add_meta_headers(http::Request& request, const ObjectMeta& meta,
                                     const std::string& sha256) const {
  for (const auto& [name, value] : meta.metadata) {
    if (name != kMetaMtime && name != kMetaSha256 && !value.empty()) {
      request.headers.emplace_back(std::string(kMetaPrefix) + name, value);
    }
  }
  if (meta.mtime != WallTime{}) {
    request.headers.emplace_back(std::string(kMetaPrefix) + std::string(kMetaMtime),
                                 format_mtime(meta.mtime));
  }
  if (!sha256.empty()) {
    request.headers.emplace_back(std::string(kMetaPrefix) + std::string(kMetaSha256), sha256);
  }
}

Result<ObjectInfo> S3ObjectStore::write(std::string_view path, ByteSource& in,
                                        const ObjectMeta& meta) {
  if (auto ready = ensure_bucket(true); !ready) {
    return fail(ready.error());
  }
  if (Status cleared = abort_orphaned_uploads(); !cleared) {
    return fail(cleared.error());
  }
  const std::string key = full_key(path);
  const std::uint64_t threshold = options_.multipart_threshold;
  if (meta.size && *meta.size > threshold) {
    return put_multipart(key, in, meta.size, meta);
  }
  if (meta.size && *meta.size > std::min(kBufferedMax, threshold)) {
    return put_streamed(key, in, *meta.size, meta);
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
      return fail(length_changed(key, *meta.size, *meta.size > data.size() ? "shorter" : "longer"));
    }
    return put_buffered(key, data, meta);
  }
  if (meta.size) {
    return fail(length_changed(key, *meta.size, "longer"));
  }
  PrefixedSource whole(std::move(data), in);
  return put_multipart(key, whole, std::nullopt, meta);
}

Result<ObjectInfo> S3ObjectStore::put_buffered(const std::string& key, const std::string& data,
                                               const ObjectMeta& meta) {
  const std::string sha256 = sha256_hex(data);
  if (!meta.sha256.empty() && meta.sha256 != sha256) {
    return fail(digest_mismatch(name_, key));
  }
  http::Request r = request("PUT", object_url(key));
  r.headers.emplace_back("Content-Type", "application/octet-stream");
  r.headers.emplace_back("Content-MD5", base64(md5_raw(data)));
  r.headers.emplace_back("x-amz-content-sha256", sha256);
  add_meta_headers(r, meta, sha256);
  r.body = data;
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("put {}", key)));
  }
  ObjectInfo info;
  info.path = key.substr(options_.prefix.size());
  info.size = data.size();
  info.mtime = meta.mtime;
  info.sha256 = sha256;
  info.metadata = meta.metadata;
  info.etag = response->header("etag");
  remember(key, info, info.etag);
  return info;
}

Result<ObjectInfo> S3ObjectStore::put_streamed(const std::string& key, ByteSource& in,
                                               std::uint64_t size, const ObjectMeta& meta) {
  Digest md5(Digest::Kind::kMd5);
  Digest sha(Digest::Kind::kSha256);
  std::uint64_t sent = 0;
  http::Request r = request("PUT", object_url(key));
  r.headers.emplace_back("Content-Type", "application/octet-stream");
  unsigned_payload(r);
  add_meta_headers(r, meta, meta.sha256);
  r.body_size = size;
  // Not rewindable: the source is a one-way stream, so a failed PUT is not
  // retried here (the engine's next cycle copies the object again).
  r.body_reader = [&](char* buffer, std::size_t capacity) -> Result<std::size_t> {
    if (sent == size) {
      char probe;
      auto extra = in.read(&probe, 1);
      if (!extra)
        return fail(extra.error());
      if (*extra != 0)
        return fail(length_changed(key, size, "longer"));
      return std::size_t{0};
    }
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(capacity, size - sent));
    auto n = in.read(buffer, want);
    if (!n)
      return fail(n.error());
    if (*n == 0)
      return fail(length_changed(key, size, "shorter"));
    md5.update(std::string_view(buffer, *n));
    sha.update(std::string_view(buffer, *n));
    sent += *n;
    return *n;
  };
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("put {}", key)));
  }
  const std::string digest = hex(sha.finish());
  const std::string etag = response->header("etag");
  const std::string md5_hex = hex(md5.finish());
  // A single PUT's ETag is the MD5 of the body (unless the bucket encrypts with
  // KMS, whose ETags are not 32 hex digits plus quotes).
  if (etag.size() == 34 && etag != "\"" + md5_hex + "\"") {
    return make_error(ErrorCode::kRetryable,
                      "{}: put {}: the service stored other bytes (ETag {}, "
                      "sent MD5 {})",
                      name_, key, etag, md5_hex);
  }
  if (!meta.sha256.empty() && meta.sha256 != digest) {
    return fail(digest_mismatch(name_, key));
  }
  ObjectInfo info;
  info.path = key.substr(options_.prefix.size());
  info.size = size;
  info.mtime = meta.mtime;
  info.sha256 = digest;
  info.metadata = meta.metadata;
  info.etag = etag;
  ObjectInfo cached = info;
  cached.sha256 = meta.sha256;  // what a HEAD would say
  remember(key, cached, etag);
  return info;
}

Result<ObjectInfo> S3ObjectStore::put_multipart(const std::string& key, ByteSource& in,
                                                std::optional<std::uint64_t> size,
                                                const ObjectMeta& meta) {
  std::uint64_t part_size = options_.part_size;
  if (size && *size / part_size >= kMaxParts) {
    const std::uint64_t mib = 1ull << 20;
    part_size = ((*size / (kMaxParts - 1)) / mib + 1) * mib;
  }
  // Initiate.
  http::Request init = request("POST", object_url(key, canonical_query({{"uploads", ""}})));
  init.headers.emplace_back("Content-Type", "application/octet-stream");
  add_meta_headers(init, meta, meta.sha256);
  sign_payload(init, "");
  auto initiated = client_->send(init);
  if (!initiated) {
    return fail(initiated.error());
  }
  if (initiated->status >= 300) {
    return fail(error_of(*initiated, fmt::format("start multipart upload of {}", key)));
  }
  const std::string upload_id = xml_text(initiated->body, "UploadId");
  if (upload_id.empty()) {
    return make_error(ErrorCode::kRetryable, "{}: start multipart upload of {}: no UploadId", name_,
                      key);
  }
  if (Status noted = note_upload(key, upload_id); !noted) {
    abort_upload(key, upload_id);
    return fail(noted.error());
  }

  // Parts: this thread reads them in order and hands them to the workers. At
  // most part_concurrency parts are alive at once (queued, uploading, or being
  // read): the next part is read only when one has been uploaded, which keeps
  // the memory of an upload at part_concurrency x part_size.
  struct Part {
    int number = 0;
    std::string data;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Part> queue;
  bool done = false;
  std::optional<Error> failure;
  std::map<int, std::string> etags;
  std::size_t alive = 0;  // parts read and not yet uploaded, or being read
  // Buffers of uploaded parts, reused: at most part_concurrency are ever
  // allocated, and the allocator is not left holding freed ones.
  std::vector<std::string> spare;
  const std::size_t concurrency = static_cast<std::size_t>(std::max(1, options_.part_concurrency));

  auto worker = [&] {
    for (;;) {
      Part part;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return !queue.empty() || done || failure; });
        if (failure || queue.empty()) {
          return;
        }
        part = std::move(queue.front());
        queue.pop_front();
        changed.notify_all();
      }
      http::Request put = request(
          "PUT", object_url(key, canonical_query({{"partNumber", std::to_string(part.number)},
                                                  {"uploadId", upload_id}})));
      put.headers.emplace_back("Content-MD5", base64(md5_raw(part.data)));
      sign_payload(put, part.data);
      put.body = std::move(part.data);
      auto response = client_->send(put);
      std::lock_guard lock(mutex);
      if (!response || response->status >= 300) {
        if (!failure) {
          failure = response
                        ? error_of(*response, fmt::format("upload part {} of {}", part.number, key))
                        : response.error();
        }
        changed.notify_all();
        return;
      }
      etags[part.number] = response->header("etag");
      spare.push_back(std::move(put.body));  // the reader fills it again
      --alive;
      changed.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < concurrency; ++i) {
    workers.emplace_back(worker);
  }

  Digest sha(Digest::Kind::kSha256);
  std::uint64_t total = 0;
  std::optional<Error> read_error;
  for (int number = 1;; ++number) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return alive < concurrency || failure; });
      if (failure) {
        break;
      }
      ++alive;
    }
    std::string data;
    {
      std::lock_guard lock(mutex);
      if (!spare.empty()) {
        data = std::move(spare.back());
        spare.pop_back();
      }
    }
    data.clear();
    data.reserve(static_cast<std::size_t>(part_size));
    auto n = fill(in, data, static_cast<std::size_t>(part_size));
    if (!n) {
      read_error = n.error();
      break;
    }
    if (data.empty() && number > 1) {
      break;
    }
    if (number > static_cast<int>(kMaxParts)) {
      read_error = Error(ErrorCode::kPermanent,
                         fmt::format("{}: {}: more than {} parts of {} bytes; raise part_size",
                                     name_, key, kMaxParts, part_size));
      break;
    }
    sha.update(data);
    total += data.size();
    const bool last = data.size() < part_size;
    {
      std::lock_guard lock(mutex);
      if (failure) {
        break;
      }
      queue.push_back(Part{number, std::move(data)});
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
    failure = length_changed(key, *size, total < *size ? "shorter" : "longer");
  }
  if (!failure && !meta.sha256.empty() && meta.sha256 != digest) {
    failure = digest_mismatch(name_, key);
  }
  if (failure) {
    abort_upload(key, upload_id);
    return fail(*failure);
  }

  // Complete, parts in ascending order.
  std::string body = "<CompleteMultipartUpload>";
  for (const auto& [number, etag] : etags) {
    body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", number,
                        xml_escape(etag));
  }
  body += "</CompleteMultipartUpload>";
  http::Request complete =
      request("POST", object_url(key, canonical_query({{"uploadId", upload_id}})));
  complete.headers.emplace_back("Content-Type", "application/xml");
  sign_payload(complete, body);
  complete.body = std::move(body);
  auto completed = client_->send(complete);
  // The service may answer 200 and still report an error in the body.
  if (!completed || completed->status >= 300 ||
      completed->body.find("<CompleteMultipartUploadResult") == std::string::npos) {
    Error error = completed ? error_of(*completed, fmt::format("complete upload of {}", key))
                            : completed.error();
    abort_upload(key, upload_id);
    return fail(error);
  }
  forget_upload(upload_id);
  ObjectInfo info;
  info.path = key.substr(options_.prefix.size());
  info.size = total;
  info.mtime = meta.mtime;
  info.sha256 = digest;
  info.metadata = meta.metadata;
  info.etag = xml_text(completed->body, "ETag");
  ObjectInfo cached = info;
  cached.sha256 = meta.sha256;  // what a HEAD would say
  remember(key, cached, info.etag);
  return info;
}

}  // namespace megasync::connectors::s3
