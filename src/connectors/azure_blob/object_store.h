// The azure_blob endpoint's ObjectStore: the block blobs of one container
// (under an optional name prefix) of Azure Blob Storage or Azurite, over the
// shared HTTP client (connectors/http), each request signed with SharedKey
// (shared_key.h) or carrying a SAS token.
//
// Paths are blob names relative to the prefix. The source's mtime and SHA-256
// travel in the metadata x-ms-meta-mtime (RFC 3339, as rclone writes it) and
// x-ms-meta-sha256; List Blobs returns metadata, so listing needs no request
// per blob.
//
// keep_version() copies the current blob (Copy Blob, server-side) to
// `.megasync-versions/<path>/<UTC time>`, like the fs and s3 stores; that
// prefix is never listed as objects.
//
// Thread-safety: every method may be called from several transfer threads at
// once; the container check is guarded by mutexes, the rest is per call.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/azure_blob/shared_key.h"
#include "connectors/http/client.h"
#include "core/object_store.h"

namespace megasync::connectors::azure_blob {

struct AzureOptions {
  std::string account;
  std::string key;        // base64 account key; empty when sas_token is used
  std::string sas_token;  // "sv=...&sig=..." without '?'; empty when key is used
  std::string container;
  std::string prefix;    // "" or ending in '/'
  std::string endpoint;  // "scheme://host[:port][/path]", no trailing '/'
  bool create = false;   // create a missing container
  std::uint64_t block_threshold = 64ull << 20;
  std::uint64_t block_size = 4ull << 20;
  int block_concurrency = 8;  // blocks of one blob alive at once (read, queued or uploading)
  int delete_concurrency = 8;
  http::ClientOptions http;
};

class AzureObjectStore : public ObjectStore {
 public:
  // `options.key` must be valid base64 (the factory checks it).
  explicit AzureObjectStore(AzureOptions options);

  // List Blobs, flat (no delimiter), 5000 a page with markers, metadata
  // included. With `create`, a missing container lists as empty (the first
  // write creates it; a dry run creates nothing).
  Status list(std::string_view prefix,
              const std::function<Status(const ObjectInfo&)>& each) override;
  // Get Blob Properties (HEAD).
  Result<std::optional<ObjectInfo>> stat(std::string_view path) override;
  // Get Blob, streamed to `out`; retried only until the first byte arrived.
  Status read(std::string_view path, ByteSink& out) override;
  // Put Blob up to block_threshold (from memory with Content-MD5 up to 8 MiB,
  // streamed above, checked against the MD5 the service returns); Put Block
  // (block_concurrency at once) + Put Block List above it. Both are atomic:
  // readers see the old blob or the whole new one. A failed block upload
  // commits nothing; its uncommitted blocks are discarded by the service.
  Result<ObjectInfo> write(std::string_view path, ByteSource& in, const ObjectMeta& meta) override;
  // Delete Blob (also of its snapshots); ok when it was already gone.
  Status remove(std::string_view path) override;
  // One Delete Blob each, delete_concurrency at once.
  Status remove_many(const std::vector<std::string>& paths) override;
  Status keep_version(std::string_view path, int keep) override;
  Result<std::vector<ObjectInfo>> versions(std::string_view path) override;

  // Lists at most one blob: ok when the container is reachable with the
  // credentials (or missing, with `create`).
  Status probe(std::chrono::milliseconds timeout);
  // "azure_blob <endpoint>/<container>", for messages.
  const std::string& name() const { return name_; }

 private:
  struct Listed {
    ObjectInfo info;  // path = the full blob name
    WallTime modified{};
  };

  // A request to `blob` ("" for the container) with `query` (decoded values),
  // dated, versioned and signed (or with the SAS token) when sent by send().
  struct Call {
    http::Request request;
    std::string path;  // encoded URL path, for the signature
    QueryList query;
  };
  Call call(std::string method, std::string_view blob, QueryList query = {}) const;
  // Adds x-ms-date/x-ms-version and the Authorization, then sends.
  Result<http::Response> send(Call& call) const;
  std::string blob_url(std::string_view blob) const;
  std::string full_name(std::string_view path) const { return options_.prefix + std::string(path); }
  Error error_of(const http::Response& response, std::string_view what) const;
  // True when the container exists. A missing one is an error, unless `create`
  // is set: then false, or with `create_now` (writes) it is created.
  Result<bool> ensure_container(bool create_now);
  Result<http::Response> list_page(const std::string& name_prefix, const std::string& marker,
                                   int max_results, std::chrono::milliseconds timeout);
  Status list_blobs(const std::string& name_prefix,
                    const std::function<Status(std::vector<Listed>&)>& page);
  ObjectInfo info_of(const std::string& name, const http::Headers& headers) const;
  void add_meta_headers(http::Request& request, const ObjectMeta& meta,
                        const std::string& sha256) const;
  Result<ObjectInfo> put_buffered(const std::string& name, const std::string& data,
                                  const ObjectMeta& meta);
  Result<ObjectInfo> put_streamed(const std::string& name, ByteSource& in, std::uint64_t size,
                                  const ObjectMeta& meta);
  Result<ObjectInfo> put_blocks(const std::string& name, ByteSource& in,
                                std::optional<std::uint64_t> size, const ObjectMeta& meta);

  AzureOptions options_;
  std::string raw_key_;
  std::string origin_;     // "scheme://host[:port]"
  std::string base_path_;  // the endpoint's path ("/devstoreaccount1" on Azurite), or ""
  std::string name_;
  std::unique_ptr<http::HttpClient> client_;
  std::mutex container_mutex_;  // one container check (and creation) at a time
  std::mutex mutex_;
  bool container_ready_ = false;  // guarded by mutex_
};

}  // namespace megasync::connectors::azure_blob
