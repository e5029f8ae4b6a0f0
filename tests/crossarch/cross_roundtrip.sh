#!/usr/bin/env bash
# The cross-architecture round trip (tests/crossarch/CMakeLists.txt, ctest ring_cross_arch_roundtrip):
#   cross_roundtrip.sh NATIVE_TOOL GOLDEN_DIR "ARCH=EMULATOR ARGS... TOOL"...
# Each architecture's ring_image_tool writes the golden workload at test time; every tool then
# verifies every image: the fresh ones (native and each emulated architecture) and the checked-in
# golden ones. Prints one line per check and fails if any check fails.
set -uo pipefail
native=$1
golden_dir=$2
shift 2
work=$(mktemp -d /tmp/edge-cross-roundtrip-XXXXXX)
trap 'rm -rf "$work"' EXIT

declare -A runner
native_arch=$("$native" arch)
runner[$native_arch]="$native"
for spec in "$@"; do
  runner[${spec%%=*}]="${spec#*=}"
done

failed=0
images=("$golden_dir"/golden-*.ring)
for arch in "${!runner[@]}"; do
  # shellcheck disable=SC2086  # the runner is "emulator args tool", split on purpose
  if ! ${runner[$arch]} write "$work/fresh-$arch.ring"; then
    echo "FAILED: $arch could not write its image"
    failed=1
  fi
  images+=("$work/fresh-$arch.ring")
done
checks=0
for arch in "${!runner[@]}"; do
  # shellcheck disable=SC2086
  out=$(${runner[$arch]} verify "${images[@]}")
  rc=$?
  echo "$out"
  checks=$((checks + $(echo "$out" | grep -c ': ok on ')))
  if [ "$rc" != 0 ]; then failed=1; fi
done
echo "cross-arch round trip: ${#runner[@]} architectures (${!runner[*]}), ${#images[@]} images, $checks checks passed"
exit $failed
