#include "config/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "config/components.h"
#include "config/context.h"
#include "config/dotenv.h"
#include "config/sections.h"
#include "config/suggest.h"
#include "config/walk.h"

namespace megasync::config {
namespace {

using detail::Context;

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> names = {"state", "api", "daemon", "endpoints", "jobs"};
  return names;
}

// The section's mapping, or an empty one when it is absent, empty or not a mapping
// (the last is reported).
YAML::Node section(const YAML::Node& root, const std::string& name, Context& ctx) {
  YAML::Node node = detail::get(root, name);
  if (!node.IsDefined() || node.IsNull()) {
    return YAML::Node(YAML::NodeType::Map);
  }
  if (!node.IsMap()) {
    ctx.error(node, name,
              "section '" + name + "' must be a mapping, got " +
                  std::string(detail::describe_kind(node)));
    return YAML::Node(YAML::NodeType::Map);
  }
  return node;
}

void check_top_level(const YAML::Node& root, Context& ctx) {
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      continue;  // reported by check_duplicate_keys()
    }
    const std::string& key = entry.first.Scalar();
    const auto& names = section_names();
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      ctx.error(entry.first, key,
                "unknown top-level key '" + key + "'" + detail::did_you_mean(key, names) +
                    "; the sections are: " + detail::join(names));
    }
  }
}

std::shared_ptr<Config> build(const YAML::Node& root, const std::string& path, Context& ctx) {
  auto config = std::make_shared<Config>();
  std::error_code ec;
  if (path.empty()) {
    // Text without a file (load_from_string): relative paths resolve against the cwd.
    config->base_dir = std::filesystem::current_path(ec).string();
  } else {
    const std::filesystem::path absolute = std::filesystem::absolute(path, ec).lexically_normal();
    config->path = absolute.string();
    config->base_dir = absolute.parent_path().string();
  }

  check_top_level(root, ctx);
  const auto where = [&](const YAML::Node& node, const std::string& name) {
    return node.IsMap() && !node.Mark().is_null() ? ctx.at(node, name)
                                                  : Location{ctx.file, 0, 0, name};
  };
  YAML::Node state = section(root, "state", ctx);
  config->state = detail::load_state(state, where(state, "state"), ctx);
  YAML::Node api = section(root, "api", ctx);
  config->api = detail::load_api(api, where(api, "api"), ctx);
  YAML::Node daemon = section(root, "daemon", ctx);
  config->daemon = detail::load_daemon(daemon, where(daemon, "daemon"), ctx);
  config->endpoints = detail::load_endpoints(section(root, "endpoints", ctx), ctx);
  config->jobs = detail::load_jobs(section(root, "jobs", ctx), config->endpoints, ctx);
  return config;
}

LoadResult finish(std::shared_ptr<Config> config, std::vector<ConfigError> errors,
                  const std::string& path) {
  // Errors of other files (.env) first, then those without a line (the environment,
  // the file as a whole), then in file order.
  const auto rank = [&path](const ConfigError& e) {
    return std::tuple(e.where.file == path ? 1 : 0, e.where.line, e.where.column);
  };
  std::stable_sort(
      errors.begin(), errors.end(),
      [&rank](const ConfigError& a, const ConfigError& b) { return rank(a) < rank(b); });
  LoadResult result;
  if (errors.empty()) {
    result.config = std::move(config);
  }
  result.errors = std::move(errors);
  return result;
}

LoadResult load_text(const std::string& text, const std::string& path, const Schema& schema,
                     const Environment& env, std::vector<ConfigError> early) {
  Context ctx(path, schema, env);
  ctx.errors = std::move(early);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Location where{path, 0, 0, ""};
    if (!e.mark.is_null()) {
      where.line = e.mark.line + 1;
      where.column = e.mark.column + 1;
    }
    ctx.error(where, "invalid YAML: " + e.msg);
    return finish(nullptr, std::move(ctx.errors), path);
  }
  if (!root.IsDefined() || root.IsNull()) {
    ctx.error(Location{path, 0, 0, ""},
              "the configuration is empty; it needs a mapping of sections such as 'endpoints' and "
              "'jobs'");
    return finish(nullptr, std::move(ctx.errors), path);
  }
  if (!root.IsMap()) {
    ctx.error(root, "",
              "the top level must be a mapping of sections (" + detail::join(section_names()) +
                  "), got " + std::string(detail::describe_kind(root)));
    return finish(nullptr, std::move(ctx.errors), path);
  }
  std::shared_ptr<Config> config;
  try {
    detail::check_duplicate_keys(root, "", ctx);
    detail::interpolate_tree(root, "", ctx);
    config = build(root, path, ctx);
  } catch (const std::exception& e) {
    // yaml-cpp throws on misuse; a bug here must still end as a reported error.
    ctx.error(Location{path, 0, 0, ""}, std::string("internal error while loading: ") + e.what());
  }
  return finish(std::move(config), std::move(ctx.errors), path);
}

}  // namespace

LoadResult load(const std::string& path, const Schema& schema) {
  return load_with_env(path, schema, process_environment());
}

LoadResult load_with_env(const std::string& path, const Schema& schema, const Environment& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(
        ConfigError{Location{path, 0, 0, ""},
                    std::string("cannot read the configuration file: ") + std::strerror(errno)});
    return result;
  }
  std::stringstream text;
  text << in.rdbuf();

  std::vector<ConfigError> errors;
  const std::filesystem::path dotenv_path =
      std::filesystem::path(path).parent_path() / std::filesystem::path(".env");
  Environment merged;
  std::error_code ec;
  if (std::filesystem::is_regular_file(dotenv_path, ec)) {
    std::ifstream dotenv(dotenv_path, std::ios::binary);
    std::stringstream dotenv_text;
    dotenv_text << dotenv.rdbuf();
    if (!dotenv) {
      errors.push_back(ConfigError{Location{dotenv_path.string(), 0, 0, ""},
                                   "cannot read the .env file beside the configuration"});
    }
    merged = detail::parse_dotenv_all(dotenv_text.str(), dotenv_path.string(), errors);
  }
  // The environment wins over .env.
  for (const auto& [name, value] : env) {
    merged[name] = value;
  }
  return load_text(text.str(), path, schema, merged, std::move(errors));
}

LoadResult load_from_string(const std::string& text, const std::string& path, const Schema& schema,
                            const Environment& env) {
  return load_text(text, path, schema, env, {});
}

}  // namespace megasync::config
