#include "config/sections.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "config/validate.h"

namespace megasync::config::detail {
namespace {

OptionSpec option(std::string name, OptionType type, std::string default_value,
                  std::string description) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.description = std::move(description);
  return spec;
}

OptionSpec with_choices(OptionSpec spec, std::vector<std::string> choices) {
  spec.choices = std::move(choices);
  return spec;
}

OptionSpec required(OptionSpec spec) {
  spec.required = true;
  return spec;
}

Scope section_scope(const std::string& name, const Location& where) {
  Scope scope;
  scope.path = name;
  scope.owner = "section '" + name + "'";
  scope.where = where;
  return scope;
}

bool is_hex(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isxdigit(c) != 0; });
}

Role parse_role(const std::string& text) {
  if (text == "admin") {
    return Role::kAdmin;
  }
  return text == "operator" ? Role::kOperator : Role::kViewer;
}

bool usable(const YAML::Node& node, const Context& ctx) {
  return node.IsScalar() && ctx.poisoned.count(&node.Scalar()) == 0;
}

// Checks names and hashes beyond what the declarations express, and lowercases
// each hash in place. Reads raw nodes: it also runs when other values are invalid.
std::vector<ApiToken> load_tokens(const YAML::Node& list, Context& ctx) {
  std::vector<ApiToken> tokens;
  if (!list.IsSequence()) {
    return tokens;
  }
  std::set<std::string> names;
  std::size_t index = 0;
  for (const auto& item : list) {
    const std::string path = "api.tokens[" + std::to_string(index++) + "]";
    if (!item.IsMap()) {
      continue;  // reported by validation
    }
    const Options token(item, ctx.at(item, path));
    ApiToken out;
    if (usable(token.node("name"), ctx)) {
      out.name = token.string("name");
      if (!names.insert(out.name).second) {
        ctx.error(token.location("name"),
                  "token name '" + out.name + "' is used twice; give each token its own name");
      }
    }
    if (usable(token.node("role"), ctx)) {
      out.role = parse_role(token.string("role"));
    }
    YAML::Node hash = token.node("sha256");
    if (!usable(hash, ctx)) {
      tokens.push_back(std::move(out));
      continue;
    }
    std::string text = hash.Scalar();
    // The value is not quoted: a user may have pasted the token itself here.
    if (text.size() != 64 || !is_hex(text)) {
      ctx.error(token.location("sha256"),
                "expected the SHA-256 of the token as 64 hexadecimal characters (e.g. from "
                "`printf %s TOKEN | sha256sum`), got " +
                    std::to_string(text.size()) + " characters" +
                    (is_hex(text) ? "" : " that are not all hexadecimal"));
    }
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    hash = text;
    out.sha256 = text;
    tokens.push_back(std::move(out));
  }
  return tokens;
}

}  // namespace

const std::vector<OptionSpec>& state_options() {
  static const std::vector<OptionSpec> specs = {
      with_choices(option("driver", OptionType::kString, "sqlite", "The state store."), {"sqlite"}),
      option("path", OptionType::kString, "megasync.db",
             "The database file; relative to the configuration file."),
      option("events_retention", OptionType::kDuration, "7d", "How long events are kept."),
      [] {
        OptionSpec spec = option("events_max", OptionType::kInt, "100000",
                                 "The most events kept; older ones are deleted first.");
        spec.min = 1;
        return spec;
      }(),
      option("runs_retention", OptionType::kDuration, "30d", "How long run history is kept."),
  };
  return specs;
}

const std::vector<OptionSpec>& api_options() {
  static const std::vector<OptionSpec> specs = {
      option("enabled", OptionType::kBool, "true", "Serve the HTTP API."),
      option("listen", OptionType::kString, "127.0.0.1:7171",
             "host:port to listen on; port 0 picks a free port."),
      option("protect_metrics", OptionType::kBool, "false", "Require a viewer token for /metrics."),
      [] {
        OptionSpec spec = option("tokens", OptionType::kObjectList, "", "Bearer tokens.");
        spec.fields = {
            required(option("name", OptionType::kString, "", "Who, for the audit log.")),
            required(option("sha256", OptionType::kString, "",
                            "Hex SHA-256 of the bearer token (not the token itself).")),
            with_choices(option("role", OptionType::kString, "viewer", "What the token may do."),
                         {"viewer", "operator", "admin"}),
        };
        return spec;
      }(),
  };
  return specs;
}

