#include "config/config.h"

#include <filesystem>

#include "config/loader.h"

namespace megasync::config {

const JobConfig* Config::find_job(const std::string& name) const {
  for (const JobConfig& job : jobs) {
    if (job.name == name) {
      return &job;
    }
  }
  return nullptr;
}

std::string Config::resolve_path(const std::string& relative) const {
  const std::filesystem::path p(relative);
  if (p.is_absolute()) {
    return p.lexically_normal().string();
  }
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::string ConfigError::format() const {
  std::string out;
  if (!where.file.empty()) {
    out += where.file;
    if (where.line > 0) {
      out += ":" + std::to_string(where.line);
      if (where.column > 0) {
        out += ":" + std::to_string(where.column);
      }
    }
    out += ": ";
  }
  if (!where.key_path.empty()) {
    out += where.key_path + ": ";
  }
  return out + message;
}

}  // namespace megasync::config
