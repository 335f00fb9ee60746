// Notes of multipart uploads in progress, and the abort of the uploads an
// earlier process left open.
//
// A process killed during a multipart upload cannot abort it, and its parts
// stay billed on the store. So each upload is noted under kUploadsDir (key and
// upload id) while it is open, and the next process aborts the uploads of the
// notes it finds before its first write.
//
// A note can itself be cut short when its writer is killed while sending it
// (s3rver keeps such a truncated body). Its name still identifies the upload
// (a hash of the upload id): the upload is looked up with
// ListMultipartUploads where the service has it, and the note is removed
// either way.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "connectors/s3/encode.h"
#include "connectors/s3/internal.h"
#include "connectors/s3/object_store.h"

namespace megasync::connectors::s3 {
namespace {

// The note's key: upload ids are long and may hold any URL-safe character.
std::string upload_note_key(const std::string& prefix, const std::string& upload_id) {
  return prefix + std::string(kUploadsDir) + "/" + sha256_hex(upload_id).substr(0, 32);
}

// A note's body: "key\nupload-id\n". Empty when cut short or not megasync's.
std::optional<S3ObjectStore::Upload> parse_note(const std::string& body) {
  const std::size_t newline = body.find('\n');
  if (newline == std::string::npos || body.back() != '\n') {
    return std::nullopt;
  }
  S3ObjectStore::Upload upload{body.substr(0, newline), body.substr(newline + 1)};
  while (!upload.upload_id.empty() && upload.upload_id.back() == '\n') {
    upload.upload_id.pop_back();
  }
  if (upload.key.empty() || upload.upload_id.empty()) {
    return std::nullopt;
  }
  return upload;
}

}  // namespace

void S3ObjectStore::abort_upload(const std::string& key, const std::string& upload_id) {
  http::Request r = request("DELETE", object_url(key, canonical_query({{"uploadId", upload_id}})));
  sign_payload(r, "");
  auto response = client_->send(r);
  // 405/501: the service cannot abort uploads (s3rver); asking again later
  // would not help, so the note goes too.
  const bool unsupported = response && (response->status == 405 || response->status == 501);
  if (!response || (response->status >= 300 && response->status != 404)) {
    spdlog::warn("{}: could not abort the multipart upload of {} ({}); {}", name_, key,
                 response ? error_of(*response, "abort").message() : response.error().message(),
                 unsupported ? "the service does not support AbortMultipartUpload: a lifecycle "
                               "rule AbortIncompleteMultipartUpload must remove its parts"
                             : "tried again before the next write");
    if (!unsupported) {
      // The note stays; the next write looks for notes again.
      std::lock_guard lock(mutex_);
      open_uploads_.erase(upload_id);
      orphans_checked_ = false;
      return;
    }
  }
  forget_upload(upload_id);
}

Status S3ObjectStore::note_upload(const std::string& key, const std::string& upload_id) {
  {
    // Before the note exists: a check for orphans running meanwhile on
    // another thread must not take the note for one of an earlier process.
    std::lock_guard lock(mutex_);
    open_uploads_.insert(upload_id);
  }
  http::Request r = request("PUT", object_url(upload_note_key(options_.prefix, upload_id)));
  r.headers.emplace_back("Content-Type", "text/plain");
  r.body = key + "\n" + upload_id + "\n";
  r.headers.emplace_back("Content-MD5", base64(md5_raw(r.body)));
  sign_payload(r, r.body);
  auto response = client_->send(r);
  if (!response) {
    return fail(response.error());
  }
  if (response->status >= 300) {
    return fail(error_of(*response, fmt::format("note the multipart upload of {}", key)));
  }
  return ok();
}

void S3ObjectStore::forget_upload(const std::string& upload_id) {
  {
    std::lock_guard lock(mutex_);
    open_uploads_.erase(upload_id);
  }
  remove_note(upload_note_key(options_.prefix, upload_id));
}

void S3ObjectStore::remove_note(const std::string& note) {
  http::Request r = request("DELETE", object_url(note));
  sign_payload(r, "");
  auto response = client_->send(r);
  if (!response || (response->status >= 300 && response->status != 404)) {
    spdlog::warn("{}: could not remove {} ({}); tried again before the next write", name_, note,
                 response ? error_of(*response, "delete").message() : response.error().message());
    orphans_checked_ = false;  // the next write finds the note and removes it
  }
}

Result<std::optional<std::vector<S3ObjectStore::Upload>>> S3ObjectStore::list_uploads() {
  std::vector<Upload> uploads;
  std::string key_marker;
  std::string id_marker;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> query = {{"uploads", ""}};
    if (!options_.prefix.empty()) {
      query.emplace_back("prefix", options_.prefix);
    }
    if (!key_marker.empty()) {
      query.emplace_back("key-marker", key_marker);
      query.emplace_back("upload-id-marker", id_marker);
    }
    http::Request list = request("GET", bucket_url() + "/?" + canonical_query(std::move(query)));
    sign_payload(list, "");
    auto response = client_->send(list);
    if (!response) {
      return fail(response.error());
    }
    if (response->status == 405 || response->status == 501) {
      return std::optional<std::vector<Upload>>();
    }
    if (response->status >= 300) {
      return fail(error_of(*response, "list multipart uploads"));
    }
    const std::string& body = response->body;
    if (body.find("<ListMultipartUploadsResult") == std::string::npos) {
      return std::optional<std::vector<Upload>>();  // the query was not understood
    }
    for (std::string_view upload : xml_elements(body, "Upload")) {
      uploads.push_back({xml_text(upload, "Key"), xml_text(upload, "UploadId")});
    }
    if (xml_text(body, "IsTruncated") != "true") {
      return std::optional<std::vector<Upload>>(std::move(uploads));
    }
    key_marker = xml_text(body, "NextKeyMarker");
    id_marker = xml_text(body, "NextUploadIdMarker");
    if (key_marker.empty()) {
      return make_error(ErrorCode::kPermanent,
                        "{}: list multipart uploads: truncated page without NextKeyMarker", name_);
    }
  }
}

