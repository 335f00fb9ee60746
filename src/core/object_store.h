// The object sync engine's capability: a store of objects addressed by path
// (a folder tree, a bucket, a container).
//
// Thread-safety: every method may be called from several of the engine's
// transfer threads at once.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/error.h"
#include "core/object.h"

namespace megasync {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Calls `each` for every object under `prefix` (all objects for ""), in any
  // order, streaming (never the whole listing in memory at once when the store
  // pages). Stops and returns the error when `each` fails.
  virtual Status list(std::string_view prefix,
                      const std::function<Status(const ObjectInfo&)>& each) = 0;
  // As list(), but without requests per object: stores whose listing lacks
  // the metadata (S3 lists sizes and ETags; the source's mtime and SHA-256
  // need a HEAD each) return such entries marked `partial`, with their etag,
  // for the caller to complete from what it remembers or with stat().
  virtual Status list_quick(std::string_view prefix,
                            const std::function<Status(const ObjectInfo&)>& each) {
    return list(prefix, each);
  }
  // nullopt when there is no such object.
  virtual Result<std::optional<ObjectInfo>> stat(std::string_view path) = 0;
  // Streams the object's content into `out`. kNotFound when it vanished.
  virtual Status read(std::string_view path, ByteSink& out) = 0;
  // Writes the object atomically from `in`: readers see the old object or the
  // complete new one, never a part. Returns the stored object's info. A crash
  // of megasync (kill -9) never loses a write that returned; a crash of the
  // machine may, until flush() returns.
  virtual Result<ObjectInfo> write(std::string_view path, ByteSource& in,
                                   const ObjectMeta& meta) = 0;
  // Makes every write(), remove() and keep_version() that returned durable
  // (survive a power loss). The engine calls it once per run, after its
  // transfers and before it remembers them. Stores whose writes are durable
  // when they return (every remote service) have nothing to do.
  virtual Status flush() { return ok(); }
  // Copies `object` (as `source` listed it) to the same path here without the
  // bytes passing through megasync (S3's CopyObject within one endpoint and
  // account), storing `meta` as write() would. nullopt when this store cannot
  // (another kind of store, another endpoint, an object too large for one
  // copy, no ETag to pin the source's version): the caller then streams it
  // with read() and write(). kNotFound when the source object vanished;
  // kRetryable when it changed since it was listed.
  virtual Result<std::optional<ObjectInfo>> copy_from(ObjectStore& source, const ObjectInfo& object,
                                                      const ObjectMeta& meta) {
    (void)source;
    (void)object;
    (void)meta;
    return std::optional<ObjectInfo>();
  }
  // Deletes the object; ok when it was already gone.
  virtual Status remove(std::string_view path) = 0;
  // Deletes several objects (ok for those already gone). Stores with a batch
  // delete (S3's DeleteObjects) override it; by default one remove() each.
  virtual Status remove_many(const std::vector<std::string>& paths) {
    for (const std::string& path : paths) {
      if (Status removed = remove(path); !removed) {
        return removed;
      }
    }
    return ok();
  }
  // Keeps the current object as a version before it is replaced or deleted
  // (stores without native versioning); `keep` is how many versions to retain.
  virtual Status keep_version(std::string_view path, int keep) = 0;
  // The stored versions of `path`, newest first (empty when none).
  virtual Result<std::vector<ObjectInfo>> versions(std::string_view path) = 0;
};

}  // namespace megasync
