#!/usr/bin/env bash
# Regenerates the checked-in golden ring images tests/data/ring/golden-<arch>.ring, one written
# by each architecture the agent ships for: x86_64 natively, aarch64 and armhf with
# ring_image_tool cross-built by the native build (tests/crossarch/CMakeLists.txt) and run under
# qemu user mode. Then every tool verifies every image.
#
# Needed only when the ring's on-disk format or the golden workload (tests/crossarch/
# golden_ring.cc) changes on purpose; a format change must also bump kFormatVersion.
#   bash scripts/make-golden-rings.sh [BUILD_DIR]     (default build/native, configured already)
# Needs: g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf, qemu-user (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/native}
out=tests/data/ring
cmake --build "$build" -j2 --target ring_image_tool ring_image_tool_aarch64 ring_image_tool_armhf
native="$build/tests/crossarch/ring_image_tool"
run_aarch64="qemu-aarch64 -L /usr/aarch64-linux-gnu $build/tests/crossarch/aarch64/ring_image_tool"
run_armhf="qemu-arm -L /usr/arm-linux-gnueabihf $build/tests/crossarch/armhf/ring_image_tool"

mkdir -p "$out"
rm -f "$out"/golden-*.ring
"$native" write "$out/golden-$("$native" arch).ring"
$run_aarch64 write "$out/golden-aarch64.ring"
$run_armhf write "$out/golden-armhf.ring"
for runner in "$native" "$run_aarch64" "$run_armhf"; do
  $runner verify "$out"/golden-*.ring
done
rm -f "$out"/golden-*.ring.lock
chmod 0644 "$out"/golden-*.ring
ls -l "$out"
