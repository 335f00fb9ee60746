// The `fs` endpoint: a directory tree on a local (or mounted) filesystem.
//
// Created by the registry from an endpoint's config; shared by the jobs that use
// it. Holds only the resolved path, options and its object store (itself
// stateless), so it is safe to share.
#pragma once

#include <memory>
#include <string>

#include "connectors/fs/object_store.h"
#include "engine/endpoint.h"

namespace megasync::connectors::fs {

struct FsOptions {
  std::string root;        // absolute
  bool create = false;     // create the directory when missing
  bool read_only = false;  // megasync never writes here (a source); probe checks reads only
  Durability durability = Durability::kRun;
};

class FsEndpoint : public engine::Endpoint {
 public:
  explicit FsEndpoint(FsOptions options)
      : options_(std::move(options)),
        store_(std::make_shared<FsObjectStore>(options_.root, options_.read_only, options_.create,
                                               options_.durability)) {}

  std::string type() const override { return "fs"; }
  // Ok when root is a readable directory and, unless read_only, writable.
  Status probe(Deadline deadline) override;
  // The files under root, one store shared by every job using the endpoint.
  Result<std::shared_ptr<ObjectStore>> object_store() override { return store_; }
  const FsOptions& options() const { return options_; }

 private:
  FsOptions options_;
  std::shared_ptr<FsObjectStore> store_;
};

}  // namespace megasync::connectors::fs
