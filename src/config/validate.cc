#include "config/validate.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "config/suggest.h"
#include "core/redact.h"

namespace megasync::config::detail {
namespace {

// Reports problems with one value. `where` is the value's location; `prefix`
// names the source when it is not the file ("environment variable X: ").
struct Reporter {
  Context& ctx;
  Location where;
  std::string prefix;

  void operator()(std::string message) const { ctx.error(where, prefix + message); }
};

void register_all(const YAML::Node& node) {
  if (node.IsScalar()) {
    register_secret(node.Scalar());
  } else if (node.IsSequence() || node.IsMap()) {
    for (const auto& item : node) {
      register_all(node.IsMap() ? item.second : item);
    }
  }
}

std::string item_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

bool check_scalar(const YAML::Node& value, const OptionSpec& spec, const std::string& path,
                  const Scope& scope, Context& ctx, const Reporter& report);

// Checks one endpoint name and records the reference.
bool check_endpoint(const std::string& name, const OptionSpec& spec, const Scope& scope,
                    Context& ctx, const Reporter& report) {
  if (ctx.endpoint_names.count(name) == 0) {
    const std::vector<std::string> known(ctx.endpoint_names.begin(), ctx.endpoint_names.end());
    report("'" + spec.name + "' must name an endpoint declared under 'endpoints', got " +
           quote_value(name, spec.name, spec.secret) + did_you_mean(name, known));
    return false;
  }
  if (scope.endpoint_refs != nullptr) {
    scope.endpoint_refs->push_back(name);
  }
  return true;
}

bool check_value(YAML::Node value, const OptionSpec& spec, const std::string& path,
                 const Scope& scope, Context& ctx, const Reporter& report) {
  if (spec.secret) {
    register_all(value);
  }
  switch (spec.type) {
    case OptionType::kAny:
      return true;
    case OptionType::kStringList:
    case OptionType::kEndpointList: {
      if (value.IsScalar()) {
        return check_scalar(value, spec, path, scope, ctx, report);
      }
      if (!value.IsSequence()) {
        report("expected a list, got " + std::string(describe_kind(value)));
        return false;
      }
      bool ok = true;
      std::size_t index = 0;
      for (auto it = value.begin(); it != value.end(); ++it, ++index) {
        const YAML::Node item = *it;
        const Reporter item_report{ctx, ctx.at(item, item_path(path, index)), report.prefix};
        if (!item.IsScalar()) {
          item_report("expected a list of names, but this item is " +
                      std::string(describe_kind(item)));
          ok = false;
          continue;
        }
        ok = check_scalar(item, spec, item_path(path, index), scope, ctx, item_report) && ok;
      }
      return ok;
    }
    case OptionType::kObject: {
      if (!value.IsMap()) {
        report("expected a mapping of keys (" + spec.name + ".<key>: value), got " +
               std::string(describe_kind(value)));
        return false;
      }
      const std::size_t before = ctx.failures;
      Scope inner{path, "'" + path + "'", report.where, {}, {}, true, scope.endpoint_refs};
      validate_mapping(value, spec.fields, inner, ctx);
      return ctx.failures == before;
    }
    case OptionType::kObjectList: {
      if (!value.IsSequence()) {
        report("expected a list of mappings, got " + std::string(describe_kind(value)));
        return false;
      }
      const std::size_t before = ctx.failures;
      std::size_t index = 0;
      for (auto it = value.begin(); it != value.end(); ++it, ++index) {
        YAML::Node item = *it;
        const std::string p = item_path(path, index);
        if (!item.IsMap()) {
          ctx.error(item, p, "expected a mapping, got " + std::string(describe_kind(item)));
          continue;
        }
        Scope inner{p, "'" + p + "'", ctx.at(item, p), {}, {}, true, scope.endpoint_refs};
        validate_mapping(item, spec.fields, inner, ctx);
      }
      return ctx.failures == before;
    }
    default:
      if (!value.IsScalar()) {
        report("expected a single value, got " + std::string(describe_kind(value)));
        return false;
      }
      return check_scalar(value, spec, path, scope, ctx, report);
  }
}

bool check_scalar(const YAML::Node& value, const OptionSpec& spec, const std::string& /*path*/,
                  const Scope& scope, Context& ctx, const Reporter& report) {
  if (ctx.is_poisoned(value)) {
    return false;  // its interpolation error was reported already
  }
  const std::string& text = value.Scalar();
  const std::string shown = quote_value(text, spec.name, spec.secret);
  switch (spec.type) {
    case OptionType::kString:
    case OptionType::kStringList:
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        report("'" + spec.name + "' must be one of: " + join(spec.choices) + "; got " + shown +
               did_you_mean(text, spec.choices));
        return false;
      }
      return true;
    case OptionType::kInt: {
      auto number = parse_int(text);
      if (!number) {
        report("expected a whole number, got " + shown);
        return false;
      }
      if (*number < spec.min) {
        report("'" + spec.name + "' must be at least " + std::to_string(spec.min) + ", got " +
               shown);
        return false;
      }
      if (*number > spec.max) {
        report("'" + spec.name + "' must be at most " + std::to_string(spec.max) + ", got " +
               shown);
        return false;
      }
      return true;
    }
    case OptionType::kBool: {
      bool flag = false;
      if (!YAML::convert<bool>::decode(value, flag)) {
        report("expected true or false, got " + shown);
        return false;
      }
      return true;
    }
    case OptionType::kDuration:
      if (!parse_duration(text)) {
        report("expected a duration such as 30s, 5m or 1h, got " + shown);
        return false;
      }
      return true;
    case OptionType::kBytes:
      if (!parse_bytes(text)) {
        report("expected a size such as 64MiB, 16MB or 1024, got " + shown);
        return false;
      }
      return true;
    case OptionType::kEndpoint:
    case OptionType::kEndpointList:
      return check_endpoint(text, spec, scope, ctx, report);
    case OptionType::kObject:
    case OptionType::kObjectList:
    case OptionType::kAny:
      break;
  }
  return true;
}

// The default of `spec` as a node without marks, or an undefined node when none.
YAML::Node default_node(const OptionSpec& spec, const Scope& scope, Context& ctx, bool& failed) {
  auto variable = scope.env_defaults.find(spec.name);
  if (variable != scope.env_defaults.end()) {
    auto value = ctx.env.find(variable->second);
    // An empty variable counts as unset, as `${VAR:-default}` does.
    if (value != ctx.env.end() && !value->second.empty()) {
      std::string text = value->second;
      if (!spec.choices.empty()) {
        // Variables such as LOG_LEVEL=INFO are often shared with other tools that
        // write them in upper case; choices are matched without regard to case.
        std::transform(text.begin(), text.end(), text.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      }
      auto node =
          validate_env_value(variable->second, text, spec, join_path(scope.path, spec.name), ctx);
      if (!node) {
        failed = true;
        return YAML::Node(YAML::NodeType::Undefined);
      }
      return *node;
    }
  }
  if (spec.default_value.empty()) {
    return YAML::Node(YAML::NodeType::Undefined);
  }
  try {
    return strip_marks(YAML::Load(spec.default_value));
  } catch (const YAML::Exception& e) {
    // A bug in a declaration, but reported rather than crashing the daemon.
    ctx.error(scope.where,
              "the declared default of '" + spec.name + "' is not valid YAML: " + e.msg);
    failed = true;
    return YAML::Node(YAML::NodeType::Undefined);
  }
}

}  // namespace

std::optional<std::int64_t> parse_int(const std::string& text) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') {
    ++begin;
  }
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || begin == end) {
    return std::nullopt;
  }
  return value;
}

