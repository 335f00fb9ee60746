// S3ObjectStore::copy_from: CopyObject between two buckets (or prefixes) of
// one endpoint and account, so that an s3 → s3 sync moves no bytes through
// megasync.
//
// The copy is pinned to the version the engine listed
// (x-amz-copy-source-if-match with its ETag) and stores megasync's metadata
// (mtime, SHA-256) from that listing: a source changed meanwhile fails the
// copy (412) rather than storing a SHA-256 that does not match the content.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/s3/encode.h"
#include "connectors/s3/internal.h"
#include "connectors/s3/object_store.h"

namespace megasync::connectors::s3 {
namespace {

// CopyObject's limit; larger objects would need UploadPartCopy.
constexpr std::uint64_t kMaxCopySize = 5ull << 30;

}  // namespace

Result<std::optional<ObjectInfo>> S3ObjectStore::copy_from(ObjectStore& source,
                                                           const ObjectInfo& object,
                                                           const ObjectMeta& meta) {
  auto* from = dynamic_cast<S3ObjectStore*>(&source);
  const bool same_account = from != nullptr && from->options_.endpoint == options_.endpoint &&
                            from->options_.region == options_.region &&
                            from->options_.access_key_id == options_.access_key_id;
  if (!same_account || !options_.server_side_copy || !from->options_.server_side_copy ||
      object.etag.empty() || object.size > kMaxCopySize) {
    return std::optional<ObjectInfo>();
  }
  if (auto ready = ensure_bucket(true); !ready) {
    return fail(ready.error());
  }
  const std::string key = full_key(object.path);
  const std::string source_key = from->full_key(object.path);
  http::Request r = request("PUT", object_url(key));
  r.headers.emplace_back("x-amz-copy-source",
                         "/" + from->options_.bucket + "/" + uri_encode(source_key, true));
  r.headers.emplace_back("x-amz-copy-source-if-match", object.etag);
  r.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
  r.headers.emplace_back("Content-Type", "application/octet-stream");
  add_meta_headers(r, meta, meta.sha256);
  sign_payload(r, "");
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  const std::string code = xml_text(response->body, "Code");
  if (response->status == 404 && (code == "NoSuchKey" || code.empty())) {
    // Gone, or a service that misreads the encoded name (s3rver decodes only
    // some escapes: '#', '+', '?' defeat it): the source tells which.
    auto still_there = from->stat(object.path);
    if (!still_there) {
      return fail(still_there.error());
    }
    if (!*still_there) {
      return make_error(ErrorCode::kNotFound, "{}: copy {}: the source object is gone", name_,
                        source_key);
    }
    spdlog::debug("{}: the service did not find {} to copy it; streamed instead", name_,
                  source_key);
    return std::optional<ObjectInfo>();
  }
  if (response->status == 412) {
    return make_error(ErrorCode::kRetryable,
                      "{}: copy {}: the source object changed since it was listed", name_,
                      source_key);
  }
  // CopyObject can fail after its 200 header: the error is then the body.
  if (response->status >= 300 || !code.empty()) {
    return fail(error_of(*response, fmt::format("copy {} to {}", source_key, key)));
  }
  ObjectInfo info;
  info.path = object.path;
  info.size = object.size;
  info.mtime = meta.mtime;
  info.sha256 = meta.sha256;
  info.metadata = meta.metadata;
  info.etag = xml_text(response->body, "ETag");
  remember(key, info, info.etag);
  return std::optional<ObjectInfo>(std::move(info));
}

}  // namespace megasync::connectors::s3
