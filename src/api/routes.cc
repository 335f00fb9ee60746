#include "api/routes.h"

#include <vector>

namespace megasync::api {
namespace {

// "/api/v1/jobs/x" -> {"api", "v1", "jobs", "x"}. Empty segments are kept, so
// "/api/v1/jobs/" and "//livez" match nothing.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.starts_with('/')) {
    return segments;
  }
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return segments;
}

}  // namespace

std::optional<RouteMatch> match_route(std::string_view path) {
  if (path == "/livez") {
    return RouteMatch{RouteId::kLivez, {}};
  }
  if (path == "/readyz") {
    return RouteMatch{RouteId::kReadyz, {}};
  }
  if (path == "/metrics") {
    return RouteMatch{RouteId::kMetrics, {}};
  }
  const std::vector<std::string_view> s = split_path(path);
  if (s.size() < 3 || s[0] != "api" || s[1] != "v1") {
    return std::nullopt;
  }
  if (s.size() == 3) {
    if (s[2] == "status") {
      return RouteMatch{RouteId::kStatus, {}};
    }
    if (s[2] == "jobs") {
      return RouteMatch{RouteId::kJobs, {}};
    }
    if (s[2] == "events") {
      return RouteMatch{RouteId::kEvents, {}};
    }
    return std::nullopt;
  }
  if (s[2] != "jobs" || s[3].empty() || s.size() > 5) {
    return std::nullopt;
  }
  const std::string job(s[3]);
  if (s.size() == 4) {
    return RouteMatch{RouteId::kJob, job};
  }
  if (s[4] == "runs") {
    return RouteMatch{RouteId::kRuns, job};
  }
  if (s[4] == "run") {
    return RouteMatch{RouteId::kTrigger, job};
  }
  return std::nullopt;
}

Access route_access(RouteId id) {
  switch (id) {
    case RouteId::kLivez:
    case RouteId::kReadyz:
      return Access::kOpen;
    case RouteId::kMetrics:
      return Access::kMetrics;
    case RouteId::kTrigger:
      return Access::kOperator;
    default:
      return Access::kViewer;
  }
}

bool method_allowed(RouteId id, std::string_view method) {
  if (id == RouteId::kTrigger) {
    return method == "POST";
  }
  return method == "GET" || method == "HEAD";
}

std::string_view allow_header(RouteId id) {
  return id == RouteId::kTrigger ? "POST" : "GET, HEAD";
}

}  // namespace megasync::api