std::optional<YAML::Node> validate_env_value(const std::string& variable, const std::string& text,
                                             const OptionSpec& spec, const std::string& path,
                                             Context& ctx) {
  YAML::Node node(text);
  if (is_secret_name(variable)) {
    register_secret(text);
  }
  if (ctx.bad_variables.count(variable) > 0) {
    ++ctx.failures;
    return std::nullopt;
  }
  Scope scope;
  scope.path = path;
  scope.owner = "environment variable " + variable;
  scope.where = Location{ctx.file, 0, 0, path};
  const Reporter report{ctx, scope.where, "environment variable " + variable + ": "};
  if (!check_value(node, spec, path, scope, ctx, report)) {
    ctx.bad_variables.insert(variable);
    return std::nullopt;
  }
  return node;
}

YAML::Node validate_mapping(YAML::Node input, const std::vector<OptionSpec>& specs,
                            const Scope& scope, Context& ctx) {
  // Copying a Node shares it; assigning would overwrite the caller's node instead.
  YAML::Node map = input.IsMap() ? input : YAML::Node(YAML::NodeType::Map);
  std::vector<std::string> known;
  for (const OptionSpec& spec : specs) {
    known.push_back(spec.name);
  }
  known.insert(known.end(), scope.extra_keys.begin(), scope.extra_keys.end());

  if (scope.report_unknown) {
    for (const auto& entry : map) {
      if (!entry.first.IsScalar()) {
        continue;  // reported by check_duplicate_keys()
      }
      const std::string& key = entry.first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string hint = did_you_mean(key, known);
        if (hint.empty()) {
          hint = known.empty() ? "; remove it" : "; known keys: " + join(known);
        }
        ctx.error(entry.first, join_path(scope.path, key),
                  "unknown key '" + key + "' in " + scope.owner + hint);
      }
    }
  }

  for (const OptionSpec& spec : specs) {
    const std::string path = join_path(scope.path, spec.name);
    YAML::Node value = get(map, spec.name);
    if (value.IsDefined() && !value.IsNull()) {
      check_value(value, spec, path, scope, ctx, Reporter{ctx, ctx.at(value, path), ""});
      continue;
    }
    // A key written without a value (`key:`) counts as absent, except for kAny
    // where the component decides what null means.
    if (value.IsDefined() && spec.type == OptionType::kAny) {
      continue;
    }
    const Location null_where = value.IsDefined() ? ctx.at(value, path) : Location{};
    if (value.IsDefined()) {
      map.remove(spec.name);
    }
    bool failed = false;
    YAML::Node fallback = default_node(spec, scope, ctx, failed);
    if (failed) {
      continue;
    }
    if (!fallback.IsDefined()) {
      if (spec.required) {
        if (null_where.line > 0) {
          ctx.error(null_where,
                    "'" + spec.name + "' in " + scope.owner + " is required but has no value");
        } else {
          ctx.error(scope.where, "missing required key '" + spec.name + "' in " + scope.owner);
        }
      }
      continue;
    }
    // Defaults of nested objects are themselves completed and checked.
    check_value(fallback, spec, path, scope, ctx, Reporter{ctx, scope.where, ""});
    map[spec.name] = fallback;
  }
  return map;
}

}  // namespace megasync::config::detail
