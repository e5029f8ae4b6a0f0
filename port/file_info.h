// What a path is and what this process may do with it: stat(2) and access(2), for the config
// loader's checks of the files a config names (config/file_probe.h: CA, client key, password
// file, worker handler). port::FileSystem moves bytes and has no notion of modes or of who may
// read a file, which is exactly what those checks are about.
#pragma once

#include <cstdint>
#include <string>

#include "port/status.h"

namespace edge::port {

struct FileInfo {
  bool regular = false;  // a regular file (after following symlinks)
  bool directory = false;
  uint32_t mode = 0;        // permission bits (st_mode & 07777)
  bool readable = false;    // this process may read it (access R_OK)
  bool executable = false;  // this process may execute it (access X_OK)
};

// kNotFound when the path does not exist; kPermissionDenied when a directory on the way is not
// searchable; the message is the OS's reason ("No such file or directory") without the path,
// which callers put in front with the field that named it. Thread-safe.
Result<FileInfo> InspectPath(const std::string& path);

}  // namespace edge::port
