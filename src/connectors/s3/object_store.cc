// S3ObjectStore: requests, errors, the bucket check, listing, stat, read and
// deletion. The write paths (single PUT, multipart) are in object_write.cc,
// versions in versions.cc.
#include "connectors/s3/object_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <thread>

#include "connectors/http/aws.h"
#include "connectors/s3/encode.h"
#include "connectors/s3/internal.h"

namespace megasync::connectors::s3 {
namespace {

constexpr std::size_t kHeadThreads = 8;  // parallel HEADs filling one listing page

bool s3_retryable(const http::Response& r) {
  // Sent with 400 by S3 (an idle connection timed out) or with other statuses
  // by compatible services.
  const std::string code = xml_text(r.body, "Code");
  return code == "RequestTimeout" || code == "SlowDown" || code == "Throttling" ||
         code == "InternalError" || code == "ServiceUnavailable";
}

}  // namespace

S3ObjectStore::S3ObjectStore(S3Options options)
    : options_(std::move(options)),
      name_(fmt::format("s3 {}/{}", options_.endpoint, options_.bucket)),
      client_(std::make_unique<http::HttpClient>(name_, options_.http)),
      batch_delete_(options_.batch_delete) {}

std::string S3ObjectStore::bucket_url() const {
  if (options_.path_style) {
    return options_.endpoint + "/" + uri_encode(options_.bucket, false);
  }
  const auto scheme_end = options_.endpoint.find("://");
  const std::size_t host = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  return options_.endpoint.substr(0, host) + options_.bucket + "." + options_.endpoint.substr(host);
}

std::string S3ObjectStore::object_url(std::string_view key, const std::string& query) const {
  std::string url = bucket_url() + "/" + uri_encode(key, true);
  if (!query.empty()) {
    url += "?" + query;
  }
  return url;
}

http::Request S3ObjectStore::request(std::string method, std::string url) const {
  http::Request r;
  r.method = std::move(method);
  r.url = std::move(url);
  http::sign_aws(r,
                 http::AwsCredentials{options_.access_key_id, options_.secret_access_key,
                                      options_.session_token},
                 options_.region, "s3");
  r.retry_on = s3_retryable;
  return r;
}

Error S3ObjectStore::error_of(const http::Response& response, std::string_view what) const {
  std::string code = xml_text(response.body, "Code");
  std::string message = xml_text(response.body, "Message");
  if (code.empty()) {
    code = fmt::format("HTTP {}", response.status);
  }
  const std::string detail = message.empty() ? code : fmt::format("{}: {}", code, message);
  if (code == "NoSuchBucket") {
    return Error(ErrorCode::kPermanent,
                 fmt::format("{}: {}: bucket '{}' does not exist; create it, or set `create: "
                             "true` on the endpoint to have megasync create it",
                             name_, what, options_.bucket));
  }
  if (response.status == 401 || response.status == 403 || code == "InvalidAccessKeyId" ||
      code == "SignatureDoesNotMatch" || code == "ExpiredToken" || code == "InvalidToken") {
    return Error(ErrorCode::kPermanent,
                 fmt::format("{}: {}: access denied ({}); check access_key_id, "
                             "secret_access_key and session_token (or AWS_ACCESS_KEY_ID, "
                             "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the bucket's policy",
                             name_, what, detail));
  }
  if (response.status == 404) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: {}: {}", name_, what, detail));
  }
  const bool retryable = http::retryable_status(response.status) || s3_retryable(response);
  return Error(retryable ? ErrorCode::kRetryable : ErrorCode::kPermanent,
               fmt::format("{}: {}: {}", name_, what, detail));
}

Result<bool> S3ObjectStore::ensure_bucket(bool create_now) {
  auto ready = [this] {
    std::lock_guard lock(mutex_);
    return bucket_ready_;
  };
  if (ready()) {
    return true;
  }
  // The transfer threads' first writes all come here at once: one creates.
  std::lock_guard creating(bucket_mutex_);
  if (ready()) {
    return true;
  }
  http::Request probe = request(
      "GET", bucket_url() + "/?" + canonical_query({{"list-type", "2"}, {"max-keys", "1"}}));
  sign_payload(probe, "");
  auto response = client_->send(probe);
  if (!response) {
    return fail(response.error());
  }
  const bool missing = response->status == 404;
  if (missing && options_.create && !create_now) {
    return false;
  }
  if (missing && options_.create) {
    http::Request create = request("PUT", bucket_url());
    if (options_.region != "us-east-1" && options_.provider == "aws") {
      create.body = fmt::format(
          "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
          "<LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
          xml_escape(options_.region));
    }
    sign_payload(create, create.body);
    auto created = client_->send(create);
    if (!created) {
      return fail(created.error());
    }
    if (created->status >= 300 && xml_text(created->body, "Code") != "BucketAlreadyOwnedByYou") {
      return fail(error_of(*created, "create bucket"));
    }
    spdlog::info("{}: created bucket '{}'", name_, options_.bucket);
  } else if (response->status >= 300) {
    return fail(error_of(*response, "list"));
  }
  std::lock_guard lock(mutex_);
  bucket_ready_ = true;
  return true;
}