Status S3ObjectStore::abort_orphaned_uploads() {
  if (orphans_checked_.load()) {
    return ok();
  }
  std::lock_guard checking(bucket_mutex_);
  if (orphans_checked_.load()) {
    return ok();
  }
  const std::string notes = options_.prefix + std::string(kUploadsDir) + "/";
  std::vector<std::string> keys;
  Status listed = list_keys(notes, [&](std::vector<Listed>& page) -> Status {
    for (Listed& item : page) {
      keys.push_back(std::move(item.key));
    }
    return ok();
  });
  if (!listed) {
    return listed;
  }
  std::set<std::string> own;  // notes of this process's uploads in progress
  {
    std::lock_guard lock(mutex_);
    for (const std::string& upload_id : open_uploads_) {
      own.insert(upload_note_key(options_.prefix, upload_id));
    }
  }
  // Set before the aborts: one that fails clears it, for the next write to
  // try again.
  orphans_checked_ = true;
  int aborted = 0;
  std::vector<std::string> cut_short;
  for (const std::string& note : keys) {
    if (own.contains(note)) {
      continue;
    }
    http::Request get = request("GET", object_url(note));
    sign_payload(get, "");
    auto response = client_->send(get);
    if (!response) {
      return fail(response.error());
    }
    if (response->status == 404) {
      continue;  // completed meanwhile
    }
    if (response->status >= 300) {
      return fail(error_of(*response, fmt::format("read {}", note)));
    }
    std::optional<S3ObjectStore::Upload> upload = parse_note(response->body);
    if (!upload || upload_note_key(options_.prefix, upload->upload_id) != note) {
      cut_short.push_back(note);
      continue;
    }
    abort_upload(upload->key, upload->upload_id);
    ++aborted;
  }
  if (!cut_short.empty()) {
    // Find their uploads by the hash in the note's name.
    auto uploads = list_uploads();
    if (!uploads) {
      return fail(uploads.error());
    }
    std::map<std::string, Upload> by_note;
    for (Upload& upload : uploads->value_or(std::vector<Upload>{})) {
      std::string note = upload_note_key(options_.prefix, upload.upload_id);
      by_note.emplace(std::move(note), std::move(upload));
    }
    for (const std::string& note : cut_short) {
      if (auto found = by_note.find(note); found != by_note.end()) {
        abort_upload(found->second.key, found->second.upload_id);
        ++aborted;
        continue;
      }
      spdlog::warn("{}: {} was cut short by a process killed while writing it{}; removed", name_,
                   note,
                   uploads->has_value() ? ""
                                        : " (the service cannot list multipart uploads: a "
                                          "lifecycle rule AbortIncompleteMultipartUpload must "
                                          "remove an upload it may have begun)");
      remove_note(note);
    }
  }
  if (aborted > 0) {
    spdlog::info("{}: {} multipart upload(s) an earlier process left open: aborted", name_,
                 aborted);
  }
  return ok();
}

}  // namespace megasync::connectors::s3
