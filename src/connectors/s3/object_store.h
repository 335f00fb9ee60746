// The s3 endpoint's ObjectStore: the objects of one bucket (under an optional
// key prefix) of an S3-compatible service, over the shared HTTP client
// (connectors/http) with SigV4 signing by libcurl.
//
// Paths are keys relative to the prefix. The source's mtime and SHA-256 travel
// in the user metadata x-amz-meta-mtime (milliseconds since the epoch) and
// x-amz-meta-sha256, so later cycles compare without reading content. A listing
// does not carry user metadata: list() HEADs each object it has not seen with
// the same ETag before (a cache kept for the store's lifetime; writes fill it).
//
// keep_version() copies the current object (server-side) to
// `.megasync-versions/<path>/<UTC time>`, like the fs store; that prefix is
// never listed as objects.
//
// Thread-safety: every method may be called from several transfer threads at
// once; the bucket check and the metadata cache are guarded by a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/http/client.h"
#include "core/object_store.h"

namespace megasync::connectors::s3 {

struct S3Options {
  std::string bucket;
  std::string prefix;  // "" or ending in '/'
  std::string region = "us-east-1";
  std::string endpoint;  // "scheme://host[:port]", no trailing '/'
  bool path_style = true;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  bool create = false;  // create a missing bucket
  std::uint64_t multipart_threshold = 64ull << 20;
  std::uint64_t part_size = 16ull << 20;
  int part_concurrency = 2;      // parts of one object uploaded at once
  bool batch_delete = true;      // DeleteObjects; false: one DELETE per key (gcs)
  bool server_side_copy = true;  // CopyObject from another store of the same account
  std::string provider = "aws";  // aws | minio | gcs
  http::ClientOptions http;
};

class S3ObjectStore : public ObjectStore {
 public:
  explicit S3ObjectStore(S3Options options);

  // ListObjectsV2, flat (no delimiter), 1000 keys a page, then a HEAD of each
  // object whose metadata is not cached. With `create`, a missing bucket lists
  // as empty (the first write creates it; a dry run creates nothing).
  Status list(std::string_view prefix,
              const std::function<Status(const ObjectInfo&)>& each) override;
  // The listing alone: objects whose metadata this process has not read
  // (HEAD) or written come back partial, with their ETag.
  Status list_quick(std::string_view prefix,
                    const std::function<Status(const ObjectInfo&)>& each) override;
  Result<std::optional<ObjectInfo>> stat(std::string_view path) override;
  // GET, streamed to `out`; retried only until the first byte arrived.
  Status read(std::string_view path, ByteSink& out) override;
  // One PUT up to multipart_threshold (with Content-MD5 and a signed payload
  // hash when the object is small enough to hold, 8 MiB), a multipart upload
  // above it (parts in parallel, aborted on any failure). PUT and
  // CompleteMultipartUpload are atomic: readers never see a part.
  Result<ObjectInfo> write(std::string_view path, ByteSource& in, const ObjectMeta& meta) override;
  // CopyObject when `source` is an s3 store of the same endpoint, region and
  // access key (both sides opted in with server_side_copy).
  Result<std::optional<ObjectInfo>> copy_from(ObjectStore& source, const ObjectInfo& object,
                                              const ObjectMeta& meta) override;
  Status remove(std::string_view path) override;
  // DeleteObjects, 1000 keys a request (or one DELETE each without batch_delete).
  Status remove_many(const std::vector<std::string>& paths) override;
  Status keep_version(std::string_view path, int keep) override;
  Result<std::vector<ObjectInfo>> versions(std::string_view path) override;

  // Lists at most one key: ok when the bucket is reachable with the credentials.
  Status probe(std::chrono::milliseconds timeout);
  // "s3 <endpoint>/<bucket>", for messages.
  const std::string& name() const { return name_; }

  // A multipart upload begun and neither completed nor aborted.
  struct Upload {
    std::string key;
    std::string upload_id;
  };

 private:
  struct Cached {
    std::string etag;
    std::uint64_t size = 0;
    WallTime mtime{};
    std::string sha256;
    std::map<std::string, std::string> metadata;
  };
  struct Listed {
    std::string key;  // full key
    std::uint64_t size = 0;
    WallTime modified{};
    std::string etag;
  };

  http::Request request(std::string method, std::string url) const;
  std::string bucket_url() const;
  std::string object_url(std::string_view key, const std::string& query = "") const;
  std::string full_key(std::string_view path) const { return options_.prefix + std::string(path); }
  Error error_of(const http::Response& response, std::string_view what) const;
  // True when the bucket exists. A missing one is an error, unless `create` is
  // set: then false, or with `create_now` (writes) it is created.
  Result<bool> ensure_bucket(bool create_now);
  Result<std::optional<ObjectInfo>> head(const std::string& key, std::string* etag);
  Status list_keys(const std::string& key_prefix,
                   const std::function<Status(std::vector<Listed>&)>& page);
  Status list_objects(std::string_view prefix, const std::function<Status(const ObjectInfo&)>& each,
                      bool quick);
  // The page's entries, from the metadata cache or else a HEAD each (quick:
  // partial entries instead of HEADs).
  Status fill_metadata(std::vector<Listed>& page, std::vector<ObjectInfo>& out, bool quick);
  void remember(const std::string& key, const ObjectInfo& info, const std::string& etag);
  Result<ObjectInfo> put_buffered(const std::string& key, const std::string& data,
                                  const ObjectMeta& meta);
  Result<ObjectInfo> put_streamed(const std::string& key, ByteSource& in, std::uint64_t size,
                                  const ObjectMeta& meta);
  Result<ObjectInfo> put_multipart(const std::string& key, ByteSource& in,
                                   std::optional<std::uint64_t> size, const ObjectMeta& meta);
  void abort_upload(const std::string& key, const std::string& upload_id);
  // The note of an upload in progress under kUploadsDir; its removal.
  Status note_upload(const std::string& key, const std::string& upload_id);
  void forget_upload(const std::string& upload_id);
  void remove_note(const std::string& note);
  // The multipart uploads open under the prefix (ListMultipartUploads);
  // nullopt when the service does not have the call.
  Result<std::optional<std::vector<Upload>>> list_uploads();
  // Once per store, before its first write: aborts the uploads noted by
  // earlier processes that never completed or aborted them (killed).
  Status abort_orphaned_uploads();
  void add_meta_headers(http::Request& request, const ObjectMeta& meta,
                        const std::string& sha256) const;

  S3Options options_;
  std::string name_;
  std::unique_ptr<http::HttpClient> client_;
  std::atomic<bool> batch_delete_;  // cleared when the service lacks DeleteObjects
  std::mutex bucket_mutex_;         // one bucket check (and creation) at a time
  std::mutex mutex_;
  bool bucket_ready_ = false;                  // guarded by mutex_
  std::atomic<bool> orphans_checked_ = false;  // set under bucket_mutex_; a failed abort clears it
  std::map<std::string, Cached> cache_;        // by full key; guarded by mutex_
  std::set<std::string> open_uploads_;         // this process's upload ids; guarded by mutex_
};

}  // namespace megasync::connectors::s3
