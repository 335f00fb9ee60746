// The `s3` endpoint: a bucket (or a key prefix in it) of Amazon S3 or an
// S3-compatible service (MinIO, GCS's XML API, s3rver), used as an object store.
//
// Created by the registry from an endpoint's config; shared by the jobs using
// it. Holds the options and one S3ObjectStore (thread-safe, with its pooled
// HTTP client), so it is safe to share; probe() may run beside transfers.
#pragma once

#include <memory>
#include <string>

#include "connectors/s3/object_store.h"
#include "engine/endpoint.h"

namespace megasync::connectors::s3 {

class S3Endpoint : public engine::Endpoint {
 public:
  explicit S3Endpoint(S3Options options)
      : store_(std::make_shared<S3ObjectStore>(std::move(options))) {}

  std::string type() const override { return "s3"; }
  // Lists at most one key of the bucket within the deadline: ok when reachable
  // with the credentials; a missing bucket is ok only with `create: true`.
  Status probe(Deadline deadline) override;
  Result<std::shared_ptr<ObjectStore>> object_store() override { return store_; }

 private:
  std::shared_ptr<S3ObjectStore> store_;
};

}  // namespace megasync::connectors::s3
