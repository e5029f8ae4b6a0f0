// InspectPath: stat(2) for type and mode, access(2) for what this process may do.
#include "port/file_info.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <system_error>

namespace edge::port {

Result<FileInfo> InspectPath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    // std::error_code, unlike strerror, is thread-safe.
    std::string why = std::error_code(err, std::generic_category()).message();
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound(why);
    if (err == EACCES || err == EPERM) return Status::PermissionDenied(why);
    return Status::IoError(why);
  }
  FileInfo info;
  info.regular = S_ISREG(st.st_mode);
  info.directory = S_ISDIR(st.st_mode);
  info.mode = static_cast<uint32_t>(st.st_mode & 07777);
  info.readable = ::access(path.c_str(), R_OK) == 0;
  info.executable = ::access(path.c_str(), X_OK) == 0;
  return info;
}

}  // namespace edge::port
