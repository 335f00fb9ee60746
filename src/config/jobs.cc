#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "config/components.h"
#include "config/fingerprint.h"
#include "config/suggest.h"
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

// Exact, whatever the value: format_duration() may round sub-second values.
std::string as_millis(Duration d) {
  return std::to_string(d.count()) + "ms";
}

std::vector<std::string> keys_of(const std::map<std::string, JobKindSchema>& kinds) {
  std::vector<std::string> out;
  for (const auto& entry : kinds) {
    out.push_back(entry.first);
  }
  return out;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// What the declarations cannot say about `retry`: a numeric multiplier, and a
// ceiling no lower than the first wait.
void check_retry(const Options& job, Context& ctx) {
  const Options retry = job.object("retry");
  const YAML::Node multiplier = retry.node("multiplier");
  if (multiplier.IsDefined() && !ctx.is_poisoned(multiplier)) {
    auto value = multiplier.IsScalar() ? parse_number(multiplier.Scalar()) : std::nullopt;
    if (!value || *value < 1.0) {
      ctx.error(retry.location("multiplier"),
                "expected a number of at least 1 (each wait is the previous one times it), got " +
                    (multiplier.IsScalar() ? quote_value(multiplier.Scalar(), "multiplier")
                                           : std::string(describe_kind(multiplier))));
    }
  }
  if (retry.has("initial_backoff") && retry.has("max_backoff") &&
      retry.duration("max_backoff") < retry.duration("initial_backoff")) {
    ctx.error(retry.location("max_backoff"),
              "'max_backoff' must not be shorter than 'initial_backoff'");
  }
}

BackoffPolicy read_retry(const Options& job) {
  const Options retry = job.object("retry");
  BackoffPolicy policy;
  policy.max_attempts = static_cast<int>(
      std::min<std::int64_t>(retry.integer("max_attempts"), std::numeric_limits<int>::max()));
  policy.initial = retry.duration("initial_backoff");
  policy.max = retry.duration("max_backoff");
  policy.multiplier = parse_number(retry.node("multiplier").Scalar()).value_or(2.0);
  return policy;
}

YAML::Node kind_options(const YAML::Node& body, const JobKindSchema& kind) {
  YAML::Node out(YAML::NodeType::Map);
  for (const OptionSpec& spec : kind.options) {
    const YAML::Node value = get(body, spec.name);
    if (value.IsDefined()) {
      out[spec.name] = value;
    }
  }
  return out;
}

std::vector<std::string> unique_in_order(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (seen.insert(name).second) {
      out.push_back(name);
    }
  }
  return out;
}

}  // namespace

std::vector<OptionSpec> generic_job_options(const JobKindSchema& kind) {
  OptionSpec batch_size =
      option("batch_size", OptionType::kInt,
             kind.default_batch_size > 0 ? std::to_string(kind.default_batch_size) : std::string(),
             "Records per batch.");
  batch_size.min = 1;
  OptionSpec max_attempts =
      option("max_attempts", OptionType::kInt, "5", "Attempts per run, the first included.");
  max_attempts.min = 1;
  OptionSpec retry = option("retry", OptionType::kObject, "{}", "Retry of retryable failures.");
  retry.fields = {
      max_attempts,
      option("initial_backoff", OptionType::kDuration, "1s", "The first wait."),
      option("max_backoff", OptionType::kDuration, "60s", "The longest wait."),
      option("multiplier", OptionType::kAny, "2", "Each wait is the previous one times this."),
  };
  return {
      option("enabled", OptionType::kBool, "true", "Run the job."),
      option("description", OptionType::kString, "", "What the job is for."),
      option("interval", OptionType::kDuration, as_millis(kind.default_interval),
             "Time between the starts of runs; 0 runs only when triggered."),
      option("timeout", OptionType::kDuration, as_millis(kind.default_timeout),
             "The deadline of one run."),
      batch_size,
      retry,
  };
}

