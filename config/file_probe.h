// FileProbe: what the config loader needs to know about a referenced file (CA, client key,
// password file, worker handler) beyond its bytes: whether it is a regular file, its permission
// bits, and whether this process may read or execute it.
//
// port::FileSystem reads and writes bytes but has no notion of modes; this seam keeps the few
// stat()/access() calls the loader needs in one place (file_probe.cc) and lets tests substitute
// answers. If port::FileSystem grows a Stat(), this can become a thin adapter over it.
#pragma once

#include <cstdint>
#include <string>

#include "port/status.h"

namespace edge::config {

struct FileInfo {
  bool regular = false;  // a regular file (after following symlinks)
  bool directory = false;
  uint32_t mode = 0;        // permission bits (st_mode & 07777)
  bool readable = false;    // this process may read it (access R_OK)
  bool executable = false;  // this process may execute it (access X_OK)
};

class FileProbe {
 public:
  virtual ~FileProbe() = default;
  // kNotFound when the path does not exist; kPermissionDenied when a directory on the way is
  // not searchable; the message is the OS's reason ("No such file or directory"), without the
  // path, which callers put in front with the field name.
  virtual Result<FileInfo> Inspect(const std::string& path) const = 0;

  // stat(2) and access(2). Never null; lives for the process.
  static const FileProbe* Posix();
};

}  // namespace edge::config
