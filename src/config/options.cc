#include "config/options.h"

#include <cassert>

#include "config/context.h"
#include "config/validate.h"

namespace megasync::config {
namespace {

YAML::Node lookup(const YAML::Node& map, const std::string& name) {
  return detail::get(map, name);
}

}  // namespace

bool Options::has(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  return value.IsDefined() && !value.IsNull();
}

std::string Options::string(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  assert(value.IsScalar() && "Options::string: option unset or not a string");
  return value.IsScalar() ? value.Scalar() : std::string();
}

std::int64_t Options::integer(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  assert(value.IsScalar() && "Options::integer: option unset or not a scalar");
  auto number = value.IsScalar() ? detail::parse_int(value.Scalar()) : std::nullopt;
  assert(number && "Options::integer: not an integer");
  return number.value_or(0);
}

bool Options::boolean(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  bool flag = false;
  [[maybe_unused]] const bool ok = value.IsScalar() && YAML::convert<bool>::decode(value, flag);
  assert(ok && "Options::boolean: option unset or not a boolean");
  return flag;
}

Duration Options::duration(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  auto parsed = value.IsScalar() ? parse_duration(value.Scalar()) : std::nullopt;
  assert(parsed && "Options::duration: option unset or not a duration");
  return parsed.value_or(Duration(0));
}

std::uint64_t Options::bytes(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  auto parsed = value.IsScalar() ? parse_bytes(value.Scalar()) : std::nullopt;
  assert(parsed && "Options::bytes: option unset or not a size");
  return parsed.value_or(0);
}

std::vector<std::string> Options::strings(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  std::vector<std::string> out;
  if (value.IsScalar()) {
    out.push_back(value.Scalar());  // one string is a list of one
  } else if (value.IsSequence()) {
    for (const auto& item : value) {
      assert(item.IsScalar() && "Options::strings: not a list of strings");
      if (item.IsScalar()) {
        out.push_back(item.Scalar());
      }
    }
  } else {
    assert(!value.IsDefined() || value.IsNull() || !"Options::strings: not a list");
  }
  return out;
}

Options Options::object(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  assert((!value.IsDefined() || value.IsNull() || value.IsMap()) &&
         "Options::object: not a mapping");
  Location where = location(name);
  return Options(value.IsMap() ? value : YAML::Node(YAML::NodeType::Map), std::move(where));
}

std::vector<Options> Options::objects(const std::string& name) const {
  const YAML::Node value = lookup(values_, name);
  std::vector<Options> out;
  if (!value.IsSequence()) {
    assert((!value.IsDefined() || value.IsNull()) && "Options::objects: not a list");
    return out;
  }
  const Location base = location(name);
  std::size_t index = 0;
  for (const auto& item : value) {
    Location where = base;
    where.key_path += "[" + std::to_string(index++) + "]";
    if (!item.Mark().is_null()) {
      where.line = item.Mark().line + 1;
      where.column = item.Mark().column + 1;
    }
    out.emplace_back(item, std::move(where));
  }
  return out;
}

YAML::Node Options::node(const std::string& name) const {
  return lookup(values_, name);
}

Location Options::location(const std::string& name) const {
  if (name.empty()) {
    return where_;
  }
  Location where = where_;
  where.key_path = detail::join_path(where_.key_path, name);
  const YAML::Node value = lookup(values_, name);
  // Defaults carry no mark: they are reported at the enclosing mapping.
  if (value.IsDefined() && !value.Mark().is_null()) {
    where.line = value.Mark().line + 1;
    where.column = value.Mark().column + 1;
  }
  return where;
}

}  // namespace megasync::config
