// Transforms that reshape records: rename (fields or the collection), select
// (keep only some fields) and drop (remove some fields). Key columns can be
// renamed but never removed.
#pragma once

#include <map>
#include <set>
#include <string>

#include "transforms/transform.h"

namespace megasync::transforms {

class Rename : public Transform {
 public:
  Rename(std::optional<std::string> collection, std::map<std::string, std::string> fields,
         std::optional<std::string> collection_to)
      : Transform(std::move(collection)),
        fields_(std::move(fields)),
        collection_to_(std::move(collection_to)) {}
  Status apply_schema(CollectionSchema& schema) const override;
  Result<bool> apply(Change& change, const CollectionSchema& schema) const override;

 private:
  std::map<std::string, std::string> fields_;  // old name -> new name
  std::optional<std::string> collection_to_;
};

// Keeps the listed fields (and always the key columns); or, with `drop`,
// removes the listed fields.
class Project : public Transform {
 public:
  Project(std::optional<std::string> collection, std::set<std::string> fields, bool drop)
      : Transform(std::move(collection)), fields_(std::move(fields)), drop_(drop) {}
  Status apply_schema(CollectionSchema& schema) const override;
  Result<bool> apply(Change& change, const CollectionSchema& schema) const override;

 private:
  bool keeps(const std::string& field, const CollectionSchema& schema) const;
  std::set<std::string> fields_;
  bool drop_;
};

bool is_key(const CollectionSchema& schema, const std::string& column);

}  // namespace megasync::transforms
