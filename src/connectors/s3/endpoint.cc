#include "connectors/s3/endpoint.h"

#include <algorithm>

namespace megasync::connectors::s3 {

Status S3Endpoint::probe(Deadline deadline) {
  const auto timeout = std::clamp(deadline.remaining(), std::chrono::milliseconds(100),
                                  std::chrono::milliseconds(30'000));
  return store_->probe(timeout);
}

}  // namespace megasync::connectors::s3
