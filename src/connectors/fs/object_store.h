// The fs endpoint's ObjectStore: the files under a root directory, by path
// relative to it ('/'-separated).
//
// Created once per FsEndpoint and shared by the jobs using it; holds only the
// root, so every method is safe to call from several transfer threads at once
// (two concurrent writes of one path end with one of them whole).
//
// What it skips: directories themselves, symbolic links and other non-regular
// files, temp files `.megasync-tmp-*`, probe files, and the `.megasync-versions/`
// folder at the root, where keep_version() stores old versions.
#pragma once

#include <string>

#include "core/object_store.h"

namespace megasync::connectors::fs {

// When what megasync wrote survives a power loss. A kill -9 of megasync loses
// nothing either way: a write that returned is in the kernel's page cache.
enum class Durability {
  kRun,     // flush(): one syncfs() of the filesystem, after a run's transfers
  kObject,  // write(): fsync of the file and of its directory before it returns
};

class FsObjectStore : public ObjectStore {
 public:
  // `root` is absolute. With `read_only`, write/remove/keep_version fail. With
  // `create`, a missing root lists as empty (the first write creates it).
  FsObjectStore(std::string root, bool read_only, bool create = false,
                Durability durability = Durability::kRun)
      : root_(std::move(root)), read_only_(read_only), create_(create), durability_(durability) {}

  // Walks the tree below root (recursive_directory_iterator, not following
  // directory links); ObjectInfo carries size and mtime, not sha256. kNotFound
  // when the root is missing (unless `create`), kRetryable when it cannot be read.
  Status list(std::string_view prefix,
              const std::function<Status(const ObjectInfo&)>& each) override;
  Result<std::optional<ObjectInfo>> stat(std::string_view path) override;
  // In 1 MiB chunks. kNotFound when the file is gone.
  Status read(std::string_view path, ByteSink& out) override;
  // Temp file `.megasync-tmp-*` beside the target, SHA-256 computed while
  // writing, mtime from meta (when set), rename over the target; with
  // Durability::kObject, fsync of the file before the rename and of the
  // directory after it. Fails (kRetryable) and removes the temp file when `in`
  // fails or, if meta.sha256 is set, the content does not match it. Parent
  // directories are created. The result carries the digest.
  Result<ObjectInfo> write(std::string_view path, ByteSource& in, const ObjectMeta& meta) override;
  // Durability::kRun: syncfs() of the filesystem holding root (every file
  // written, renamed or removed there, by anyone). Ok when root is missing.
  Status flush() override;
  // Removes the file, then parent directories left empty (never the root).
  Status remove(std::string_view path) override;
  // Hard-links (or copies) the current file to
  // `.megasync-versions/<path>/<UTC time>` and deletes all but the `keep`
  // newest versions. Ok and nothing done when the file does not exist or keep <= 0.
  Status keep_version(std::string_view path, int keep) override;
  // ObjectInfo::version is the version's file name (its UTC time).
  Result<std::vector<ObjectInfo>> versions(std::string_view path) override;

  const std::string& root() const { return root_; }

 private:
  std::string full_path(std::string_view path) const;
  Status check_writable(std::string_view path) const;

  std::string root_;
  bool read_only_;
  bool create_;
  Durability durability_;
};

}  // namespace megasync::connectors::fs
