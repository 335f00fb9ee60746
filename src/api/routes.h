// The route table: which path is which route, which method and role it needs.
// Pure; the router (router.cc) serves what it finds here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace megasync::api {

enum class RouteId { kLivez, kReadyz, kMetrics, kStatus, kJobs, kJob, kRuns, kTrigger, kEvents };

// Who may call a route. kMetrics is open unless api.protect_metrics.
enum class Access { kOpen, kMetrics, kViewer, kOperator };

struct RouteMatch {
  RouteId id;
  std::string job;  // the {name} segment, for job routes
};

// The route for `path` (no query string), whatever the method; nullopt: 404.
std::optional<RouteMatch> match_route(std::string_view path);

Access route_access(RouteId id);

// True when `method` is accepted on the route. GET routes also take HEAD.
bool method_allowed(RouteId id, std::string_view method);
// The Allow header of a 405.
std::string_view allow_header(RouteId id);

}  // namespace megasync::api