std::vector<JobConfig> load_jobs(const YAML::Node& section,
                                 const std::map<std::string, EndpointConfig>& endpoints,
                                 Context& ctx) {
  std::vector<JobConfig> jobs;
  std::set<std::string> seen;
  const std::vector<std::string> known_kinds = keys_of(ctx.schema.job_kinds);
  for (const auto& entry : section) {
    if (!entry.first.IsScalar() || !seen.insert(entry.first.Scalar()).second) {
      continue;  // reported by check_duplicate_keys()
    }
    const std::string& name = entry.first.Scalar();
    const std::string path = join_path("jobs", name);
    if (!valid_name(name)) {
      ctx.error(entry.first, path,
                "invalid job name '" + name + "'; use letters, digits, '_', '-' and '.' only");
    }
    YAML::Node body = entry.second;
    const Location where = body.IsMap() ? ctx.at(body, path) : ctx.at(entry.first, path);
    if (!body.IsMap()) {
      ctx.error(where, "job '" + name + "' must be a mapping with at least 'kind' (one of: " +
                           join(known_kinds) + "), got " + std::string(describe_kind(body)));
      continue;
    }
    const std::size_t before = ctx.failures;
    const YAML::Node kind_node = get(body, "kind");
    const JobKindSchema* kind = nullptr;
    if (!kind_node.IsDefined() || kind_node.IsNull()) {
      ctx.error(where, "missing required key 'kind' in job '" + name +
                           "'; set it to one of: " + join(known_kinds));
    } else if (!kind_node.IsScalar()) {
      ctx.error(kind_node, join_path(path, "kind"),
                "expected the name of a job kind, got " + std::string(describe_kind(kind_node)));
    } else if (!ctx.is_poisoned(kind_node)) {
      auto found = ctx.schema.job_kinds.find(kind_node.Scalar());
      if (found == ctx.schema.job_kinds.end()) {
        ctx.error(kind_node, join_path(path, "kind"),
                  "unknown job kind '" + kind_node.Scalar() + "' for job '" + name + "'" +
                      did_you_mean(kind_node.Scalar(), known_kinds) +
                      "; known kinds: " + join(known_kinds));
      } else {
        kind = &found->second;
      }
    }

    // Without a known kind the generic keys are still checked, unknown keys are not.
    static const JobKindSchema kNoKind;
    const JobKindSchema& kind_schema = kind != nullptr ? *kind : kNoKind;
    std::vector<OptionSpec> specs = generic_job_options(kind_schema);
    std::set<std::string> generic;
    for (const OptionSpec& spec : specs) {
      generic.insert(spec.name);
    }
    for (const OptionSpec& spec : kind_schema.options) {
      if (generic.count(spec.name) == 0) {  // a generic key always keeps its meaning
        specs.push_back(spec);
      }
    }
    Scope scope;
    scope.path = path;
    scope.owner = "job '" + name + "'";
    scope.where = where;
    scope.extra_keys = {"kind"};
    scope.report_unknown = kind != nullptr;
    const auto add_variable = [&scope](const std::string& option, const std::string& variable) {
      if (!variable.empty()) {
        scope.env_defaults[option] = variable;
      }
    };
    add_variable("interval", kind_schema.interval_variable);
    add_variable("timeout", kind_schema.timeout_variable);
    add_variable("batch_size", kind_schema.batch_size_variable);
    std::vector<std::string> references;
    scope.endpoint_refs = &references;
    validate_mapping(body, specs, scope, ctx);
    const Options all(body, where);
    if (ctx.failures == before) {
      check_retry(all, ctx);
    }
    if (ctx.failures != before) {
      continue;
    }

    JobConfig job;
    job.name = name;
    job.kind = kind_node.Scalar();
    job.enabled = all.boolean("enabled");
    job.description = all.has("description") ? all.string("description") : std::string();
    job.interval = all.duration("interval");
    job.timeout = all.duration("timeout");
    job.batch_size = all.has("batch_size") ? all.integer("batch_size") : 0;
    job.retry = read_retry(all);
    job.options = Options(kind_options(body, kind_schema), where);
    job.endpoints = unique_in_order(references);
    job.where = where;
    std::string text = canonical(body);
    for (const std::string& endpoint : job.endpoints) {
      auto found = endpoints.find(endpoint);
      text += ";" + endpoint + "=" + (found != endpoints.end() ? found->second.fingerprint : "");
    }
    job.fingerprint = fingerprint_of(text);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace megasync::config::detail
