#include "connectors/fs/object_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "connectors/fs/paths.h"

namespace megasync::connectors::fs {
namespace {

// A writer holds an exclusive flock on its temp file until the file is renamed
// into place (object_write.cc). A temp file nobody holds was left by a writer
// that was killed: removed. The age check keeps away from a file created a
// moment ago whose writer has not taken its lock yet.
void remove_abandoned_temp(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      ::time(nullptr) - st.st_mtime < 2) {
    return;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    ::unlink(path.c_str());
  }
  ::close(fd);
}

constexpr std::size_t kChunk = 1 << 20;

WallTime to_wall_time(const struct timespec& ts) {
  return WallTime(std::chrono::duration_cast<WallClock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

ObjectInfo info_from(std::string path, const struct stat& st) {
  ObjectInfo info;
  info.path = std::move(path);
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mtime = to_wall_time(st.st_mtim);
  return info;
}

}  // namespace

std::string FsObjectStore::full_path(std::string_view path) const {
  std::string full = root_;
  full += '/';
  full += path;
  return full;
}

Status FsObjectStore::check_writable(std::string_view path) const {
  if (read_only_) {
    return make_error(ErrorCode::kPermanent, "{} is read_only", root_);
  }
  return validate_object_path(path);
}

Status FsObjectStore::list(std::string_view prefix,
                           const std::function<Status(const ObjectInfo&)>& each) {
  namespace stdfs = std::filesystem;
  std::error_code ec;
  if (!stdfs::exists(root_, ec) && !ec) {
    if (create_) {
      return ok();  // nothing yet; a write creates it
    }
    // Never an empty listing: a missing source must not look like "delete all".
    return make_error(ErrorCode::kNotFound,
                      "directory {} does not exist (create it, or set create: true on the "
                      "endpoint)",
                      root_);
  }
  stdfs::recursive_directory_iterator it(root_, stdfs::directory_options::none, ec);
  if (ec) {
    return make_error(ErrorCode::kRetryable, "cannot list {}: {}", root_, ec.message());
  }
  const stdfs::path root(root_);
  for (; it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      break;
    }
    const stdfs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (it.depth() == 0 && name == kVersionsDir) {
      it.disable_recursion_pending();
      continue;
    }
    if (is_internal_name(name)) {
      if (!read_only_ && name.starts_with(kTempPrefix)) {
        remove_abandoned_temp(entry.path().string());
      }
      continue;
    }
    struct stat st {};
    // A file deleted while we walk is simply not listed.
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    std::string relative = entry.path().lexically_relative(root).generic_string();
    if (!relative.starts_with(prefix)) {
      continue;
    }
    if (Status status = each(info_from(std::move(relative), st)); !status) {
      return status;
    }
  }
  if (ec) {
    return make_error(ErrorCode::kRetryable, "listing {}: {}", root_, ec.message());
  }
  return ok();
}

Result<std::optional<ObjectInfo>> FsObjectStore::stat(std::string_view path) {
  if (Status valid = validate_object_path(path); !valid) {
    return fail(valid.error());
  }
  struct stat st {};
  if (::lstat(full_path(path).c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return std::optional<ObjectInfo>();
    }
    return make_error(ErrorCode::kRetryable, "stat {}: {}", full_path(path), std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return std::optional<ObjectInfo>();
  }
  return std::optional<ObjectInfo>(info_from(std::string(path), st));
}

Status FsObjectStore::read(std::string_view path, ByteSink& out) {
  if (Status valid = validate_object_path(path); !valid) {
    return valid;
  }
  const std::string full = full_path(path);
  const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return make_error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kRetryable, "open {}: {}",
                      full, std::strerror(errno));
  }
  // Not zero-filled: a small file touches only the pages it uses.
  const auto buffer = std::make_unique_for_overwrite<char[]>(kChunk);
  Status status = ok();
  while (true) {
    const ssize_t n = ::read(fd, buffer.get(), kChunk);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      status = make_error(ErrorCode::kRetryable, "read {}: {}", full, std::strerror(errno));
      break;
    }
    if (n == 0) {
      break;
    }
    status = out.write(std::string_view(buffer.get(), static_cast<std::size_t>(n)));
    if (!status) {
      break;
    }
  }
  ::close(fd);
  return status;
}

Status FsObjectStore::remove(std::string_view path) {
  if (Status writable = check_writable(path); !writable) {
    return writable;
  }
  if (Status parents = check_parents(root_, path); !parents) {
    return parents;
  }
  const std::string full = full_path(path);
  if (::unlink(full.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return make_error(ErrorCode::kRetryable, "delete {}: {}", full, std::strerror(errno));
  }
  // Leave no empty directories behind, as the source has none; stop at the
  // first that still holds something (rmdir fails), and never remove the root.
  std::string_view dir = path;
  for (std::size_t slash = dir.rfind('/'); slash != std::string_view::npos;
       slash = dir.rfind('/')) {
    dir = dir.substr(0, slash);
    if (::rmdir(full_path(dir).c_str()) != 0) {
      break;
    }
  }
  return ok();
}

}  // namespace megasync::connectors::fs
