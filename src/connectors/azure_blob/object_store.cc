// AzureObjectStore: requests and their signing, errors, the container check,
// listing, stat, read and deletion. The write paths (Put Blob, blocks) are in
// object_write.cc, versions in versions.cc.
#include "connectors/azure_blob/object_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <thread>

#include "connectors/azure_blob/internal.h"
#include "connectors/http/encode.h"

namespace megasync::connectors::azure_blob {
namespace {

using http::uri_encode;
using http::xml_elements;
using http::xml_text;

std::string error_code(const http::Response& r) {
  std::string code = r.header("x-ms-error-code");
  return code.empty() ? xml_text(r.body, "Code") : code;
}

bool azure_retryable(const http::Response& r) {
  const std::string code = error_code(r);
  return code == "OperationTimedOut" || code == "ServerBusy" || code == "InternalError";
}

}  // namespace

AzureObjectStore::AzureObjectStore(AzureOptions options)
    : options_(std::move(options)),
      name_(fmt::format("azure_blob {}/{}", options_.endpoint, options_.container)) {
  if (!options_.key.empty()) {
    auto key = decode_key(options_.key);
    assert(key);  // checked by the factory
    raw_key_ = key ? *key : std::string();
  }
  const auto scheme_end = options_.endpoint.find("://");
  const auto path_start =
      options_.endpoint.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  origin_ = options_.endpoint.substr(0, path_start);
  base_path_ = path_start == std::string::npos ? "" : options_.endpoint.substr(path_start);
  client_ = std::make_unique<http::HttpClient>(name_, options_.http);
}

std::string AzureObjectStore::blob_url(std::string_view blob) const {
  std::string path = base_path_ + "/" + uri_encode(options_.container, false);
  if (!blob.empty()) {
    path += "/" + uri_encode(blob, true);
  }
  return origin_ + path;
}

AzureObjectStore::Call AzureObjectStore::call(std::string method, std::string_view blob,
                                              QueryList query) const {
  Call c;
  c.path = base_path_ + "/" + uri_encode(options_.container, false);
  if (!blob.empty()) {
    c.path += "/" + uri_encode(blob, true);
  }
  c.request.method = std::move(method);
  c.request.url = origin_ + c.path;
  std::string encoded = http::canonical_query(query);
  if (!options_.sas_token.empty()) {
    encoded += (encoded.empty() ? "" : "&") + options_.sas_token;
  }
  if (!encoded.empty()) {
    c.request.url += "?" + encoded;
  }
  c.query = std::move(query);
  c.request.retry_on = azure_retryable;
  return c;
}

Result<http::Response> AzureObjectStore::send(Call& c) const {
  http::Request& r = c.request;
  r.headers.emplace_back("x-ms-date", http_date(WallClock::now()));
  r.headers.emplace_back("x-ms-version", std::string(kApiVersion));
  if (options_.sas_token.empty()) {
    const std::uint64_t length = r.body_reader ? r.body_size : r.body.size();
    const std::string text =
        string_to_sign(options_.account, r.method, c.path, c.query, r.headers, length);
    r.headers.emplace_back("Authorization", authorization(options_.account, raw_key_, text));
  }
  return client_->send(r);
}

Error AzureObjectStore::error_of(const http::Response& response, std::string_view what) const {
  std::string code = error_code(response);
  const std::string message = xml_text(response.body, "Message");
  if (code.empty()) {
    code = fmt::format("HTTP {}", response.status);
  }
  // The service's message repeats the request id and time on more lines.
  const std::string first_line = message.substr(0, message.find('\n'));
  const std::string detail = first_line.empty() ? code : fmt::format("{}: {}", code, first_line);
  if (code == "ContainerNotFound") {
    return Error(ErrorCode::kPermanent,
                 fmt::format("{}: {}: container '{}' does not exist; create it, or set `create: "
                             "true` on the endpoint to have megasync create it",
                             name_, what, options_.container));
  }
  if (response.status == 401 || response.status == 403) {
    return Error(ErrorCode::kPermanent,
                 fmt::format("{}: {}: access denied ({}); check account and key (or sas_token: "
                             "its permissions and expiry) of the endpoint",
                             name_, what, detail));
  }
  if (response.status == 404) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: {}: {}", name_, what, detail));
  }
  const bool retryable = http::retryable_status(response.status) || azure_retryable(response);
  return Error(retryable ? ErrorCode::kRetryable : ErrorCode::kPermanent,
               fmt::format("{}: {}: {}", name_, what, detail));
}

