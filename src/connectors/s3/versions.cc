// S3ObjectStore's versions: old objects copied server-side to
// `<prefix>.megasync-versions/<path>/<UTC time>`, so names sort by age (the
// fs store's layout). Bucket versioning is not used: s3rver, the test server,
// lacks it, and this way keep_versions behaves the same on every service.
// CopyObject handles objects up to 5 GiB; larger ones fail to be kept (and so
// are not replaced).
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "connectors/s3/encode.h"
#include "connectors/s3/internal.h"
#include "connectors/s3/object_store.h"

namespace megasync::connectors::s3 {
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

}  // namespace

Result<std::vector<ObjectInfo>> S3ObjectStore::versions(std::string_view path) {
  const std::string dir =
      options_.prefix + std::string(kVersionsDir) + "/" + std::string(path) + "/";
  std::vector<Listed> found;
  Status listed = list_keys(dir, [&](std::vector<Listed>& page) -> Status {
    for (Listed& item : page) {
      // Only this object's versions, not those of objects below it.
      if (item.key.find('/', dir.size()) == std::string::npos) {
        found.push_back(std::move(item));
      }
    }
    return ok();
  });
  if (!listed) {
    return fail(listed.error());
  }
  std::sort(found.begin(), found.end(),
            [](const Listed& a, const Listed& b) { return a.key > b.key; });
  std::vector<ObjectInfo> out;
  for (const Listed& item : found) {
    ObjectInfo info;
    info.path = std::string(path);
    info.size = item.size;
    info.mtime = item.modified;
    info.version = item.key.substr(dir.size());
    out.push_back(std::move(info));
  }
  return out;
}

Status S3ObjectStore::keep_version(std::string_view path, int keep) {
  if (keep <= 0) {
    return ok();
  }
  const std::string key = full_key(path);
  const std::string dir =
      options_.prefix + std::string(kVersionsDir) + "/" + std::string(path) + "/";
  const std::string target = dir + version_name(WallClock::now());
  http::Request copy = request("PUT", object_url(target));
  copy.headers.emplace_back(
      "x-amz-copy-source",
      fmt::format("/{}/{}", uri_encode(options_.bucket, false), uri_encode(key, true)));
  sign_payload(copy, "");
  auto response = client_->send(copy);
  if (!response) {
    return fail(response.error());
  }
  const std::string code = xml_text(response->body, "Code");
  if (response->status == 404 && code != "NoSuchBucket") {
    return ok();  // nothing to keep
  }
  if (response->status >= 300 || !code.empty()) {
    return fail(error_of(*response, fmt::format("copy {} to {}", key, target)));
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

}  // namespace megasync::connectors::s3
