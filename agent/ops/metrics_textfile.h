// Writes metrics for node_exporter's textfile collector: the whole file is replaced atomically
// (written to "<path>.tmp", then renamed), so the collector never reads half a file.
#pragma once

#include <string>

#include "port/file.h"
#include "port/status.h"

namespace edge::ops {

Status WriteMetricsTextfile(port::FileSystem* fs, const std::string& path,
                            const std::string& content);

}  // namespace edge::ops
