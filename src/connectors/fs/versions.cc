// FsObjectStore's versions: old contents kept under `.megasync-versions/<path>/`,
// one file per version named by its UTC time, so names sort by age.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "connectors/fs/object_store.h"
#include "connectors/fs/paths.h"

namespace megasync::connectors::fs {
namespace {

namespace stdfs = std::filesystem;

// "20261128T212312.123Z": sorts as it ages, and is a valid file name everywhere.
std::string version_name(WallTime now) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &tm);
  return fmt::format("{}.{:03}Z", text, ms % 1000);
}

// The version files of one object (regular files only: the folder also holds
// the version folders of objects below it), newest first.
Result<std::vector<stdfs::path>> version_files(const std::string& dir) {
  std::vector<stdfs::path> files;
  std::error_code ec;
  stdfs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
      return files;
    }
    return make_error(ErrorCode::kRetryable, "list versions in {}: {}", dir, ec.message());
  }
  for (; it != stdfs::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !is_internal_name(it->path().filename().string())) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end(), std::greater<>());
  return files;
}

}  // namespace

Status FsObjectStore::keep_version(std::string_view path, int keep) {
  if (Status writable = check_writable(path); !writable) {
    return writable;
  }
  if (keep <= 0) {
    return ok();
  }
  const std::string current = full_path(path);
  struct stat st {};
  if (::lstat(current.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return ok();  // nothing to keep
  }
  const std::string dir = root_ + "/" + std::string(kVersionsDir) + "/" + std::string(path);
  std::error_code ec;
  stdfs::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kRetryable, "create {}: {}", dir, ec.message());
  }
  const std::string name = version_name(WallClock::now());
  std::string target = dir + "/" + name;
  for (int n = 1; ::access(target.c_str(), F_OK) == 0; ++n) {
    target = fmt::format("{}/{}-{:03}", dir, name, n);  // two in one millisecond
  }
  // A hard link keeps the current content without copying it and without
  // taking the file away: the replace that follows renames over the name, so
  // readers never see it missing. Copy where links are not supported.
  if (::link(current.c_str(), target.c_str()) != 0) {
    stdfs::copy_file(current, target, stdfs::copy_options::none, ec);
    if (ec) {
      return make_error(ErrorCode::kRetryable, "keep version of {}: {}", current, ec.message());
    }
  }
  Result<std::vector<stdfs::path>> files = version_files(dir);
  if (!files) {
    return fail(files.error());
  }
  for (std::size_t i = static_cast<std::size_t>(keep); i < files->size(); ++i) {
    stdfs::remove((*files)[i], ec);
  }
  return ok();
}

Result<std::vector<ObjectInfo>> FsObjectStore::versions(std::string_view path) {
  if (Status valid = validate_object_path(path); !valid) {
    return fail(valid.error());
  }
  const std::string dir = root_ + "/" + std::string(kVersionsDir) + "/" + std::string(path);
  Result<std::vector<stdfs::path>> files = version_files(dir);
  if (!files) {
    return fail(files.error());
  }
  std::vector<ObjectInfo> out;
  for (const stdfs::path& file : *files) {
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
      continue;
    }
    ObjectInfo info;
    info.path = std::string(path);
    info.version = file.filename().string();
    info.size = static_cast<std::uint64_t>(st.st_size);
    info.mtime = WallTime(std::chrono::duration_cast<WallClock::duration>(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace megasync::connectors::fs
