// The POSIX implementation of the file-system seam: the only place that touches file syscalls.
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "port/file.h"

namespace edge::port {
namespace {

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string msg = path + ": " + what + " failed: " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT: return Status::NoSpace(msg);
    case EACCES:
    case EPERM:
    case EROFS: return Status::PermissionDenied(msg);
    case ENOENT: return Status::NotFound(msg);
    case EEXIST: return Status::AlreadyExists(msg);
    case EWOULDBLOCK: return Status::Unavailable(msg);
    default: return Status::IoError(msg);
  }
}

// Owns a descriptor; closes it once.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Rings are larger than 2 GiB on many gateways, and every offset goes through off_t here: on
// 32-bit armhf that is only 64 bits with _FILE_OFFSET_BITS=64 (cmake/EdgeDefaults.cmake).
// Without it the static_casts below would silently wrap offsets.
static_assert(sizeof(off_t) == 8, "build with _FILE_OFFSET_BITS=64: ring offsets exceed 2 GiB");

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::pwrite(fd_.get(), p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      if (w == 0) return Status::IoError(path_ + ": write made no progress");
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::Ok();
  }

  // pwritev takes at most IOV_MAX slices per call and, like pwrite, may write fewer bytes than
  // asked: each call starts at the first byte not yet written.
  Status WriteGatherAt(uint64_t offset, const ConstSlice* slices, size_t count) override {
    constexpr int kMaxIov = IOV_MAX < 1024 ? IOV_MAX : 1024;
    struct iovec iov[kMaxIov];
    size_t i = 0;     // the first slice not completely written
    size_t done = 0;  // bytes of slices[i] already written
    while (i < count) {
      if (done == slices[i].n) {  // also skips empty slices
        i++;
        done = 0;
        continue;
      }
      int k = 0;
      for (size_t j = i; j < count && k < kMaxIov; j++) {
        const size_t skip = j == i ? done : 0;
        if (slices[j].n == skip) continue;
        iov[k].iov_base = const_cast<char*>(static_cast<const char*>(slices[j].data) + skip);
        iov[k].iov_len = slices[j].n - skip;
        k++;
      }
      ssize_t w = ::pwritev(fd_.get(), iov, k, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      if (w == 0) return Status::IoError(path_ + ": write made no progress");
      offset += static_cast<uint64_t>(w);
      for (size_t left = static_cast<size_t>(w); left > 0;) {
        const size_t rest = slices[i].n - done;
        if (left < rest) {
          done += left;
          break;
        }
        left -= rest;
        i++;
        done = 0;
      }
    }
    return Status::Ok();
  }

  Status ReadAt(uint64_t offset, void* data, size_t n) const override {
    char* p = static_cast<char*>(data);
    while (n > 0) {
      ssize_t r = ::pread(fd_.get(), p, n, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path_, errno);
      }
      if (r == 0) {
        return Status::Corruption(path_ + ": short read at offset " + std::to_string(offset) +
                                  " (file ends early)");
      }
      p += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return ErrnoStatus("fdatasync", path_, errno);
    return Status::Ok();
  }

  Status DropCache() override {
    // Clean pages are dropped; after a failed fdatasync Linux has marked the failed pages
    // clean, so this is what makes the next read come from the device.
    int rc = ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (rc != 0) return ErrnoStatus("posix_fadvise(DONTNEED)", path_, rc);
    return Status::Ok();
  }

  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return ErrnoStatus("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}  // the lock goes with the descriptor

 private:
  UniqueFd fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, Access access) override {
    int flags = (access == Access::kReadOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    int fd = ::open(path.c_str(), flags);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    return std::unique_ptr<File>(new PosixFile(path, fd));
  }

  Result<std::unique_ptr<File>> Create(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return ErrnoStatus("create", path, errno);
    return std::unique_ptr<File>(new PosixFile(path, fd));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus("rename to " + to, from, errno);
    }
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoStatus("open directory", dir, errno);
    if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync directory", dir, errno);
    return Status::Ok();
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return ErrnoStatus("open lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::Unavailable(path + ": locked by another process (is another edge-agent "
                                          "using this ring?)");
      }
      return ErrnoStatus("flock", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }
};

}  // namespace

FileSystem* FileSystem::Posix() {
  static PosixFileSystem fs;
  return &fs;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace edge::port
