// The `mask` transform: hides the values of sensitive fields. `hmac` replaces a
// value with the hex HMAC-SHA256 of its text under a secret key (equal values
// stay equal, so joins still work); `fixed` with a constant; `partial` keeps
// the last characters ("****1234"). Nulls stay null. Key columns cannot be
// masked (the key must still identify the record).
#pragma once

#include <set>
#include <string>

#include "transforms/transform.h"

namespace megasync::transforms {

enum class MaskKind { kHmac, kFixed, kPartial };

class Mask : public Transform {
 public:
  Mask(std::optional<std::string> collection, std::set<std::string> fields, MaskKind kind,
       std::string secret_or_value, std::size_t keep_last)
      : Transform(std::move(collection)),
        fields_(std::move(fields)),
        kind_(kind),
        secret_or_value_(std::move(secret_or_value)),
        keep_last_(keep_last) {}
  Status apply_schema(CollectionSchema& schema) const override;
  Result<bool> apply(Change& change, const CollectionSchema& schema) const override;

  // The masked text of `text`.
  std::string mask(const std::string& text) const;

 private:
  std::set<std::string> fields_;
  MaskKind kind_;
  std::string secret_or_value_;  // the HMAC key, or the fixed value
  std::size_t keep_last_;
};

// Lowercase hex HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

}  // namespace megasync::transforms
