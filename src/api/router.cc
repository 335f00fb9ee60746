#include "api/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <tl/expected.hpp>

#include "api/auth.h"
#include "api/listen_address.h"
#include "api/responses.h"
#include "api/routes.h"
#include "core/redact.h"

namespace megasync::api {
namespace {

constexpr int kDefaultRunsLimit = 50;
constexpr int kDefaultEventsLimit = 100;
constexpr int kMaxLimit = 1000;

struct Caller {
  std::string actor;  // token name, or "anonymous" when no tokens are configured
  config::Role role = config::Role::kViewer;
};

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// The `limit` query parameter: `fallback` when absent, nullopt when not an
// integer in 1..kMaxLimit.
std::optional<int> parse_limit(const Request& request, int fallback) {
  const auto it = request.query.find("limit");
  if (it == request.query.end()) {
    return fallback;
  }
  const auto value = parse_int(it->second);
  if (!value || *value < 1 || *value > kMaxLimit) {
    return std::nullopt;
  }
  return static_cast<int>(*value);
}

Response limit_error() {
  return error_response(400, fmt::format("limit must be an integer from 1 to {}", kMaxLimit));
}

Response unauthorized(std::string_view reason) {
  Response response = error_response(401, reason);
  response.headers["WWW-Authenticate"] = "Bearer realm=\"megasync\"";
  return response;
}

// One request against one snapshot of the API configuration.
class Dispatcher {
 public:
  Dispatcher(Backend& backend, monitor::MetricsRegistry& metrics, state::StateStore& store,
             const config::ApiConfig& api)
      : backend_(backend), metrics_(metrics), store_(store), api_(api) {}

  Response handle(const Request& request) {
    const std::optional<RouteMatch> route = match_route(request.path);
    if (!route) {
      return error_response(404, "not found: " + request.path);
    }
    if (!method_allowed(route->id, request.method)) {
      Response response = error_response(
          405, fmt::format("method {} is not allowed on {}", request.method, request.path));
      response.headers["Allow"] = std::string(allow_header(route->id));
      return response;
    }
    Access access = route_access(route->id);
    if (access == Access::kMetrics) {
      access = api_.protect_metrics ? Access::kViewer : Access::kOpen;
    }
    if (access == Access::kOpen) {
      return serve(*route, request, Caller{"anonymous", config::Role::kViewer});
    }
    const bool audited = route->id == RouteId::kTrigger;
    auto caller = authenticate(request);
    if (!caller) {
      if (audited) {
        audit_denial(request, route->job, "unauthenticated", caller.error());
      }
      return unauthorized(caller.error());
    }
    const config::Role need =
        access == Access::kOperator ? config::Role::kOperator : config::Role::kViewer;
    if (!role_allows(caller->role, need)) {
      const std::string reason =
          fmt::format("token \"{}\" has role {}; this needs {}", caller->actor,
                      role_name(caller->role), role_name(need));
      if (audited) {
        audit_denial(request, route->job, caller->actor, reason);
      }
      return error_response(403, reason);
    }
    return serve(*route, request, *caller);
  }

 private:
  // The caller, or why it is not authenticated (the 401's message).
  tl::expected<Caller, std::string> authenticate(const Request& request) const {
    if (api_.tokens.empty()) {
      // Without tokens the API trusts whoever can reach it, which is only
      // acceptable when only local processes can (see README).
      if (is_loopback_listen(api_.listen)) {
        return Caller{"anonymous", config::Role::kAdmin};
      }
      return tl::unexpected<std::string>(
          "no API tokens are configured and api.listen is not a loopback address; "
          "configure api.tokens");
    }
    const auto header = request.headers.find("authorization");
    if (header == request.headers.end()) {
      return tl::unexpected<std::string>("missing bearer token");
    }
    const std::optional<std::string> bearer = parse_bearer(header->second);
    if (!bearer) {
      return tl::unexpected<std::string>(
          "malformed Authorization header; expected \"Bearer <token>\"");
    }
    const config::ApiToken* token = find_token(api_.tokens, *bearer);
    if (token == nullptr) {
      return tl::unexpected<std::string>("unknown token");
    }
    return Caller{token->name, token->role};
  }

