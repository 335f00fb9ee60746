// The `azure_blob` endpoint: a container (or a name prefix in it) of Azure Blob
// Storage or Azurite, used as an object store.
//
// Created by the registry from an endpoint's config; shared by the jobs using
// it. Holds one AzureObjectStore (thread-safe, with its pooled HTTP client),
// so it is safe to share; probe() may run beside transfers.
#pragma once

#include <memory>
#include <string>

#include "connectors/azure_blob/object_store.h"
#include "engine/endpoint.h"

namespace megasync::connectors::azure_blob {

class AzureEndpoint : public engine::Endpoint {
 public:
  explicit AzureEndpoint(AzureOptions options)
      : store_(std::make_shared<AzureObjectStore>(std::move(options))) {}

  std::string type() const override { return "azure_blob"; }
  // Lists at most one blob within the deadline: ok when reachable with the
  // credentials; a missing container is ok only with `create: true`.
  Status probe(Deadline deadline) override;
  Result<std::shared_ptr<ObjectStore>> object_store() override { return store_; }

 private:
  std::shared_ptr<AzureObjectStore> store_;
};

}  // namespace megasync::connectors::azure_blob
