// The file-system seam. Code above port/ never calls POSIX for files: it goes through File and
// FileSystem, so tests can swap in SimFileSystem (port/sim_fs.h), which keeps only what was synced
// and tears, drops or reorders the rest at a simulated power cut.
//
// Durability contract (what callers may rely on, and all they may rely on):
// - Bytes written with WriteAt are durable only after a later Sync() of the same file returned OK.
// - A new file's name, a rename or a removal is durable only after SyncDir() of its directory.
// - After Sync() fails, nothing written since the previous successful Sync() is known to be on
//   disk, and a later Sync() returning OK proves nothing about it (Linux marks the pages clean).
//   Callers must not retry-and-trust; DropCache() makes later reads come from the device, so the
//   caller can find out what really is there.
// - Un-synced writes may land partially, out of order, or as garbage, at sector granularity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "port/status.h"

namespace edge::port {

// Sector size assumed for torn-write reasoning: writes are atomic at best per sector.
constexpr size_t kSectorBytes = 512;

// Borrowed bytes for a gathered write: n bytes at data, valid for the duration of the call.
struct ConstSlice {
  const void* data;
  size_t n;
};

class File {
 public:
  virtual ~File() = default;

  // Writes all n bytes at offset, or fails (a short write is reported as an error).
  virtual Status WriteAt(uint64_t offset, const void* data, size_t n) = 0;
  // Writes the slices back to back from offset: the same bytes, the same durability and the
  // same all-or-error outcome as WriteAt of their concatenation. It lets the ring write records
  // from where the producers' payloads already are instead of copying a whole batch into one
  // buffer first (the copy was the ring's largest allocation, docs/BENCHMARKS.md "Resident
  // memory"). The default concatenates into a temporary buffer and calls WriteAt once, so a
  // wrapping or simulated file sees one write; the POSIX file overrides it with pwritev(2).
  virtual Status WriteGatherAt(uint64_t offset, const ConstSlice* slices, size_t count);
  // Reads exactly n bytes at offset; fewer available is kCorruption ("short read").
  virtual Status ReadAt(uint64_t offset, void* data, size_t n) const = 0;
  // fdatasync: makes the file's written data (and its size) durable.
  virtual Status Sync() = 0;
  // Drops cached pages so later reads see what the device holds (used after a failed Sync).
  virtual Status DropCache() = 0;
  virtual Result<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

// An exclusive advisory lock on a path, held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class Access { kReadOnly, kReadWrite };

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens an existing file. kNotFound when it does not exist.
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, Access access) = 0;
  // Creates (or truncates) a file for read-write. The name is durable only after SyncDir.
  virtual Result<std::unique_ptr<File>> Create(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Removing a file that does not exist is OK.
  virtual Status Remove(const std::string& path) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Takes an exclusive lock so two agents never write one ring. kUnavailable when held elsewhere.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;

  // The real file system (POSIX). Never null; lives for the process.
  static FileSystem* Posix();
};

// The directory part of a path ("." when it has none).
std::string DirName(const std::string& path);

}  // namespace edge::port
