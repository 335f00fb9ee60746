#include "transforms/build.h"

#include <fmt/format.h>

#include "transforms/fields.h"
#include "transforms/filter.h"
#include "transforms/mask.h"
#include "transforms/normalize.h"

namespace megasync::transforms {
namespace {

using config::OptionSpec;
using config::OptionType;

std::string where(const config::Options& entry) {
  const config::Location at = entry.location();
  if (at.file.empty()) {
    return at.key_path.empty() ? "transform" : at.key_path;
  }
  return fmt::format("{}:{}: {}", at.file, at.line, at.key_path);
}

Error invalid(const config::Options& entry, const std::string& message) {
  return Error(ErrorCode::kInvalidConfig, fmt::format("{}: {}", where(entry), message));
}

std::set<std::string> field_set(const config::Options& entry) {
  if (!entry.has("fields")) {
    return {};
  }
  std::vector<std::string> fields = entry.strings("fields");
  return {fields.begin(), fields.end()};
}

Result<std::unique_ptr<Transform>> build_one(const config::Options& entry) {
  const std::string type = entry.string("type");
  std::optional<std::string> collection;
  if (entry.has("collection")) {
    collection = entry.string("collection");
  }
  std::set<std::string> fields = field_set(entry);
  if (type == "rename") {
    std::map<std::string, std::string> mapping;
    if (entry.has("rename")) {
      const YAML::Node node = entry.node("rename");
      if (!node.IsMap()) {
        return fail(invalid(entry, "rename must be a mapping of old_name: new_name"));
      }
      for (const auto& item : node) {
        if (!item.second.IsScalar()) {
          return fail(invalid(entry, "rename: each new name must be a string"));
        }
        mapping[item.first.as<std::string>()] = item.second.as<std::string>();
      }
    }
    std::optional<std::string> to;
    if (entry.has("collection_to")) {
      if (!collection) {
        return fail(invalid(entry, "collection_to needs collection: the table to rename"));
      }
      to = entry.string("collection_to");
    }
    if (mapping.empty() && !to) {
      return fail(invalid(entry, "rename needs rename (old: new fields) or collection_to"));
    }
    return std::unique_ptr<Transform>(
        std::make_unique<Rename>(collection, std::move(mapping), std::move(to)));
  }
  if (type == "select" || type == "drop") {
    if (fields.empty()) {
      return fail(invalid(entry, fmt::format("{} needs fields", type)));
    }
    return std::unique_ptr<Transform>(
        std::make_unique<Project>(collection, std::move(fields), type == "drop"));
  }
  if (type == "filter") {
    if (!entry.has("where")) {
      return fail(invalid(entry, "filter needs where, e.g. \"status = 'paid'\""));
    }
    Result<Predicate> predicate = parse_predicate(entry.string("where"));
    if (!predicate) {
      return fail(invalid(entry, predicate.error().message()));
    }
    return std::unique_ptr<Transform>(std::make_unique<Filter>(collection, std::move(*predicate)));
  }
  if (type == "mask") {
    if (fields.empty()) {
      return fail(invalid(entry, "mask needs fields"));
    }
    const std::string with = entry.has("with") ? entry.string("with") : "hmac";
    if (with == "hmac") {
      if (!entry.has("key") || entry.string("key").empty()) {
        return fail(invalid(entry, "mask with hmac needs key (a secret; use ${VARIABLE})"));
      }
      return std::unique_ptr<Transform>(std::make_unique<Mask>(
          collection, std::move(fields), MaskKind::kHmac, entry.string("key"), 0));
    }
    if (with == "fixed") {
      const std::string value = entry.has("value") ? entry.string("value") : "****";
      return std::unique_ptr<Transform>(
          std::make_unique<Mask>(collection, std::move(fields), MaskKind::kFixed, value, 0));
    }
    const std::int64_t keep = entry.has("keep_last") ? entry.integer("keep_last") : 4;
    return std::unique_ptr<Transform>(std::make_unique<Mask>(
        collection, std::move(fields), MaskKind::kPartial, "", static_cast<std::size_t>(keep)));
  }
  if (type == "normalize") {
    if (fields.empty() || !entry.has("ops")) {
      return fail(invalid(entry, "normalize needs fields and ops"));
    }
    std::vector<NormalizeOp> ops;
    for (const std::string& op : entry.strings("ops")) {
      if (op == "trim") {
        ops.push_back(NormalizeOp::kTrim);
      } else if (op == "lowercase") {
        ops.push_back(NormalizeOp::kLowercase);
      } else if (op == "utc_timestamp") {
        ops.push_back(NormalizeOp::kUtcTimestamp);
      } else {
        return fail(invalid(
            entry, fmt::format("normalize: unknown op {} (trim, lowercase, utc_timestamp)", op)));
      }
    }
    return std::unique_ptr<Transform>(
        std::make_unique<Normalize>(collection, std::move(fields), std::move(ops)));
  }
  return fail(invalid(entry, fmt::format("unknown transform type {}", type)));
}

}  // namespace

std::vector<config::OptionSpec> option_fields() {
  return {
      OptionSpec{.name = "type",
                 .type = OptionType::kString,
                 .description = "What the transform does.",
                 .required = true,
                 .choices = {"rename", "select", "drop", "filter", "mask", "normalize"}},
      OptionSpec{.name = "collection",
                 .type = OptionType::kString,
                 .description = "Only this table (as named at this point); default: every table."},
      OptionSpec{.name = "fields",
                 .type = OptionType::kStringList,
                 .description = "The fields it applies to (select, drop, mask, normalize)."},
      OptionSpec{.name = "rename",
                 .type = OptionType::kAny,
                 .description = "rename: a mapping of old_field: new_field."},
      OptionSpec{.name = "collection_to",
                 .type = OptionType::kString,
                 .description = "rename: the new name of `collection`."},
      OptionSpec{.name = "where",
                 .type = OptionType::kString,
                 .description = "filter: \"<field> <op> <literal>\" (= != < <= > >=) or "
                                "\"<field> is [not] null\"."},
      OptionSpec{.name = "with",
                 .type = OptionType::kString,
                 .description = "mask: how to mask.",
                 .default_value = "hmac",
                 .choices = {"hmac", "fixed", "partial"}},
      OptionSpec{.name = "key",
                 .type = OptionType::kString,
                 .description = "mask with hmac: the secret key.",
                 .secret = true},
      OptionSpec{.name = "value",
                 .type = OptionType::kString,
                 .description = "mask with fixed: the replacement.",
                 .default_value = "'****'"},
      OptionSpec{.name = "keep_last",
                 .type = OptionType::kInt,
                 .description = "mask with partial: characters kept at the end.",
                 .default_value = "4",
                 .min = 0,
                 .max = 1000},
      OptionSpec{.name = "ops",
                 .type = OptionType::kStringList,
                 .description = "normalize: trim, lowercase, utc_timestamp (applied in order)."},
  };
}

Result<Chain> build_chain(const std::vector<config::Options>& entries) {
  std::vector<std::unique_ptr<Transform>> transforms;
  for (const config::Options& entry : entries) {
    Result<std::unique_ptr<Transform>> transform = build_one(entry);
    if (!transform) {
      return fail(transform.error());
    }
    transforms.push_back(std::move(*transform));
  }
  return Chain(std::move(transforms));
}

}  // namespace megasync::transforms
