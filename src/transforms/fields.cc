#include "transforms/fields.h"

#include <algorithm>

namespace megasync::transforms {

bool is_key(const CollectionSchema& schema, const std::string& column) {
  return std::find(schema.primary_key.begin(), schema.primary_key.end(), column) !=
         schema.primary_key.end();
}

Status Rename::apply_schema(CollectionSchema& schema) const {
  for (const auto& [from, to] : fields_) {
    if (schema.column(from) == nullptr) {
      return make_error(ErrorCode::kInvalidConfig, "rename: {} has no field {}", schema.name, from);
    }
    if (schema.column(to) != nullptr && fields_.count(to) == 0) {
      return make_error(ErrorCode::kInvalidConfig, "rename: {} already has a field {}", schema.name,
                        to);
    }
  }
  for (Column& column : schema.columns) {
    if (auto found = fields_.find(column.name); found != fields_.end()) {
      column.name = found->second;
    }
  }
  for (std::string& key : schema.primary_key) {
    if (auto found = fields_.find(key); found != fields_.end()) {
      key = found->second;
    }
  }
  if (collection_to_) {
    schema.name = *collection_to_;
  }
  return ok();
}

Result<bool> Rename::apply(Change& change, const CollectionSchema& /*schema*/) const {
  Fields renamed;
  for (auto& [name, value] : change.fields) {
    auto found = fields_.find(name);
    renamed[found == fields_.end() ? name : found->second] = std::move(value);
  }
  change.fields = std::move(renamed);
  if (collection_to_) {
    change.collection = *collection_to_;
  }
  return true;
}

bool Project::keeps(const std::string& field, const CollectionSchema& schema) const {
  if (is_key(schema, field)) {
    return true;
  }
  return drop_ ? fields_.count(field) == 0 : fields_.count(field) != 0;
}

Status Project::apply_schema(CollectionSchema& schema) const {
  for (const std::string& field : fields_) {
    if (schema.column(field) == nullptr) {
      return make_error(ErrorCode::kInvalidConfig, "{}: {} has no field {}",
                        drop_ ? "drop" : "select", schema.name, field);
    }
    if (drop_ && is_key(schema, field)) {
      return make_error(ErrorCode::kInvalidConfig,
                        "drop: {} is a key column of {}; records cannot be synced without it",
                        field, schema.name);
    }
  }
  std::erase_if(schema.columns, [&](const Column& c) { return !keeps(c.name, schema); });
  return ok();
}

Result<bool> Project::apply(Change& change, const CollectionSchema& schema) const {
  erase_if(change.fields, [&](const auto& entry) { return !keeps(entry.first, schema); });
  return true;
}

}  // namespace megasync::transforms
