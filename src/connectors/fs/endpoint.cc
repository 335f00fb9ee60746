#include "connectors/fs/endpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace megasync::connectors::fs {

Status FsEndpoint::probe(Deadline /*deadline*/) {
  const std::string& root = options_.root;
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    if (errno == ENOENT && options_.create && !options_.read_only) {
      std::error_code ec;
      std::filesystem::create_directories(root, ec);
      if (ec) {
        return make_error(ErrorCode::kPermanent, "cannot create directory {}: {}", root,
                          ec.message());
      }
      return ok();
    }
    return make_error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kRetryable,
                      "directory {} is not accessible: {}{}", root, std::strerror(errno),
                      errno == ENOENT ? " (create it, or set create: true on the endpoint)" : "");
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kPermanent, "{} is not a directory", root);
  }
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr) {
    return make_error(ErrorCode::kPermanent, "directory {} cannot be read: {}", root,
                      std::strerror(errno));
  }
  ::closedir(dir);
  if (options_.read_only) {
    return ok();
  }
  // A real write round trip: permission bits say nothing about a read-only mount
  // or a full disk.
  std::string probe_path = root + "/.megasync-probe-XXXXXX";
  int fd = ::mkstemp(probe_path.data());
  if (fd < 0) {
    return make_error(ErrorCode::kPermanent, "directory {} is not writable: {}", root,
                      std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe_path.c_str());
  return ok();
}

}  // namespace megasync::connectors::fs
