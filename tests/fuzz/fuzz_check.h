// What a fuzz target does when an invariant does not hold: print what was expected and abort,
// so libFuzzer saves the input as a crash artifact and the replay test fails on it.
//
// Not assert(): RelWithDebInfo builds define NDEBUG, and the replay build (which runs every seed
// and regression input on every build) must check the same invariants as the fuzzer.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace edge::fuzz {

[[noreturn]] inline void InvariantFailed(const char* file, int line, const char* cond,
                                         const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n  %s\n", file, line, cond,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace edge::fuzz

// FUZZ_CHECK(cond, detail): detail is any expression convertible to std::string, evaluated only
// when cond is false.
#define FUZZ_CHECK(cond, detail)                                              \
  do {                                                                        \
    if (!(cond)) ::edge::fuzz::InvariantFailed(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)
