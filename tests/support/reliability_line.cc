#include "tests/support/reliability_line.h"

#include <cstdio>

namespace edge::test {

void PrintReliabilityLine(const ReliabilityLine& line) {
  std::printf(
      "RELIABILITY suite=%s family=%s count=%llu records=%llu lost=%llu duplicates=%llu "
      "injects=\"%s\" reproduce=\"%s\"\n",
      line.suite.c_str(), line.family.c_str(), static_cast<unsigned long long>(line.count),
      static_cast<unsigned long long>(line.records), static_cast<unsigned long long>(line.lost),
      static_cast<unsigned long long>(line.duplicates), line.injects.c_str(),
      line.reproduce.c_str());
  std::fflush(stdout);
}

}  // namespace edge::test
