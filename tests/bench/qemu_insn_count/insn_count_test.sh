#!/usr/bin/env bash
# The instruction-counting plugin (insn_count.c) against a guest with a known loop
# (count_loop.c), per architecture (tests/bench/qemu_insn_count/CMakeLists.txt):
#   insn_count_test.sh PLUGIN "ARCH=QEMU=GUEST"...
# Checks, exactly (instruction counts, no timing):
#   - the count grows linearly with the iterations: c(3N) - c(2N) == c(2N) - c(N) > 0;
#   - with T threads each looping N times, the per-iteration slope is T times the single one
#     (every thread is counted; up to a few instructions of scheduling-dependent thread
#     start/join work);
#   - a count is the same in two identical runs;
#   - the slope equals the one from qemu's own, independent count: its exec log with one
#     instruction per translation block (-singlestep -d exec,nochain) has one line per executed
#     instruction (the totals agree exactly on aarch64; on x86-64 the plugin counts 3 more per
#     process, a constant that the differences used by the benchmark cancel);
#   - an unknown plugin argument makes qemu fail (the plugin's clear error, not a silent 0).
set -uo pipefail
plugin=$1
shift
work=$(mktemp -d /tmp/edge-insn-count-XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
fail() { echo "FAILED: $*"; failed=1; }

count() {  # QEMU GUEST ITERATIONS THREADS -> prints the count
  rm -f "$work/out"
  if ! "$1" -plugin "$plugin,out=$work/out" "$2" "$3" "$4"; then
    echo "qemu failed: $*" >&2
    echo -1
    return
  fi
  awk '$1 == "insns" { print $2 }' "$work/out"
}

for spec in "$@"; do
  IFS='=' read -r arch qemu guest <<<"$spec"
  # Same number of digits in every argument: argv's size does not change the start-up work.
  c1=$(count "$qemu" "$guest" 100000 1)
  c2=$(count "$qemu" "$guest" 200000 1)
  c3=$(count "$qemu" "$guest" 300000 1)
  c2again=$(count "$qemu" "$guest" 200000 1)
  echo "$arch, 1 thread: $c1 $c2 $c3 instructions for 100000/200000/300000 iterations"
  if [ -z "$c1" ] || [ -z "$c2" ] || [ -z "$c3" ] || [ "$c1" -lt 0 ] || [ "$c2" -lt 0 ] || [ "$c3" -lt 0 ]; then
    fail "$arch: no count"
    continue
  fi
  d1=$((c2 - c1))
  d2=$((c3 - c2))
  [ "$d1" -gt 0 ] || fail "$arch: count does not grow with the iterations ($c1 -> $c2)"
  [ "$d1" = "$d2" ] || fail "$arch: not linear: +$d1 then +$d2 per 100000 iterations"
  [ "$c2" = "$c2again" ] || fail "$arch: two identical runs counted $c2 and $c2again"
  [ $((d1 % 100000)) = 0 ] || fail "$arch: $d1 instructions per 100000 iterations is not a whole number per iteration"
  trace_count() {  # ITERATIONS -> qemu's exec-log count
    "$qemu" -singlestep -d exec,nochain -D "$work/trace" "$guest" "$1" 1
    grep -c '^Trace' "$work/trace"
    rm -f "$work/trace"
  }
  p=$(( $(count "$qemu" "$guest" 20000 1) - $(count "$qemu" "$guest" 10000 1) ))
  t=$(( $(trace_count 20000) - $(trace_count 10000) ))
  echo "$arch: 10000 more iterations: plugin +$p, qemu exec log +$t instructions"
  [ "$p" = "$t" ] || fail "$arch: the plugin counted +$p instructions, qemu's exec log +$t"
  t1=$(count "$qemu" "$guest" 100000 3)
  t2=$(count "$qemu" "$guest" 200000 3)
  echo "$arch, 3 threads: $t1 $t2 instructions for 100000/200000 iterations each"
  # Thread creation and pthread_join take a few more or fewer instructions depending on
  # scheduling (a join that finds the thread finished does not wait), so the threaded slope is
  # exact up to a small constant, far below one thread's share (a missed thread is d1 off).
  off=$((t2 - t1 - 3 * d1))
  [ "${off#-}" -le 10000 ] || fail "$arch: 3 threads add $((t2 - t1)) per 100000 iterations, expected 3 x $d1"
  echo "$arch: $((d1 / 100000)) instructions per iteration"
  if "$qemu" -plugin "$plugin,bogus=1" "$guest" 1 1 2>"$work/err"; then
    fail "$arch: qemu accepted an unknown plugin argument"
  elif ! grep -q "unknown or too long argument 'bogus=1'" "$work/err"; then
    fail "$arch: no clear error for an unknown plugin argument: $(cat "$work/err")"
  fi
done
[ "$failed" = 0 ] && echo "insn_count: all checks passed"
exit "$failed"
