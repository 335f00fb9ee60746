// FsObjectStore::write: the atomic replace (temp file, rename over the
// target), so that a reader or a crash sees the old file or the whole new one;
// and flush(), which makes the writes durable (or write() does, file by file).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "connectors/fs/object_store.h"
#include "connectors/fs/paths.h"
#include "connectors/http/encode.h"

namespace megasync::connectors::fs {
namespace {

constexpr std::size_t kChunk = 1 << 20;

std::string io_error(std::string_view what, const std::string& file) {
  return fmt::format("{} {}: {}", what, file, std::strerror(errno));
}

// Owns the temp file until it is renamed into place; removes it otherwise.
class TempFile {
 public:
  // Locked for as long as this process has it open: a temp file nobody holds
  // a lock on was left by a writer that died (remove_abandoned_temp).
  explicit TempFile(std::string dir) : path_(std::move(dir) + "/.megasync-tmp-XXXXXX") {
    fd_ = ::mkostemp(path_.data(), O_CLOEXEC);
    if (fd_ >= 0) {
      (void)::flock(fd_, LOCK_EX | LOCK_NB);  // a new file: nobody else holds it
    }
  }
  ~TempFile() {
    close();
    if (!renamed_) {
      ::unlink(path_.c_str());
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  int close() {
    int rc = 0;
    if (fd_ >= 0) {
      rc = ::close(fd_);
      fd_ = -1;
    }
    return rc;
  }
  void mark_renamed() { renamed_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  bool renamed_ = false;
};

Status write_all(int fd, const char* data, std::size_t size, const std::string& file) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      // A full disk or a quota clears when space is freed: worth a retry.
      return make_error(ErrorCode::kRetryable, "{}", io_error("write", file));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return ok();
}

Status fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("open", dir));
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("fsync", dir));
  }
  return ok();
}

}  // namespace

Result<ObjectInfo> FsObjectStore::write(std::string_view path, ByteSource& in,
                                        const ObjectMeta& meta) {
  if (Status writable = check_writable(path); !writable) {
    return fail(writable.error());
  }
  if (Status parents = check_parents(root_, path); !parents) {
    return fail(parents.error());
  }
  const std::string full = full_path(path);
  const std::string dir = full.substr(0, full.rfind('/'));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kRetryable, "create directory {}: {}", dir, ec.message());
  }
  TempFile temp(dir);
  if (temp.fd() < 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("create temp file in", dir));
  }

  http::Digest sha(http::Digest::Kind::kSha256);
  // Not zero-filled: a small file touches only the pages it uses.
  const auto buffer = std::make_unique_for_overwrite<char[]>(kChunk);
  std::uint64_t size = 0;
  while (true) {
    Result<std::size_t> n = in.read(buffer.get(), kChunk);
    if (!n) {
      return fail(n.error());  // the source's code: kNotFound tells a vanished source
    }
    if (*n == 0) {
      break;
    }
    if (Status status = write_all(temp.fd(), buffer.get(), *n, temp.path()); !status) {
      return fail(status.error());
    }
    sha.update(std::string_view(buffer.get(), *n));
    size += *n;
  }
  const std::string sha256 = http::hex(sha.finish());
  if (!meta.sha256.empty() && meta.sha256 != sha256) {
    return make_error(ErrorCode::kRetryable,
                      "{}: content SHA-256 {} does not match the source's {}", full, sha256,
                      meta.sha256);
  }

  // mkstemp makes 0600; synced files are ordinary readable files.
  if (::fchmod(temp.fd(), 0644) != 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("chmod", temp.path()));
  }
  if (meta.mtime != WallTime{}) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(meta.mtime.time_since_epoch()).count();
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    times[1].tv_nsec = static_cast<long>(ns % 1'000'000'000);
    if (times[1].tv_nsec < 0) {
      times[1].tv_sec -= 1;
      times[1].tv_nsec += 1'000'000'000;
    }
    if (::futimens(temp.fd(), times) != 0) {
      return make_error(ErrorCode::kRetryable, "{}", io_error("set mtime of", temp.path()));
    }
  }
  if (durability_ == Durability::kObject && ::fsync(temp.fd()) != 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("fsync", temp.path()));
  }
  struct stat st {};
  if (::fstat(temp.fd(), &st) != 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("stat", temp.path()));
  }
  // Renamed while still open and locked, so no cleaner can take it first.
  if (::rename(temp.path().c_str(), full.c_str()) != 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("rename into", full));
  }
  temp.mark_renamed();
  if (temp.close() != 0) {
    return make_error(ErrorCode::kRetryable, "{}", io_error("close", full));
  }
  // The rename is durable only once the directory is.
  if (durability_ == Durability::kObject) {
    if (Status synced = fsync_dir(dir); !synced) {
      return fail(synced.error());
    }
  }
  ObjectInfo info;
  info.path = std::string(path);
  info.size = size;
  info.mtime = WallTime(std::chrono::duration_cast<WallClock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  info.sha256 = sha256;
  return info;
}

Status FsObjectStore::flush() {
  if (durability_ != Durability::kRun || read_only_) {
    return ok();
  }
  const int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return ok();  // nothing was written (a `create` root is made by the first write)
    }
    return make_error(ErrorCode::kRetryable, "{}", io_error("open", root_));
  }
  const int rc = ::syncfs(fd);
  ::close(fd);
  if (rc != 0) {
    // A write-back error (EIO, ENOSPC) means a file written may not be whole
    // on disk: the run fails, and the next one compares and copies again.
    return make_error(ErrorCode::kRetryable, "{}", io_error("syncfs", root_));
  }
  return ok();
}

}  // namespace megasync::connectors::fs
