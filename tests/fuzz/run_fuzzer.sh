#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time, then prints its RELIABILITY line
# (tests/support/reliability_line.h): count = executions, records = inputs in the corpus at the
# end, lost = 1 when the fuzzer found a crash, a failed invariant, a leak, a timeout or an OOM.
#
# usage: run_fuzzer.sh NAME FUZZER WORK_DIR PRINT_LINE [--dict FILE] INPUT_DIR...
#   WORK_DIR/corpus     inputs the fuzzer found (kept between runs in the same build dir)
#   WORK_DIR/artifacts  crashing inputs
#   WORK_DIR/fuzz.log   libFuzzer's output
# The INPUT_DIRs (the checked-in seeds and regressions) are read, never written.
# Environment: EDGE_FUZZ_SECONDS (default 60) bounds the run.
# Exit status: 0 when the run ended without a finding, 1 when it found one, 2 on usage errors.
set -uo pipefail
if [ $# -lt 5 ]; then
  echo "usage: $0 NAME FUZZER WORK_DIR PRINT_LINE [--dict FILE] INPUT_DIR..." >&2
  exit 2
fi
name=$1 fuzzer=$2 work=$3 printer=$4
shift 4
dict=()
if [ "${1:-}" = --dict ]; then
  dict=(-dict="$2")
  shift 2
fi
seconds=${EDGE_FUZZ_SECONDS:-60}
case "$seconds" in
  '' | *[!0-9]*)
    echo "run_fuzzer: EDGE_FUZZ_SECONDS must be a whole number of seconds, got '$seconds'" >&2
    exit 2
    ;;
esac
for d in "$@"; do
  [ -d "$d" ] || { echo "run_fuzzer: input directory $d does not exist" >&2; exit 2; }
done

mkdir -p "$work/corpus" "$work/artifacts"
log=$work/fuzz.log
rm -f "$work"/artifacts/*
echo "run_fuzzer: $name for ${seconds}s; log $log"
# -timeout: one input taking this long is a finding (an endless loop), not a slow machine.
# -rss_limit_mb: memory that grows with the input is a finding too.
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" "$@" >"$log" 2>&1
rc=$?

# Executions: "Done N runs in S second(s)" at a normal end; after a finding, the last status
# line ("#N ...") is the best count there is.
runs=$(grep -oE '^Done [0-9]+ runs' "$log" | tail -n 1 | awk '{print $2}')
if [ -z "$runs" ]; then
  runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
fi
corpus=$(grep -oE 'corp: [0-9]+/' "$log" | tail -n 1 | grep -oE '[0-9]+')
seed=$(grep -oE 'INFO: Seed: [0-9]+' "$log" | head -n 1 | grep -oE '[0-9]+$')
lost=0
[ "$rc" = 0 ] || lost=1
# The build directory the fuzzer lives in (FUZZER is <build>/tests/fuzz/NAME_fuzz), as the path
# a developer would type from the source tree when it is inside it (build/sanitize in CI).
build_dir=$(cd "$(dirname "$fuzzer")/../.." && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${build_dir#"$source_dir"/}

"$printer" "fuzz-$name" fuzz "${runs:-0}" "${corpus:-0}" "$lost" 0 \
  "libFuzzer with ASan and UBSan for ${seconds}s, invariants checked on every input" \
  "EDGE_FUZZ_SECONDS=$seconds ctest --test-dir $build_dir -R fuzz_run_$name -V (libFuzzer seed ${seed:-?})" ||
  exit 2

if [ "$rc" != 0 ]; then
  echo "run_fuzzer: $name FOUND A PROBLEM (exit $rc). The end of the fuzzer's log:"
  tail -n 80 "$log"
  for f in "$work"/artifacts/*; do
    [ -f "$f" ] || continue
    echo "run_fuzzer: input saved as $f ($(stat -c %s "$f") bytes); base64:"
    base64 -w 76 "$f"
    echo "run_fuzzer: fix the bug, then add the input as a regression test:"
    echo "  base64 -d > tests/fuzz/regressions/$name/<what-it-found> <<'END'   (the lines above)"
  done
  exit 1
fi
exit 0
