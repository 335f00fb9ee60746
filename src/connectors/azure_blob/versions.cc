// AzureObjectStore's versions: old blobs copied server-side (Copy Blob) to
// `<prefix>.megasync-versions/<path>/<UTC time>`, so names sort by age (the fs
// and s3 stores' layout). Blob versioning and snapshots are not used: Azurite
// lacks versioning, and this way keep_versions behaves the same everywhere.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "connectors/azure_blob/internal.h"
#include "connectors/azure_blob/object_store.h"
#include "connectors/http/encode.h"

namespace megasync::connectors::azure_blob {
namespace {

// "20261128T212312.123Z".
std::string version_name(WallTime now) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &tm);
  return fmt::format("{}.{:03}Z", text, ms % 1000);
}

// How long a copy the service runs in the background may take to finish
// (copies inside one account usually complete at once).
constexpr auto kCopyWait = std::chrono::seconds(60);

}  // namespace

Result<std::vector<ObjectInfo>> AzureObjectStore::versions(std::string_view path) {
  const std::string dir =
      options_.prefix + std::string(kVersionsDir) + "/" + std::string(path) + "/";
  std::vector<Listed> found;
  Status listed = list_blobs(dir, [&](std::vector<Listed>& page) -> Status {
    for (Listed& item : page) {
      // Only this object's versions, not those of objects below it.
      if (item.info.path.find('/', dir.size()) == std::string::npos) {
        found.push_back(std::move(item));
      }
    }
    return ok();
  });
  if (!listed) {
    return fail(listed.error());
  }
  std::sort(found.begin(), found.end(),
            [](const Listed& a, const Listed& b) { return a.info.path > b.info.path; });
  std::vector<ObjectInfo> out;
  for (const Listed& item : found) {
    ObjectInfo info;
    info.path = std::string(path);
    info.size = item.info.size;
    info.mtime = item.modified;
    info.version = item.info.path.substr(dir.size());
    out.push_back(std::move(info));
  }
  return out;
}

Status AzureObjectStore::keep_version(std::string_view path, int keep) {
  if (keep <= 0) {
    return ok();
  }
  const std::string name = full_name(path);
  const std::string dir =
      options_.prefix + std::string(kVersionsDir) + "/" + std::string(path) + "/";
  const std::string target = dir + version_name(WallClock::now());
  Call copy = call("PUT", target);
  std::string source = blob_url(name);
  if (!options_.sas_token.empty()) {
    source += "?" + options_.sas_token;
  }
  copy.request.headers.emplace_back("x-ms-copy-source", source);
  auto response = send(copy);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404 && response->header("x-ms-error-code") != "ContainerNotFound") {
    return ok();  // nothing to keep
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("copy {} to {}", name, target)));
  }
  // A copy the service finishes in the background: wait for it.
  std::string status = response->header("x-ms-copy-status");
  const auto deadline = std::chrono::steady_clock::now() + kCopyWait;
  for (auto wait = std::chrono::milliseconds(50); status == "pending";
       wait = std::min(wait * 2, std::chrono::milliseconds(2000))) {
    if (std::chrono::steady_clock::now() > deadline) {
      return make_error(ErrorCode::kRetryable, "{}: copy {} to {}: still pending after {} s", name_,
                        name, target, kCopyWait.count());
    }
    std::this_thread::sleep_for(wait);
    Call head = call("HEAD", target);
    auto state = send(head);
    if (!state) {
      return fail(state.error());
    }
    if (state->status >= 300) {
      return fail(error_of(*state, fmt::format("copy {} to {}", name, target)));
    }
    status = state->header("x-ms-copy-status");
  }
  if (!status.empty() && status != "success") {
    return make_error(ErrorCode::kRetryable, "{}: copy {} to {}: {}", name_, name, target, status);
  }
  auto kept = versions(path);
  if (!kept) {
    return fail(kept.error());
  }
  std::vector<std::string> old;
  for (std::size_t i = static_cast<std::size_t>(keep); i < kept->size(); ++i) {
    old.push_back(std::string(kVersionsDir) + "/" + std::string(path) + "/" + (*kept)[i].version);
  }
  return remove_many(old);
}

}  // namespace megasync::connectors::azure_blob
