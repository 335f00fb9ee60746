#include "sync/objects/glob.h"

namespace megasync::sync::objects {
namespace {

// Matches one bracket expression at the start of `pattern` against `c`.
// Returns the length of the expression consumed, 0 when it is malformed (then
// '[' is taken literally, as fnmatch does).
std::size_t match_class(std::string_view pattern, char c, bool& matched) {
  std::size_t i = 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char low = pattern[i];
    if (low == '\\' && i + 1 < pattern.size()) {
      low = pattern[++i];
    }
    char high = low;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      high = pattern[i + 2];
      if (high == '\\' && i + 3 < pattern.size()) {
        high = pattern[i + 3];
        ++i;
      }
      i += 2;
    }
    if (low <= c && c <= high) {
      hit = true;
    }
    ++i;
  }
  if (i >= pattern.size()) {
    return 0;
  }
  matched = hit != negate;
  return i + 1;
}

bool match_from(std::string_view p, std::string_view s) {
  while (!p.empty()) {
    if (p.starts_with("**")) {
      std::size_t stars = 0;
      while (stars < p.size() && p[stars] == '*') {
        ++stars;
      }
      std::string_view rest = p.substr(stars);
      if (rest.starts_with('/')) {
        // "**/" matches zero or more whole directories.
        rest.remove_prefix(1);
        if (match_from(rest, s)) {
          return true;
        }
        for (std::size_t i = 0; i < s.size(); ++i) {
          if (s[i] == '/' && match_from(rest, s.substr(i + 1))) {
            return true;
          }
        }
        return false;
      }
      for (std::size_t i = 0; i <= s.size(); ++i) {
        if (match_from(rest, s.substr(i))) {
          return true;
        }
      }
      return false;
    }
    const char c = p[0];
    if (c == '*') {
      std::string_view rest = p.substr(1);
      for (std::size_t i = 0; i <= s.size(); ++i) {
        if (match_from(rest, s.substr(i))) {
          return true;
        }
        if (i < s.size() && s[i] == '/') {
          return false;
        }
      }
      return false;
    }
    if (s.empty()) {
      return false;
    }
    if (c == '?') {
      if (s[0] == '/') {
        return false;
      }
      p.remove_prefix(1);
    } else if (c == '[') {
      bool matched = false;
      const std::size_t used = s[0] == '/' ? 0 : match_class(p, s[0], matched);
      if (used == 0) {
        if (s[0] != '[') {
          return false;
        }
        p.remove_prefix(1);
      } else {
        if (!matched) {
          return false;
        }
        p.remove_prefix(used);
      }
    } else {
      char literal = c;
      if (c == '\\' && p.size() > 1) {
        literal = p[1];
        p.remove_prefix(1);
      }
      if (s[0] != literal) {
        return false;
      }
      p.remove_prefix(1);
    }
    s.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return match_from(pattern, path);
}

bool PathFilter::accepts(std::string_view path) const {
  bool included = include_.empty();
  for (const std::string& pattern : include_) {
    if (glob_match(pattern, path)) {
      included = true;
      break;
    }
  }
  if (!included) {
    return false;
  }
  for (const std::string& pattern : exclude_) {
    if (glob_match(pattern, path)) {
      return false;
    }
  }
  return true;
}

}  // namespace megasync::sync::objects
