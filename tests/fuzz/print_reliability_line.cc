// Prints one RELIABILITY line (tests/support/reliability_line.h) from the command line, so the
// shell wrapper that drives a libFuzzer run (run_fuzzer.sh) uses the same format as the C++
// suites rather than a copy of it.
//
// usage: print_reliability_line SUITE FAMILY COUNT RECORDS LOST DUPLICATES INJECTS REPRODUCE
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/support/reliability_line.h"

namespace {

bool ParseCount(const char* text, std::uint64_t* out) {
  if (text[0] < '0' || text[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr,
                 "usage: %s SUITE FAMILY COUNT RECORDS LOST DUPLICATES INJECTS REPRODUCE\n",
                 argv[0]);
    return 2;
  }
  edge::test::ReliabilityLine line;
  line.suite = argv[1];
  line.family = argv[2];
  const char* names[] = {"COUNT", "RECORDS", "LOST", "DUPLICATES"};
  std::uint64_t* fields[] = {&line.count, &line.records, &line.lost, &line.duplicates};
  for (int i = 0; i < 4; i++) {
    if (!ParseCount(argv[3 + i], fields[i])) {
      std::fprintf(stderr, "print_reliability_line: %s must be a whole number, got '%s'\n",
                   names[i], argv[3 + i]);
      return 2;
    }
  }
  line.injects = argv[7];
  line.reproduce = argv[8];
  if (line.injects.find('"') != std::string::npos ||
      line.reproduce.find('"') != std::string::npos) {
    std::fprintf(stderr, "print_reliability_line: INJECTS and REPRODUCE must not hold '\"'\n");
    return 2;
  }
  edge::test::PrintReliabilityLine(line);
  return 0;
}
