#include "config/context.h"

#include "core/redact.h"

namespace megasync::config::detail {

Location Context::at(const YAML::Node& node, std::string key_path) const {
  Location where{file, 0, 0, std::move(key_path)};
  if (node.IsDefined()) {
    const YAML::Mark mark = node.Mark();
    if (!mark.is_null()) {
      where.line = mark.line + 1;
      where.column = mark.column + 1;
    }
  }
  return where;
}

void Context::error(Location where, std::string message) {
  // A last line of defence: whatever slipped through quote_value() is masked here.
  ++failures;
  errors.push_back(ConfigError{std::move(where), redact(message)});
}

YAML::Node get(const YAML::Node& map, const std::string& key) {
  if (map.IsMap()) {
    YAML::Node value = map[key];
    if (value.IsDefined()) {
      return value;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) {
    return std::string(key);
  }
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string quote_value(std::string_view value, std::string_view key, bool secret) {
  if (secret || is_secret_name(key) || redact(value) != value) {
    return "the value of '" + std::string(key) + "'";
  }
  constexpr std::size_t kMaxShown = 80;
  if (value.size() > kMaxShown) {
    return "'" + std::string(value.substr(0, kMaxShown)) + "...'";
  }
  return "'" + std::string(value) + "'";
}

std::string_view describe_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

YAML::Node strip_marks(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(node.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const auto& item : node) {
        out.push_back(strip_marks(item));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& entry : node) {
        out[entry.first.Scalar()] = strip_marks(entry.second);
      }
      return out;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return YAML::Node();
}

}  // namespace megasync::config::detail
