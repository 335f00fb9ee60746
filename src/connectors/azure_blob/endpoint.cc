#include "connectors/azure_blob/endpoint.h"

#include <algorithm>

namespace megasync::connectors::azure_blob {

Status AzureEndpoint::probe(Deadline deadline) {
  const auto timeout = std::clamp(deadline.remaining(), std::chrono::milliseconds(100),
                                  std::chrono::milliseconds(30'000));
  return store_->probe(timeout);
}

}  // namespace megasync::connectors::azure_blob
