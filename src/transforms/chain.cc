#include <fmt/format.h>

#include "transforms/transform.h"

namespace megasync::transforms {

Result<std::vector<CollectionSchema>> Chain::apply_schemas(std::vector<CollectionSchema> schemas) {
  inputs_.clear();
  inputs_.resize(transforms_.size());
  return update_schemas(std::move(schemas));
}

Result<std::vector<CollectionSchema>> Chain::update_schemas(std::vector<CollectionSchema> schemas) {
  inputs_.resize(transforms_.size());
  for (std::size_t i = 0; i < transforms_.size(); ++i) {
    std::map<std::string, CollectionSchema>& input = inputs_[i];
    for (CollectionSchema& schema : schemas) {
      input[schema.name] = schema;
      if (!transforms_[i]->applies_to(schema.name)) {
        continue;
      }
      const std::string name = schema.name;
      if (Status s = transforms_[i]->apply_schema(schema); !s) {
        return fail(s.error().with_context(fmt::format("transform {} on {}", i + 1, name)));
      }
    }
  }
  return schemas;
}

Status Chain::apply(Batch& batch) const {
  if (transforms_.empty()) {
    return ok();
  }
  std::vector<Change> kept;
  kept.reserve(batch.changes.size());
  for (Change& change : batch.changes) {
    bool keep = true;
    for (std::size_t i = 0; i < transforms_.size() && keep; ++i) {
      if (!transforms_[i]->applies_to(change.collection)) {
        continue;
      }
      auto schema = inputs_.at(i).find(change.collection);
      if (schema == inputs_.at(i).end()) {
        return make_error(ErrorCode::kPermanent, "transform {}: unknown collection {}", i + 1,
                          change.collection);
      }
      Result<bool> result = transforms_[i]->apply(change, schema->second);
      if (!result) {
        return fail(result.error().with_context(fmt::format("transform {}", i + 1)));
      }
      keep = *result;
    }
    if (keep) {
      kept.push_back(std::move(change));
    }
  }
  batch.changes = std::move(kept);
  return ok();
}

}  // namespace megasync::transforms
