// `megasync status`: a running daemon's status, from its API.
#include <fmt/format.h>
#include <httplib.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/common.h"
#include "config/loader.h"

namespace megasync::app {
namespace {

constexpr const char* kDefaultApi = "http://127.0.0.1:7171";

std::string text(const nlohmann::json& doc, const char* key, const char* fallback = "-") {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    return fallback;
  }
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_table(const nlohmann::json& status) {
  const nlohmann::json& daemon = status["daemon"];
  fmt::print("megasync {} · pid {} · health {} · up {:.0f} s · config {}\n",
             text(daemon, "version"), text(daemon, "pid"), text(daemon, "health"),
             daemon.value("uptime_seconds", 0.0), text(daemon, "config"));
  fmt::print("\n{:<24} {:<10} {:<9} {:<10} {:<25} {:>10} {:<25}\n", "JOB", "KIND", "STATE", "LAST",
             "LAST RUN", "RECORDS", "NEXT RUN");
  for (const nlohmann::json& job : status["jobs"]) {
    const nlohmann::json last = job.value("last_run", nlohmann::json());
    const bool has_last = last.is_object();
    fmt::print("{:<24} {:<10} {:<9} {:<10} {:<25} {:>10} {:<25}\n", text(job, "name"),
               text(job, "kind"), text(job, "state"), has_last ? text(last, "outcome") : "-",
               has_last ? text(last, "started_at") : "-", has_last ? text(last, "records") : "-",
               text(job, "next_run"));
    if (has_last && last.contains("error")) {
      fmt::print("  error: {}\n", text(last, "error"));
    }
  }
  fmt::print("\n{:<24} {:<10} {:<8} {}\n", "ENDPOINT", "TYPE", "HEALTH", "DETAIL");
  for (const auto& [name, endpoint] : status["endpoints"].items()) {
    fmt::print("{:<24} {:<10} {:<8} {}\n", name, text(endpoint, "type"), text(endpoint, "health"),
               text(endpoint, "error", ""));
  }
}

}  // namespace

int command_status(const std::string& api_url, const std::string& config_path,
                   const std::string& token, bool json) {
  std::string url = api_url;
  if (url.empty() && !config_path.empty()) {
    std::shared_ptr<const config::Config> config = load_config(config_path);
    if (!config) {
      return kExitInvalid;
    }
    std::string listen = config->api.listen;
    if (listen.rfind("0.0.0.0:", 0) == 0) {
      listen = "127.0.0.1:" + listen.substr(8);
    }
    url = "http://" + listen;
  }
  if (url.empty()) {
    url = kDefaultApi;
  }
  httplib::Client client(url);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Headers headers;
  if (!token.empty()) {
    headers.emplace("Authorization", "Bearer " + token);
  }
  auto response = client.Get("/api/v1/status", headers);
  if (!response) {
    fmt::print(stderr,
               "megasync: cannot reach the daemon at {}: {} (is `megasync run` running? "
               "pass --api URL)\n",
               url, httplib::to_string(response.error()));
    return kExitUnreachable;
  }
  if (response->status != 200) {
    fmt::print(stderr, "megasync: {} answered {}: {}{}\n", url, response->status, response->body,
               response->status == 401 ? " (pass --token or set MEGASYNC_API_TOKEN)" : "");
    return kExitUnreachable;
  }
  nlohmann::json status = nlohmann::json::parse(response->body, nullptr, false);
  if (status.is_discarded() || !status.is_object()) {
    fmt::print(stderr, "megasync: {} did not answer with a status document\n", url);
    return kExitUnreachable;
  }
  if (json) {
    fmt::print("{}\n", status.dump(2));
  } else {
    print_table(status);
  }
  return kExitOk;
}

}  // namespace megasync::app
