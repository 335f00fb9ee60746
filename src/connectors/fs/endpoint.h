// The `fs` endpoint: a directory tree on a local (or mounted) filesystem.
//
// Created by the registry from an endpoint's config; shared by the jobs that use
// it. Holds only the resolved path and options, so it is safe to share.
#pragma once

#include <string>

#include "engine/endpoint.h"

namespace megasync::connectors::fs {

struct FsOptions {
  std::string root;      // absolute
  bool create = false;   // create the directory when missing
  bool read_only = false;  // megasync never writes here (a source); probe checks reads only
};

class FsEndpoint : public engine::Endpoint {
 public:
  explicit FsEndpoint(FsOptions options) : options_(std::move(options)) {}

  std::string type() const override { return "fs"; }
  // Ok when root is a readable directory and, unless read_only, writable.
  Status probe(Deadline deadline) override;
  const FsOptions& options() const { return options_; }

 private:
  FsOptions options_;
};

}  // namespace megasync::connectors::fs