  Response serve(const RouteMatch& route, const Request& request, const Caller& caller) {
    switch (route.id) {
      case RouteId::kLivez:
        return backend_.live() ? text_response(200, "ok\n")
                               : text_response(500, "livez check failed\n");
      case RouteId::kReadyz:
        return readyz(request);
      case RouteId::kMetrics:
        return text_response(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
      case RouteId::kStatus:
        return json_response(200, backend_.status());
      case RouteId::kJobs:
        return json_response(200, backend_.jobs());
      case RouteId::kJob: {
        const std::optional<nlohmann::json> job = backend_.job(route.job);
        return job ? json_response(200, *job) : error_response(404, "no job named " + route.job);
      }
      case RouteId::kRuns:
        return runs(request, route.job);
      case RouteId::kEvents:
        return events(request);
      case RouteId::kTrigger:
        return trigger(request, route.job, caller);
    }
    return error_response(404, "not found: " + request.path);
  }

  // kube-apiserver style: "ok" when ready; the list of checks when asked for
  // (?verbose) and always when not ready, since a human reads that case.
  Response readyz(const Request& request) {
    const std::vector<ReadyCheck> checks = backend_.ready();
    const bool ok =
        std::all_of(checks.begin(), checks.end(), [](const ReadyCheck& c) { return c.ok; });
    if (ok && request.query.count("verbose") == 0) {
      return text_response(200, "ok\n");
    }
    std::string body;
    for (const ReadyCheck& check : checks) {
      if (check.ok) {
        body += "[+]" + check.name + " ok\n";
        continue;
      }
      std::string detail = check.detail.empty() ? "unknown" : check.detail;
      std::replace(detail.begin(), detail.end(), '\n', ' ');  // one line per check
      body += "[-]" + check.name + " failed: " + detail + "\n";
    }
    body += ok ? "readyz check passed\n" : "readyz check failed\n";
    return text_response(ok ? 200 : 503, redact(body));
  }

  Response runs(const Request& request, const std::string& job) {
    const std::optional<int> limit = parse_limit(request, kDefaultRunsLimit);
    if (!limit) {
      return limit_error();
    }
    const Result<nlohmann::json> result = backend_.runs(job, *limit);
    if (!result) {
      return error_response(read_error_status(result.error()), result.error().message());
    }
    return json_response(200, *result);
  }

  Response events(const Request& request) {
    state::EventQuery query;
    const std::optional<int> limit = parse_limit(request, kDefaultEventsLimit);
    if (!limit) {
      return limit_error();
    }
    query.limit = *limit;
    if (const auto it = request.query.find("after"); it != request.query.end()) {
      const auto after = parse_int(it->second);
      if (!after || *after < 0) {
        return error_response(400, "after must be a non-negative event id");
      }
      query.after_id = *after;
    }
    if (const auto it = request.query.find("type"); it != request.query.end()) {
      query.type = it->second;
    }
    if (const auto it = request.query.find("job"); it != request.query.end()) {
      query.job = it->second;
    }
    const Result<nlohmann::json> result = backend_.events(query);
    if (!result) {
      return error_response(read_error_status(result.error()), result.error().message());
    }
    return json_response(200, *result);
  }

  // See README "Audit": the store must be writable before anything is
  // triggered; the one audit row carries the real outcome.
  Response trigger(const Request& request, const std::string& job, const Caller& caller) {
    if (const Status writable = store_.check_writable(); !writable) {
      spdlog::error("api: refusing job.trigger {} by {}: audit log not writable: {}", job,
                    caller.actor, redact(writable.error().message()));
      return error_response(503, "the audit log cannot be written (" + writable.error().message() +
                                     "); the job was not triggered");
    }
    const Result<nlohmann::json> result = backend_.trigger(job, caller.actor);
    Response response;
    std::string outcome;
    if (result) {
      outcome = "ok";
      response = json_response(202, *result);
    } else if (result.error().code() == ErrorCode::kNotFound) {
      outcome = "not_found";
      response = error_response(404, result.error().message());
    } else {
      outcome = "error: " + redact(result.error().message());
      response = error_response(trigger_error_status(result.error()), result.error().message());
    }
    if (const Status written = audit(request, job, caller.actor, outcome); !written) {
      // The run is already queued: a 503 now would invite a retry and a second
      // run, so the answer stands and the lost row is logged loudly.
      spdlog::error("api: job.trigger {} by {} from {} ({}) was not audited: {}", job, caller.actor,
                    request.remote, outcome, redact(written.error().message()));
    }
    return response;
  }

  void audit_denial(const Request& request, const std::string& job, const std::string& actor,
                    const std::string& reason) {
    if (const Status written = audit(request, job, actor, "denied: " + reason); !written) {
      spdlog::warn("api: denied job.trigger {} by {} from {} was not audited: {}", job, actor,
                   request.remote, redact(written.error().message()));
    }
  }

  Status audit(const Request& request, const std::string& job, const std::string& actor,
               const std::string& outcome) {
    state::AuditRecord record;
    record.time = std::chrono::system_clock::now();
    record.actor = actor;
    record.action = "job.trigger";
    record.target = job;
    record.outcome = redact(outcome);
    record.remote = request.remote;
    return store_.append_audit(record);
  }

  Backend& backend_;
  monitor::MetricsRegistry& metrics_;
  state::StateStore& store_;
  const config::ApiConfig& api_;
};

}  // namespace

Router::Router(Backend& backend, monitor::MetricsRegistry& metrics, state::StateStore& store,
               const config::ApiConfig& api)
    : backend_(backend), metrics_(metrics), store_(store), api_(api) {}

void Router::reconfigure(const config::ApiConfig& api) {
  std::lock_guard lock(mutex_);
  api_ = api;
}

Response Router::handle(const Request& request) {
  config::ApiConfig api;
  {
    // A copy, so that a reload during a slow request cannot change its rules
    // half-way, and the lock is not held while the backend works.
    std::lock_guard lock(mutex_);
    api = api_;
  }
  try {
    return Dispatcher(backend_, metrics_, store_, api).handle(request);
  } catch (const std::exception& e) {
    // Nothing should throw here; if something does, the caller gets a 500
    // rather than a dropped connection.
    spdlog::error("api: {} {}: {}", request.method, request.path, redact(e.what()));
    return error_response(500, "internal error");
  }
}

}  // namespace megasync::api
