#include <cctype>
#include <set>

#include "config/walk.h"
#include "core/redact.h"

namespace megasync::config::detail {
namespace {

bool valid_variable_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// Aliases (`*anchor`) share one node; remembering the scalars already expanded
// keeps a value like "$${X}" from being expanded twice.
using Visited = std::set<const std::string*>;

void walk(YAML::Node node, const std::string& path, const std::string& key, Context& ctx,
          Visited& visited) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      if (!visited.insert(&node.Scalar()).second) {
        return;
      }
      if (node.Scalar().find('$') != std::string::npos) {
        Interpolated result = interpolate(node.Scalar(), ctx.env);
        if (!result.errors.empty()) {
          for (std::string& message : result.errors) {
            ctx.error(node, path, std::move(message));
          }
          ctx.poisoned.insert(&node.Scalar());
          return;
        }
        node = result.value;
      }
      if (is_secret_name(key)) {
        register_secret(node.Scalar());
      }
      return;
    }
    case YAML::NodeType::Sequence: {
      std::size_t index = 0;
      for (auto it = node.begin(); it != node.end(); ++it, ++index) {
        walk(*it, path + "[" + std::to_string(index) + "]", key, ctx, visited);
      }
      return;
    }
    case YAML::NodeType::Map: {
      // A repeated key is reported by check_duplicate_keys() and otherwise ignored.
      std::set<std::string> seen;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->first.IsScalar() && seen.insert(it->first.Scalar()).second) {
          walk(it->second, join_path(path, it->first.Scalar()), it->first.Scalar(), ctx, visited);
        }
      }
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return;
  }
}

}  // namespace

Interpolated interpolate(std::string_view text, const Environment& env) {
  Interpolated out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t dollar = text.find('$', pos);
    if (dollar == std::string_view::npos || dollar + 1 == text.size()) {
      out.value.append(text.substr(pos));
      break;
    }
    out.value.append(text.substr(pos, dollar - pos));
    const char next = text[dollar + 1];
    if (next == '$') {
      out.value += '$';
      pos = dollar + 2;
      continue;
    }
    if (next != '{') {
      out.value += '$';
      pos = dollar + 1;
      continue;
    }
    const std::size_t close = text.find('}', dollar + 2);
    if (close == std::string_view::npos) {
      out.errors.push_back(
          "unterminated '${' in the value; close it with '}', or write '$$' for a literal '$'");
      break;
    }
    const std::string_view body = text.substr(dollar + 2, close - dollar - 2);
    const std::size_t separator = body.find(":-");
    const std::string_view name = body.substr(0, separator);
    const bool has_default = separator != std::string_view::npos;
    pos = close + 1;
    if (!valid_variable_name(name)) {
      out.errors.push_back(
          "invalid variable reference '${" + std::string(name.substr(0, 40)) +
          "...}': a name has letters, digits and '_' and does not start with a digit; write "
          "'$$' for a literal '$'");
      continue;
    }
    const auto found = env.find(std::string(name));
    std::string value;
    if (found != env.end() && !(has_default && found->second.empty())) {
      value = found->second;
    } else if (has_default) {
      value = std::string(body.substr(separator + 2));
    } else {
      out.errors.push_back(
          "variable " + std::string(name) +
          " is not set; set it in the environment or in .env beside the config, or write ${" +
          std::string(name) + ":-default}");
      continue;
    }
    if (is_secret_name(name)) {
      register_secret(value);
    }
    out.value += value;
  }
  return out;
}

void interpolate_tree(YAML::Node node, const std::string& path, Context& ctx) {
  Visited visited;
  walk(node, path, "", ctx, visited);
}

}  // namespace megasync::config::detail
