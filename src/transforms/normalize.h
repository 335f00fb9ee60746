// The `normalize` transform: canonical forms for text fields — `trim`
// (surrounding whitespace), `lowercase` (ASCII letters) and `utc_timestamp`
// (an ISO-8601 time with or without an offset, or epoch seconds, becomes
// "YYYY-MM-DDTHH:MM:SS[.fff]Z"). Values that are not text (or not a readable
// time) pass unchanged. Key columns cannot be normalized.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "transforms/transform.h"

namespace megasync::transforms {

enum class NormalizeOp { kTrim, kLowercase, kUtcTimestamp };

// The UTC form of an ISO-8601 time; nullopt when `text` is not one. A time
// without an offset is taken as UTC.
std::optional<std::string> to_utc_timestamp(const std::string& text);

class Normalize : public Transform {
 public:
  Normalize(std::optional<std::string> collection, std::set<std::string> fields,
            std::vector<NormalizeOp> ops)
      : Transform(std::move(collection)), fields_(std::move(fields)), ops_(std::move(ops)) {}
  Status apply_schema(CollectionSchema& schema) const override;
  Result<bool> apply(Change& change, const CollectionSchema& schema) const override;

 private:
  std::set<std::string> fields_;
  std::vector<NormalizeOp> ops_;
};

}  // namespace megasync::transforms