Status S3ObjectStore::probe(std::chrono::milliseconds timeout) {
  http::Request probe = request(
      "GET", bucket_url() + "/?" + canonical_query({{"list-type", "2"}, {"max-keys", "1"}}));
  sign_payload(probe, "");
  probe.timeout = timeout;
  auto response = client_->send(probe);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404 && options_.create) {
    return ok();  // created by the first write
  }
  if (response->status >= 300) {
    return fail(error_of(*response, "list"));
  }
  return ok();
}

Status S3ObjectStore::list_keys(const std::string& key_prefix,
                                const std::function<Status(std::vector<Listed>&)>& page) {
  std::string token;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> query = {{"list-type", "2"}};
    if (!key_prefix.empty()) {
      query.emplace_back("prefix", key_prefix);
    }
    if (!token.empty()) {
      query.emplace_back("continuation-token", token);
    }
    http::Request list = request("GET", bucket_url() + "/?" + canonical_query(std::move(query)));
    sign_payload(list, "");
    auto response = client_->send(list);
    if (!response) {
      return fail(response.error());
    }
    if (response->status >= 300) {
      return fail(error_of(*response, "list"));
    }
    const std::string& body = response->body;
    const bool url_encoded = xml_text(body, "EncodingType") == "url";
    std::vector<Listed> listed;
    for (std::string_view contents : xml_elements(body, "Contents")) {
      Listed item;
      item.key = xml_text(contents, "Key");
      if (url_encoded) {
        item.key = uri_decode(item.key);
      }
      const std::string size = xml_text(contents, "Size");
      std::from_chars(size.data(), size.data() + size.size(), item.size);
      if (auto modified = parse_iso8601(xml_text(contents, "LastModified"))) {
        item.modified = *modified;
      }
      item.etag = xml_text(contents, "ETag");
      listed.push_back(std::move(item));
    }
    if (Status handled = page(listed); !handled) {
      return handled;
    }
    if (xml_text(body, "IsTruncated") != "true") {
      return ok();
    }
    token = xml_text(body, "NextContinuationToken");
    if (token.empty()) {
      return make_error(ErrorCode::kPermanent,
                        "{}: list: truncated page without NextContinuationToken", name_);
    }
  }
}

Status S3ObjectStore::fill_metadata(std::vector<Listed>& page, std::vector<ObjectInfo>& out,
                                    bool quick) {
  out.assign(page.size(), ObjectInfo{});
  std::vector<std::size_t> unknown;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < page.size(); ++i) {
      const Listed& item = page[i];
      ObjectInfo& info = out[i];
      info.path = item.key.substr(options_.prefix.size());
      info.size = item.size;
      info.mtime = item.modified;
      info.etag = item.etag;
      auto it = cache_.find(item.key);
      if (it != cache_.end() && it->second.etag == item.etag && it->second.size == item.size) {
        info.mtime = it->second.mtime;
        info.sha256 = it->second.sha256;
        info.metadata = it->second.metadata;
      } else if (quick) {
        info.partial = true;
      } else {
        unknown.push_back(i);
      }
    }
  }
  if (unknown.empty()) {
    return ok();
  }
  // HEAD the objects not seen before, a few at a time.
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (std::size_t n; (n = next.fetch_add(1)) < unknown.size();) {
      const std::size_t i = unknown[n];
      std::string etag;
      auto head_result = head(page[i].key, &etag);
      if (!head_result) {
        std::lock_guard lock(error_mutex);
        if (!first_error)
          first_error = head_result.error();
        return;
      }
      if (!*head_result) {
        out[i].path.clear();  // deleted since the listing: left out
        continue;
      }
      out[i] = std::move(**head_result);
    }
  };
  const std::size_t threads = std::min(kHeadThreads, unknown.size());
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

Status S3ObjectStore::list(std::string_view prefix,
                           const std::function<Status(const ObjectInfo&)>& each) {
  return list_objects(prefix, each, false);
}

Status S3ObjectStore::list_quick(std::string_view prefix,
                                 const std::function<Status(const ObjectInfo&)>& each) {
  return list_objects(prefix, each, true);
}

Status S3ObjectStore::list_objects(std::string_view prefix,
                                   const std::function<Status(const ObjectInfo&)>& each,
                                   bool quick) {
  auto exists = ensure_bucket(false);
  if (!exists) {
    return fail(exists.error());
  }
  if (!*exists) {
    return ok();  // created by the first write
  }
  const std::string versions = options_.prefix + std::string(kVersionsDir) + "/";
  const std::string uploads = options_.prefix + std::string(kUploadsDir) + "/";
  return list_keys(full_key(prefix), [&](std::vector<Listed>& page) -> Status {
    std::erase_if(page, [&](const Listed& item) {
      return item.key.starts_with(versions) || item.key.starts_with(uploads) ||
             item.key.size() <= options_.prefix.size() ||
             item.key.ends_with("/");  // folder markers of other tools
    });
    std::vector<ObjectInfo> infos;
    if (Status filled = fill_metadata(page, infos, quick); !filled) {
      return filled;
    }
    for (const ObjectInfo& info : infos) {
      if (info.path.empty()) {
        continue;
      }
      if (Status handled = each(info); !handled) {
        return handled;
      }
    }
    return ok();
  });
}