const std::vector<OptionSpec>& daemon_options() {
  static const std::vector<OptionSpec> specs = {
      option("grace_period", OptionType::kDuration, "30s",
             "How long running jobs may take to stop on shutdown."),
      option("monitoring_interval", OptionType::kDuration, "10s",
             "How often endpoints are probed (env MONITORING_INTERVAL)."),
      option("probe_timeout", OptionType::kDuration, "5s", "The deadline of one probe."),
      with_choices(option("log_level", OptionType::kString, "info", "Log level (env LOG_LEVEL)."),
                   {"trace", "debug", "info", "warn", "error", "critical", "off"}),
      with_choices(option("log_format", OptionType::kString, "text", "Log line format."),
                   {"text", "json"}),
  };
  return specs;
}

std::string check_listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return "expected host:port such as 127.0.0.1:7171, but there is no port";
  }
  const std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.empty()) {
    return "the host is missing; write 0.0.0.0:" + port + " to listen on every interface";
  }
  if (host.find(':') != std::string::npos && (host.front() != '[' || host.back() != ']')) {
    return "an IPv6 host goes in brackets, as in [::1]:7171";
  }
  auto number = parse_int(port);
  if (port.empty() ||
      !std::all_of(port.begin(), port.end(),
                   [](unsigned char c) { return std::isdigit(c) != 0; }) ||
      !number || *number > 65535) {
    return "the port must be a number from 0 to 65535";
  }
  return "";
}

StateConfig load_state(YAML::Node section, const Location& where, Context& ctx) {
  const std::size_t before = ctx.failures;
  Options values(validate_mapping(section, state_options(), section_scope("state", where), ctx),
                 where);
  StateConfig out;
  if (ctx.failures != before) {
    return out;
  }
  out.driver = values.string("driver");
  out.path = values.string("path");
  out.events_retention = values.duration("events_retention");
  out.events_max = values.integer("events_max");
  out.runs_retention = values.duration("runs_retention");
  return out;
}

ApiConfig load_api(YAML::Node section, const Location& where, Context& ctx) {
  const std::size_t before = ctx.failures;
  Options values(validate_mapping(section, api_options(), section_scope("api", where), ctx), where);
  ApiConfig out;
  const YAML::Node listen = values.node("listen");
  if (usable(listen, ctx)) {
    if (std::string problem = check_listen(listen.Scalar()); !problem.empty()) {
      ctx.error(
          values.location("listen"),
          "invalid listen address " + quote_value(listen.Scalar(), "listen") + ": " + problem);
    }
  }
  std::vector<ApiToken> tokens = load_tokens(values.node("tokens"), ctx);
  if (ctx.failures != before) {
    return out;
  }
  out.enabled = values.boolean("enabled");
  out.listen = listen.Scalar();
  out.protect_metrics = values.boolean("protect_metrics");
  out.tokens = std::move(tokens);
  return out;
}

DaemonConfig load_daemon(YAML::Node section, const Location& where, Context& ctx) {
  Scope scope = section_scope("daemon", where);
  scope.env_defaults = {{"monitoring_interval", "MONITORING_INTERVAL"}, {"log_level", "LOG_LEVEL"}};
  const std::size_t before = ctx.failures;
  Options values(validate_mapping(section, daemon_options(), scope, ctx), where);
  DaemonConfig out;
  if (ctx.failures != before) {
    return out;
  }
  out.grace_period = values.duration("grace_period");
  out.monitoring_interval = values.duration("monitoring_interval");
  out.probe_timeout = values.duration("probe_timeout");
  out.log_level = values.string("log_level");
  out.log_format = values.string("log_format");
  return out;
}

}  // namespace megasync::config::detail
