#include "config/fingerprint.h"

#include <fmt/format.h>

#include <map>

namespace megasync::config::detail {
namespace {

void quote(std::string_view text, std::string& out) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

void write(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      quote(node.Scalar(), out);
      return;
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& item : node) {
        out += first ? "" : ",";
        first = false;
        write(item, out);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      std::map<std::string, std::string> sorted;
      for (const auto& entry : node) {
        std::string key;
        write(entry.first, key);
        if (sorted.count(key) == 0) {
          write(entry.second, sorted[key]);
        }
      }
      out += '{';
      bool first = true;
      for (const auto& [key, value] : sorted) {
        out += first ? "" : ",";
        first = false;
        out += key + ":" + value;
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "null";
      return;
  }
}

}  // namespace

std::string canonical(const YAML::Node& node) {
  std::string out;
  write(node, out);
  return out;
}

std::string fingerprint_of(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

}  // namespace megasync::config::detail
