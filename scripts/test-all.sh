#!/usr/bin/env bash
# Installs what the project needs, builds it, and runs the whole test suite:
#   1. native build, every ctest label (unit, powercut, integration, tls, worker, torture, fuzz)
#   2. clang build with AddressSanitizer + UndefinedBehaviorSanitizer (no recovery) and libFuzzer:
#      the unit and power-cut suites under the sanitizers, then each fuzzer for EDGE_FUZZ_SECONDS
#      (default 60). One clang build serves both: gcc takes ~5x longer to compile with
#      -fsanitize=address,undefined (measured on publisher.cc and ring_store_test.cc).
#   3. aarch64 cross build under qemu user mode (label qemu): unit and powercut suites, and the
#      agent end to end over TLS to a local RabbitMQ node (tests/qemu)
#   4. armhf cross build the same, when Debian's armhf packages could be installed today
# Ends with one line "N passed, N failed" over everything that ran. Exit status 0 only when
# every suite passed. Options: --skip-deps (packages already there), --native-only.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SKIP_DEPS=0
NATIVE_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --skip-deps) SKIP_DEPS=1 ;;
    --native-only) NATIVE_ONLY=1 ;;
    *) echo "test-all: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { echo; echo "=== test-all: $* ($(date -u +%H:%M:%S))"; }
JOBS=$(nproc)
TOTAL_PASS=0
TOTAL_FAIL=0
FAILED_STEPS=()

if [ "$SKIP_DEPS" = 0 ]; then
  say "installing dependencies"
  if [ "$NATIVE_ONLY" = 1 ]; then
    bash scripts/install-deps.sh --native-only || { echo "test-all: dependency install failed"; exit 1; }
  else
    bash scripts/install-deps.sh || { echo "test-all: dependency install failed"; exit 1; }
  fi
fi

# run_ctest STEP BUILD_DIR [ctest args...]: runs ctest, adds its counts to the totals.
run_ctest() {
  local step=$1 dir=$2
  shift 2
  local log="$dir/ctest-$step.log"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # Every test's own output (RELIABILITY lines for docs/RELIABILITY.md) is in LastTest.log.
  cp "$dir/Testing/Temporary/LastTest.log" "$dir/ctest-$step.full.log" 2>/dev/null
  local line total failed
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    total=$(echo "$line" | sed -E 's/.*out of ([0-9]+).*/\1/')
    failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
    TOTAL_PASS=$((TOTAL_PASS + total - failed))
    TOTAL_FAIL=$((TOTAL_FAIL + failed))
  fi
  if [ "$rc" != 0 ]; then
    FAILED_STEPS+=("$step")
    [ -n "$line" ] || TOTAL_FAIL=$((TOTAL_FAIL + 1))
  fi
}

build() {
  local step=$1 dir=$2
  shift 2
  say "configure + build: $step"
  if ! cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"
    FAILED_STEPS+=("$step (configure)")
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    return 1
  fi
  # BUILD_TARGET (optional): build only this target.
  if ! cmake --build "$dir" -j"$JOBS" ${BUILD_TARGET:+--target "$BUILD_TARGET"}; then
    FAILED_STEPS+=("$step (build)")
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    return 1
  fi
}

mkdir -p build
# ctest -j: suites that need RabbitMQ each start their own node (own name, ports, directory), so
# two run side by side; the long ones start first (COST, tests/CMakeLists.txt) and the 3-node
# cluster suite runs alone (RUN_SERIAL).
if build native build/native; then
  say "native: every suite"
  run_ctest native build/native -j"$JOBS"
fi

# The sanitizer and cross builds run the unit and power-cut families (cross builds add their own
# end-to-end test, tests/qemu): skip building the native broker-backed suites and benchmarks
# there (CI time on 2 cores). EDGE_FUZZ instruments every edge library with ASan + UBSan
# (-fno-sanitize-recover: UB fails the test) and coverage for libFuzzer; EDGE_SANITIZE does the
# same for the test programs themselves.
if build sanitize build/sanitize -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
     -DEDGE_SANITIZE=ON -DEDGE_FUZZ=ON -DEDGE_BUILD_BROKER_TESTS=OFF; then
  say "asan+ubsan (clang): unit and powercut"
  EDGE_POWERCUT_IMAGES=${EDGE_ASAN_POWERCUT_IMAGES:-20000} \
    run_ctest asan build/sanitize -L 'unit|powercut' -j"$JOBS"
  # A finding fails the step; run_fuzzer.sh prints the input to add to tests/fuzz/regressions/.
  say "libFuzzer: each target for ${EDGE_FUZZ_SECONDS:-60}s (EDGE_FUZZ_SECONDS)"
  # One more job than cores: each fuzzer is one process, so three share two cores for the same
  # total fuzzing time in one round instead of two.
  run_ctest fuzz build/sanitize -L fuzz -j$((JOBS + 1))
fi

if [ "$NATIVE_ONLY" = 0 ]; then
  if build aarch64 build/aarch64 -DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/aarch64-linux-gnu.cmake" \
       -DEDGE_BUILD_BROKER_TESTS=OFF; then
    # Every unit and power-cut suite, threaded ones included (toolchains/debian-cross.cmake
    # explains why they once hung). --timeout bounds any surprise.
    say "aarch64 under qemu: unit and powercut suites, agent end to end (qemu_forward_test)"
    run_ctest aarch64 build/aarch64 -L qemu --timeout 600 -j"$JOBS"
  fi
  # armhf: ready when what the build needs is really on this machine (scripts/armhf-deps.sh:
  # librabbitmq.a may come from the unpacked .deb, not an installed librabbitmq-dev:armhf).
  . scripts/armhf-deps.sh
  armhf_lacks=$(armhf_missing)
  if [ -n "$armhf_lacks" ]; then
    say "NOTICE: armhf cross build SKIPPED, missing: $armhf_lacks (scripts/install-deps.sh could not set up armhf today?); aarch64 still gates"
  elif build armhf build/armhf -DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/arm-linux-gnueabihf.cmake" \
       -DEDGE_BUILD_BROKER_TESTS=OFF $(armhf_cmake_args); then
    # The daemon power-cut suite's 100000 images take ~7 min under qemu-arm alone; aarch64 runs
    # the full count, armhf a share within its CI budget. EDGE_ARMHF_DAEMON_POWERCUT_IMAGES=100000
    # runs all of them.
    say "armhf under qemu: unit and powercut suites, agent end to end (qemu_forward_test)"
    EDGE_DAEMON_POWERCUT_IMAGES=${EDGE_ARMHF_DAEMON_POWERCUT_IMAGES:-20000} \
      run_ctest armhf build/armhf -L qemu --timeout 600 -j"$JOBS"
  fi
fi

say "reliability report"
# docs/RELIABILITY.md is a copy of this file from a full run.
reliability_logs=(build/*/ctest-*.full.log)
if [ -e "${reliability_logs[0]}" ]; then
  if ! /usr/bin/python3 scripts/reliability_report.py build/RELIABILITY.md "${reliability_logs[@]}"; then
    FAILED_STEPS+=("reliability report")
  fi
fi

say "summary"
if [ ${#FAILED_STEPS[@]} -gt 0 ]; then
  echo "test-all: FAILED steps: ${FAILED_STEPS[*]}"
fi
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ ${#FAILED_STEPS[@]} -eq 0 ]
