// The real FileProbe: the operating system's answers, through port/.
#include "config/file_probe.h"

namespace edge::config {
namespace {

class PosixFileProbe final : public FileProbe {
 public:
  Result<FileInfo> Inspect(const std::string& path) const override {
    return port::InspectPath(path);
  }
};

}  // namespace

const FileProbe* FileProbe::Posix() {
  static const PosixFileProbe probe;
  return &probe;
}

}  // namespace edge::config
