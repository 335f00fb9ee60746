// Glob patterns for include / exclude: fnmatch(3) with FNM_PATHNAME semantics
// (`*`, `?` and `[...]` never match '/'), plus `**`, which matches across
// directories. Patterns match the whole relative path ("*.log" matches only
// top-level files; "**/*.log" matches at any depth, the top level included).
//
// Thread-safety: pure functions and an immutable filter.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace megasync::sync::objects {

// True when `path` matches `pattern`. `\` escapes the next character.
bool glob_match(std::string_view pattern, std::string_view path);

// Which paths a job syncs: those matching any `include` (all when empty) and
// no `exclude`.
class PathFilter {
 public:
  PathFilter() = default;
  PathFilter(std::vector<std::string> include, std::vector<std::string> exclude)
      : include_(std::move(include)), exclude_(std::move(exclude)) {}

  bool accepts(std::string_view path) const;

 private:
  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
};

}  // namespace megasync::sync::objects
