// Transforms: pure rewrites of a record job's changes between source and
// targets (rename, select, drop, filter, mask, normalize), configured as a list
// under the job's `transforms` option and applied in order.
//
// A transform sees each collection's schema as the previous transform left it,
// rewrites that schema once (what the targets are prepared with) and then each
// change. Transforms never see two changes at once and hold no state besides
// their configuration.
//
// Thread-safety: immutable after construction; apply() may run on any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync::transforms {

class Transform {
 public:
  explicit Transform(std::optional<std::string> collection) : collection_(std::move(collection)) {}
  virtual ~Transform() = default;

  // Only changes of this collection (as named at this point of the chain) are
  // rewritten; nullopt: every collection.
  bool applies_to(const std::string& collection) const {
    return !collection_ || *collection_ == collection;
  }

  // Rewrites `schema`; kInvalidConfig when the transform cannot apply to it (a
  // field it names is missing, it would drop or rewrite a key column).
  virtual Status apply_schema(CollectionSchema& schema) const = 0;
  // Rewrites `change`, whose collection had `schema` before this transform.
  // Returns false to drop the change.
  virtual Result<bool> apply(Change& change, const CollectionSchema& schema) const = 0;

 private:
  std::optional<std::string> collection_;
};

// The configured transforms of a job, in order.
class Chain {
 public:
  Chain() = default;
  explicit Chain(std::vector<std::unique_ptr<Transform>> transforms)
      : transforms_(std::move(transforms)) {}

  bool empty() const { return transforms_.empty(); }
  // Whether any transform applies to the source collection `collection`: when
  // none does, its changes pass unchanged (a collection is renamed only by a
  // transform that applies to it).
  bool touches(const std::string& collection) const {
    for (const auto& transform : transforms_) {
      if (transform->applies_to(collection)) {
        return true;
      }
    }
    return false;
  }
  // Runs every transform's apply_schema over `schemas` and remembers each
  // stage's input, which apply() needs. Call once before apply().
  Result<std::vector<CollectionSchema>> apply_schemas(std::vector<CollectionSchema> schemas);
  // The same for collections whose schema changed during a run: the others
  // stay as they were.
  Result<std::vector<CollectionSchema>> update_schemas(std::vector<CollectionSchema> schemas);
  // Rewrites every change of `batch`, removing dropped ones; its end is kept.
  Status apply(Batch& batch) const;

 private:
  std::vector<std::unique_ptr<Transform>> transforms_;
  // Per transform: the schemas it received, by collection name.
  std::vector<std::map<std::string, CollectionSchema>> inputs_;
};

}  // namespace megasync::transforms
