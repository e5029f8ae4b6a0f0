// FileProbe: what the config loader needs to know about a referenced file (CA, client key,
// password file, worker handler) beyond its bytes: whether it is a regular file, its permission
// bits, and whether this process may read or execute it.
//
// The seam lets tests and the config fuzzer substitute answers (fake files with any mode); the
// real one asks the OS through port::InspectPath (port/file_info.h).
#pragma once

#include <string>

#include "port/file_info.h"
#include "port/status.h"

namespace edge::config {

using FileInfo = port::FileInfo;

class FileProbe {
 public:
  virtual ~FileProbe() = default;
  // kNotFound when the path does not exist; kPermissionDenied when a directory on the way is
  // not searchable; the message is the OS's reason ("No such file or directory"), without the
  // path, which callers put in front with the field name.
  virtual Result<FileInfo> Inspect(const std::string& path) const = 0;

  // The operating system's answers (port::InspectPath). Never null; lives for the process.
  static const FileProbe* Posix();
};

}  // namespace edge::config
