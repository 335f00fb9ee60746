#include <cctype>
#include <set>

#include "config/components.h"
#include "config/fingerprint.h"
#include "config/suggest.h"
#include "config/validate.h"

namespace megasync::config::detail {

bool valid_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

namespace {

std::vector<std::string> keys_of(const std::map<std::string, EndpointTypeSchema>& types) {
  std::vector<std::string> out;
  for (const auto& entry : types) {
    out.push_back(entry.first);
  }
  return out;
}

// The endpoint's own options: its mapping without `type` (values shared, marks kept).
YAML::Node options_without(const YAML::Node& body, const std::string& skipped) {
  YAML::Node out(YAML::NodeType::Map);
  std::set<std::string> seen;
  for (const auto& entry : body) {
    const std::string& key = entry.first.Scalar();
    if (key != skipped && seen.insert(key).second) {
      out[key] = entry.second;
    }
  }
  return out;
}

}  // namespace

std::map<std::string, EndpointConfig> load_endpoints(const YAML::Node& section, Context& ctx) {
  std::map<std::string, EndpointConfig> endpoints;
  for (const auto& entry : section) {
    if (entry.first.IsScalar()) {
      ctx.endpoint_names.insert(entry.first.Scalar());
    }
  }
  const std::vector<std::string> known_types = keys_of(ctx.schema.endpoint_types);
  for (const auto& entry : section) {
    if (!entry.first.IsScalar() || endpoints.count(entry.first.Scalar()) > 0) {
      continue;  // reported by check_duplicate_keys()
    }
    const std::string& name = entry.first.Scalar();
    const std::string path = join_path("endpoints", name);
    if (!valid_name(name)) {
      ctx.error(entry.first, path,
                "invalid endpoint name '" + name + "'; use letters, digits, '_', '-' and '.' only");
    }
    YAML::Node body = entry.second;
    const Location where = body.IsMap() ? ctx.at(body, path) : ctx.at(entry.first, path);
    EndpointConfig endpoint{name, "", Options(), "", where};
    endpoints.emplace(name, endpoint);  // claims the name; replaced below when valid
    if (!body.IsMap()) {
      ctx.error(where, "endpoint '" + name + "' must be a mapping with at least 'type' (one of: " +
                           join(known_types) + "), got " + std::string(describe_kind(body)));
      continue;
    }
    const YAML::Node type = get(body, "type");
    const std::size_t before = ctx.failures;
    Scope scope;
    scope.path = path;
    scope.owner = "endpoint '" + name + "'";
    scope.where = where;
    scope.extra_keys = {"type"};
    const EndpointTypeSchema* schema = nullptr;
    if (!type.IsDefined() || type.IsNull()) {
      ctx.error(where, "missing required key 'type' in endpoint '" + name +
                           "'; set it to one of: " + join(known_types));
    } else if (!type.IsScalar()) {
      ctx.error(type, join_path(path, "type"),
                "expected the name of an endpoint type, got " + std::string(describe_kind(type)));
    } else if (!ctx.is_poisoned(type)) {
      auto found = ctx.schema.endpoint_types.find(type.Scalar());
      if (found == ctx.schema.endpoint_types.end()) {
        ctx.error(type, join_path(path, "type"),
                  "unknown endpoint type '" + type.Scalar() + "' for endpoint '" + name + "'" +
                      did_you_mean(type.Scalar(), known_types) +
                      "; known types: " + join(known_types));
      } else {
        schema = &found->second;
      }
    }
    // Without a known type only the key names cannot be checked; values still are not.
    scope.report_unknown = schema != nullptr;
    static const std::vector<OptionSpec> kNone;
    validate_mapping(body, schema != nullptr ? schema->options : kNone, scope, ctx);
    if (ctx.failures != before) {
      continue;
    }
    endpoint.type = type.Scalar();
    YAML::Node values = options_without(body, "type");
    endpoint.options = Options(values, where);
    endpoint.fingerprint = fingerprint_of("type=" + canonical(type) + ";" + canonical(values));
    endpoints[name] = std::move(endpoint);
  }
  return endpoints;
}

}  // namespace megasync::config::detail