Result<http::Response> AzureObjectStore::list_page(const std::string& name_prefix,
                                                   const std::string& marker, int max_results,
                                                   std::chrono::milliseconds timeout) {
  QueryList query = {{"restype", "container"},
                     {"comp", "list"},
                     {"include", "metadata"},
                     {"maxresults", std::to_string(max_results)}};
  if (!name_prefix.empty()) {
    query.emplace_back("prefix", name_prefix);
  }
  if (!marker.empty()) {
    query.emplace_back("marker", marker);
  }
  Call c = call("GET", "", std::move(query));
  c.request.timeout = timeout;
  return send(c);
}

Result<bool> AzureObjectStore::ensure_container(bool create_now) {
  auto ready = [this] {
    std::lock_guard lock(mutex_);
    return container_ready_;
  };
  if (ready()) {
    return true;
  }
  // The transfer threads' first writes all come here at once: one creates.
  std::lock_guard creating(container_mutex_);
  if (ready()) {
    return true;
  }
  auto response = list_page("", "", 1, std::chrono::milliseconds(0));
  if (!response) {
    return fail(response.error());
  }
  const bool missing = response->status == 404 && error_code(*response) == "ContainerNotFound";
  if (missing && options_.create && !create_now) {
    return false;
  }
  if (missing && options_.create) {
    Call create = call("PUT", "", {{"restype", "container"}});
    auto created = send(create);
    if (!created) {
      return fail(created.error());
    }
    if (created->status >= 300 && error_code(*created) != "ContainerAlreadyExists") {
      return fail(error_of(*created, "create container"));
    }
    spdlog::info("{}: created container '{}'", name_, options_.container);
  } else if (response->status >= 300) {
    return fail(error_of(*response, "list"));
  }
  std::lock_guard lock(mutex_);
  container_ready_ = true;
  return true;
}

Status AzureObjectStore::probe(std::chrono::milliseconds timeout) {
  auto response = list_page("", "", 1, timeout);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404 && options_.create && error_code(*response) == "ContainerNotFound") {
    return ok();  // created by the first write
  }
  if (response->status >= 300) {
    return fail(error_of(*response, "list"));
  }
  return ok();
}

Status AzureObjectStore::list_blobs(const std::string& name_prefix,
                                    const std::function<Status(std::vector<Listed>&)>& page) {
  std::string marker;
  for (;;) {
    auto response = list_page(name_prefix, marker, 5000, std::chrono::milliseconds(0));
    if (!response) {
      return fail(response.error());
    }
    if (response->status >= 300) {
      return fail(error_of(*response, "list"));
    }
    const std::string& body = response->body;
    std::vector<Listed> listed;
    for (std::string_view blob : xml_elements(body, "Blob")) {
      Listed item;
      item.info.path = xml_text(blob, "Name");
      auto properties = xml_elements(blob, "Properties");
      const std::string_view props = properties.empty() ? std::string_view() : properties.front();
      const std::string size = xml_text(props, "Content-Length");
      std::from_chars(size.data(), size.data() + size.size(), item.info.size);
      if (auto modified = http::parse_http_date(xml_text(props, "Last-Modified"))) {
        item.modified = *modified;
      }
      item.info.mtime = item.modified;
      auto metadata = xml_elements(blob, "Metadata");
      if (!metadata.empty()) {
        for (auto& [name, value] : metadata_elements(metadata.front())) {
          if (name == kMetaMtime) {
            if (auto mtime = parse_mtime(value)) {
              item.info.mtime = *mtime;
            }
          } else if (name == kMetaSha256) {
            item.info.sha256 = value;
          } else {
            item.info.metadata[name] = value;
          }
        }
      }
      listed.push_back(std::move(item));
    }
    if (Status handled = page(listed); !handled) {
      return handled;
    }
    marker = xml_text(body, "NextMarker");
    if (marker.empty()) {
      return ok();
    }
  }
}