Result<std::optional<ObjectInfo>> S3ObjectStore::head(const std::string& key, std::string* etag) {
  http::Request r = request("HEAD", object_url(key));
  sign_payload(r, "");
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404) {
    return std::optional<ObjectInfo>();
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("head {}", key)));
  }
  ObjectInfo info;
  info.path = key.substr(options_.prefix.size());
  const std::string length = response->header("content-length");
  std::from_chars(length.data(), length.data() + length.size(), info.size);
  if (auto modified = parse_http_date(response->header("last-modified"))) {
    info.mtime = *modified;
  }
  for (const auto& [name, value] : response->headers) {
    if (!name.starts_with(kMetaPrefix)) {
      continue;
    }
    const std::string field = name.substr(kMetaPrefix.size());
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
  const std::string tag = response->header("etag");
  if (etag != nullptr) {
    *etag = tag;
  }
  info.etag = tag;
  remember(key, info, tag);
  return std::optional<ObjectInfo>(std::move(info));
}

void S3ObjectStore::remember(const std::string& key, const ObjectInfo& info,
                             const std::string& etag) {
  if (etag.empty()) {
    return;
  }
  std::lock_guard lock(mutex_);
  cache_[key] = Cached{etag, info.size, info.mtime, info.sha256, info.metadata};
}

Result<std::optional<ObjectInfo>> S3ObjectStore::stat(std::string_view path) {
  return head(full_key(path), nullptr);
}

Status S3ObjectStore::read(std::string_view path, ByteSink& out) {
  const std::string key = full_key(path);
  http::Request r = request("GET", object_url(key));
  sign_payload(r, "");
  r.on_body = [&out](std::string_view chunk) { return out.write(chunk); };
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  if (response->status == 404) {
    return make_error(ErrorCode::kNotFound, "{}: {} not found", name_, key);
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("get {}", key)));
  }
  return ok();
}

Status S3ObjectStore::remove(std::string_view path) {
  const std::string key = full_key(path);
  http::Request r = request("DELETE", object_url(key));
  sign_payload(r, "");
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300 && response->status != 404) {
    return fail(error_of(*response, fmt::format("delete {}", key)));
  }
  std::lock_guard lock(mutex_);
  cache_.erase(key);
  return ok();
}

Status S3ObjectStore::remove_many(const std::vector<std::string>& paths) {
  if (!batch_delete_) {
    return ObjectStore::remove_many(paths);
  }
  constexpr std::size_t kBatch = 1000;  // DeleteObjects' limit
  for (std::size_t start = 0; start < paths.size(); start += kBatch) {
    const std::size_t end = std::min(paths.size(), start + kBatch);
    std::string body =
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
    for (std::size_t i = start; i < end; ++i) {
      body += "<Object><Key>" + xml_escape(full_key(paths[i])) + "</Key></Object>";
    }
    body += "</Delete>";
    http::Request r = request("POST", bucket_url() + "/?" + canonical_query({{"delete", ""}}));
    r.headers.emplace_back("Content-Type", "application/xml");
    r.headers.emplace_back("Content-MD5", base64(md5_raw(body)));
    r.body = std::move(body);
    sign_payload(r, r.body);
    auto response = client_->send(r);
    if (!response) {
      return fail(response.error());
    }
    const std::string code = xml_text(response->body, "Code");
    if (response->status >= 300 && (code == "NotImplemented" || response->status == 501)) {
      spdlog::info("{}: no multi-object delete here; deleting one by one", name_);
      batch_delete_ = false;
      std::vector<std::string> rest(paths.begin() + static_cast<std::ptrdiff_t>(start),
                                    paths.end());
      return ObjectStore::remove_many(rest);
    }
    if (response->status >= 300) {
      return fail(error_of(*response, "delete objects"));
    }
    // HTTP 200 even when some keys failed: each failure is an <Error> element.
    auto errors = xml_elements(response->body, "Error");
    if (!errors.empty()) {
      return make_error(ErrorCode::kRetryable, "{}: delete objects: {} of {} failed, first {}: {}",
                        name_, errors.size(), end - start, xml_text(errors.front(), "Key"),
                        xml_text(errors.front(), "Code"));
    }
    std::lock_guard lock(mutex_);
    for (std::size_t i = start; i < end; ++i) {
      cache_.erase(full_key(paths[i]));
    }
  }
  return ok();
}

}  // namespace megasync::connectors::s3
