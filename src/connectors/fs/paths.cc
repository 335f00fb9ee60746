#include "connectors/fs/paths.h"

#include <sys/stat.h>

namespace megasync::connectors::fs {

bool is_internal_name(std::string_view name) {
  return name.starts_with(kTempPrefix) || name.starts_with(kProbePrefix);
}

Status validate_object_path(std::string_view path) {
  if (path.empty()) {
    return make_error(ErrorCode::kPermanent, "empty object path");
  }
  if (path.front() == '/') {
    return make_error(ErrorCode::kPermanent, "object path '{}' is absolute", path);
  }
  if (path.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kPermanent, "object path contains a NUL byte");
  }
  std::size_t start = 0;
  bool first = true;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return make_error(ErrorCode::kPermanent,
                        "object path '{}' has an empty, '.' or '..' component", path);
    }
    if ((first && part == kVersionsDir) || is_internal_name(part)) {
      return make_error(ErrorCode::kPermanent, "object path '{}' uses a name megasync reserves",
                        path);
    }
    first = false;
    start = end + 1;
  }
  return ok();
}

Status check_parents(const std::string& root, std::string_view path) {
  std::string current = root;
  std::size_t start = 0;
  for (std::size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', start)) {
    current += '/';
    current += path.substr(start, slash - start);
    start = slash + 1;
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0) {
      return ok();  // the rest does not exist yet; create_directories makes real ones
    }
    if (S_ISLNK(st.st_mode)) {
      return make_error(ErrorCode::kPermanent,
                        "{} is a symbolic link; megasync does not write through links", current);
    }
  }
  return ok();
}

}  // namespace megasync::connectors::fs