Status AzureObjectStore::list(std::string_view prefix,
                              const std::function<Status(const ObjectInfo&)>& each) {
  auto exists = ensure_container(false);
  if (!exists) {
    return fail(exists.error());
  }
  if (!*exists) {
    return ok();  // created by the first write
  }
  const std::string versions = options_.prefix + std::string(kVersionsDir) + "/";
  return list_blobs(full_name(prefix), [&](std::vector<Listed>& page) -> Status {
    for (Listed& item : page) {
      const std::string& name = item.info.path;
      if (name.starts_with(versions) || name.size() <= options_.prefix.size() ||
          name.ends_with("/")) {  // folder markers of other tools
        continue;
      }
      item.info.path = name.substr(options_.prefix.size());
      if (Status handled = each(item.info); !handled) {
        return handled;
      }
    }
    return ok();
  });
}

ObjectInfo AzureObjectStore::info_of(const std::string& name, const http::Headers& headers) const {
  ObjectInfo info;
  info.path = name.substr(options_.prefix.size());
  auto header = [&](const std::string& key) {
    auto it = headers.find(key);
    return it == headers.end() ? std::string() : it->second;
  };
  const std::string length = header("content-length");
  std::from_chars(length.data(), length.data() + length.size(), info.size);
  if (auto modified = http::parse_http_date(header("last-modified"))) {
    info.mtime = *modified;
  }
  for (const auto& [key, value] : headers) {
    if (!key.starts_with(kMetaPrefix)) {
      continue;
    }
    const std::string field = key.substr(kMetaPrefix.size());
    if (field == kMetaMtime) {
      if (auto mtime = parse_mtime(value)) {
        info.mtime = *mtime;
      }
    } else if (field == kMetaSha256) {
      info.sha256 = value;
    } else {
      info.metadata[field] = value;
    }
  }
  return info;
}

Result<std::optional<ObjectInfo>> AzureObjectStore::stat(std::string_view path) {
  const std::string name = full_name(path);
  Call c = call("HEAD", name);
  auto response = send(c);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404) {
    if (error_code(*response) == "ContainerNotFound" && !options_.create) {
      return fail(error_of(*response, fmt::format("stat {}", name)));
    }
    return std::optional<ObjectInfo>();
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("stat {}", name)));
  }
  return std::optional<ObjectInfo>(info_of(name, response->headers));
}

Status AzureObjectStore::read(std::string_view path, ByteSink& out) {
  const std::string name = full_name(path);
  Call c = call("GET", name);
  c.request.on_body = [&out](std::string_view chunk) { return out.write(chunk); };
  auto response = send(c);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404 && error_code(*response) != "ContainerNotFound") {
    return make_error(ErrorCode::kNotFound, "{}: {} not found", name_, name);
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("get {}", name)));
  }
  return ok();
}

Status AzureObjectStore::remove(std::string_view path) {
  const std::string name = full_name(path);
  Call c = call("DELETE", name);
  c.request.headers.emplace_back("x-ms-delete-snapshots", "include");
  auto response = send(c);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300 && response->status != 404) {
    return fail(error_of(*response, fmt::format("delete {}", name)));
  }
  return ok();
}

Status AzureObjectStore::remove_many(const std::vector<std::string>& paths) {
  // No batch in the REST API used here (Blob Batch is multipart/mixed): one
  // Delete Blob per path, a few at a time.
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (std::size_t n; (n = next.fetch_add(1)) < paths.size();) {
      if (Status removed = remove(paths[n]); !removed) {
        std::lock_guard lock(error_mutex);
        if (!first_error) {
          first_error = removed.error();
        }
        return;
      }
    }
  };
  const std::size_t threads = std::min<std::size_t>(
      static_cast<std::size_t>(std::max(1, options_.delete_concurrency)), paths.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (auto& thread : pool) {
    thread.join();
  }
  if (first_error) {
    return fail(*first_error);
  }
  return ok();
}

}  // namespace megasync::connectors::azure_blob
