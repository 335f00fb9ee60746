#include <map>

#include "config/walk.h"

namespace megasync::config::detail {

void check_duplicate_keys(const YAML::Node& node, const std::string& path, Context& ctx) {
  if (node.IsSequence()) {
    std::size_t index = 0;
    for (const auto& item : node) {
      check_duplicate_keys(item, path + "[" + std::to_string(index++) + "]", ctx);
    }
    return;
  }
  if (!node.IsMap()) {
    return;
  }
  std::map<std::string, int> first_line;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      ctx.error(entry.first, path,
                "a key must be a plain name, not " + std::string(describe_kind(entry.first)));
      continue;
    }
    const std::string& key = entry.first.Scalar();
    const Location where = ctx.at(entry.first, join_path(path, key));
    auto [it, inserted] = first_line.emplace(key, where.line);
    if (!inserted) {
      ctx.error(where, "duplicate key '" + key + "' (first at line " + std::to_string(it->second) +
                           "); remove one of them");
      continue;  // the copy is ignored everywhere else, so do not descend into it
    }
    check_duplicate_keys(entry.second, join_path(path, key), ctx);
  }
}

}  // namespace megasync::config::detail
