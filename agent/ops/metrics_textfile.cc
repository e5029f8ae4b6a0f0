#include "agent/ops/metrics_textfile.h"

namespace edge::ops {

Status WriteMetricsTextfile(port::FileSystem* fs, const std::string& path,
                            const std::string& content) {
  const std::string tmp = path + ".tmp";
  auto file = fs->Create(tmp);
  if (!file.ok()) return file.status().WithContext("metrics textfile");
  Status s = (*file)->WriteAt(0, content.data(), content.size());
  file->reset();
  if (s.ok()) s = fs->Rename(tmp, path);
  if (!s.ok()) {
    (void)fs->Remove(tmp);
    return s.WithContext("metrics textfile");
  }
  return Status::Ok();
}

}  // namespace edge::ops
