#include "sync/objects/plan.h"

#include <charconv>
#include <chrono>

namespace megasync::sync::objects {
namespace {

std::int64_t millis(WallTime t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

bool same_object(const ObjectInfo& source, const ObjectInfo& target, bool checksum) {
  if (source.size != target.size) {
    return false;
  }
  if (checksum) {
    return !source.sha256.empty() && source.sha256 == target.sha256;
  }
  // Millisecond precision: what every store we write to keeps (object stores
  // round to seconds or ms; ext4 keeps ns but an S3 copy would not).
  return millis(source.mtime) == millis(target.mtime);
}

std::vector<std::string> paths_needing_digest(const ObjectMap& source, const ObjectMap& target,
                                              const PlanOptions& options) {
  std::vector<std::string> paths;
  if (!options.checksum) {
    return paths;
  }
  for (const auto& [path, info] : source) {
    auto it = target.find(path);
    if (it != target.end() && it->second.size == info.size && options.filter.accepts(path)) {
      paths.push_back(path);
    }
  }
  return paths;
}

Differences compare(const ObjectMap& source, const ObjectMap& target, const PlanOptions& options) {
  Differences out;
  for (const auto& [path, info] : source) {
    if (!options.filter.accepts(path)) {
      continue;
    }
    auto it = target.find(path);
    if (it == target.end()) {
      out.missing.push_back(path);
    } else if (!same_object(info, it->second, options.checksum)) {
      out.differ.push_back(path);
    } else {
      ++out.unchanged;
    }
  }
  for (const auto& [path, info] : target) {
    if (!options.filter.accepts(path)) {
      continue;
    }
    ++out.target_count;
    if (!source.contains(path)) {
      out.extra.push_back(path);
    }
  }
  return out;
}

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCopy:
      return "copy";
    case ActionKind::kReplace:
      return "replace";
    case ActionKind::kDelete:
      return "delete";
  }
  return "?";
}

Plan build_plan(const ObjectMap& source, const ObjectMap& target, const PlanOptions& options) {
  const Differences diff = compare(source, target, options);
  Plan plan;
  plan.target_count = diff.target_count;
  plan.unchanged = diff.unchanged;
  for (const std::string& path : diff.missing) {
    const ObjectInfo& info = source.at(path);
    plan.actions.push_back({ActionKind::kCopy, path, info});
    ++plan.copies;
    plan.bytes += info.size;
  }
  for (const std::string& path : diff.differ) {
    const ObjectInfo& info = source.at(path);
    plan.actions.push_back({ActionKind::kReplace, path, info});
    ++plan.replacements;
    plan.bytes += info.size;
  }
  if (options.delete_extra) {
    for (const std::string& path : diff.extra) {
      plan.actions.push_back({ActionKind::kDelete, path, {}});
      ++plan.deletions;
    }
  }
  return plan;
}

Status check_delete_limit(const Plan& plan, const PlanOptions& options) {
  if (options.force || plan.deletions == 0) {
    return ok();
  }
  // deletions / target_count > percent / 100, in integers.
  if (plan.deletions * 100 >
      static_cast<std::int64_t>(options.max_delete_percent) * plan.target_count) {
    return make_error(ErrorCode::kPermanent,
                      "refusing to delete {} of the target's {} objects (max_delete is {}%); "
                      "check the source is complete, then raise max_delete or set force: true",
                      plan.deletions, plan.target_count, options.max_delete_percent);
  }
  return ok();
}

Result<int> parse_percentage(const std::string& text) {
  std::string_view digits = text;
  if (digits.ends_with('%')) {
    digits.remove_suffix(1);
  }
  int value = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value < 0 || value > 100) {
    return make_error(ErrorCode::kInvalidConfig,
                      "expected a percentage from 0% to 100% such as 50%, got '{}'", text);
  }
  return value;
}

nlohmann::json summarize(const Plan& plan) {
  return {{"copies", plan.copies},
          {"replacements", plan.replacements},
          {"deletions", plan.deletions},
          {"bytes", plan.bytes},
          {"unchanged", plan.unchanged}};
}

}  // namespace megasync::sync::objects
