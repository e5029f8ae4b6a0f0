#!/usr/bin/env bash
# Builds the Debian packages (cmake/Packaging.cmake): amd64 natively, arm64 and armhf with the
# cross toolchains in toolchains/. Each architecture is built in its own directory
# build/pkg-<arch> (RelWithDebInfo, no tests; CPack strips the binary), and the packages are
# collected in build/packages/:
#   bash scripts/package.sh                  all three (armhf skipped with a NOTICE when what
#                                            its build needs is missing: scripts/armhf-deps.sh)
#   bash scripts/package.sh amd64 arm64      just these
# Exit status 0 when every requested package was built (a skipped armhf counts as not built
# only when asked for explicitly).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/packages
JOBS=${JOBS:-2}
explicit=1
archs=("$@")
if [ ${#archs[@]} = 0 ]; then archs=(amd64 arm64 armhf); explicit=0; fi
mkdir -p "$OUT"


built=()
failed=()
for arch in "${archs[@]}"; do
  toolchain=()
  case "$arch" in
    amd64) ;;
    arm64) toolchain=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/aarch64-linux-gnu.cmake") ;;
    armhf)
      toolchain=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/toolchains/arm-linux-gnueabihf.cmake")
      # What is really there (scripts/armhf-deps.sh): librabbitmq.a may be the one unpacked
      # from its .deb rather than an installed librabbitmq-dev:armhf.
      . scripts/armhf-deps.sh
      missing=$(armhf_missing)
      if [ -n "$missing" ]; then
        echo "package: NOTICE: armhf skipped, missing: $missing (scripts/install-deps.sh; Debian's armhf index may be unavailable today)"
        [ $explicit = 1 ] && failed+=(armhf)
        continue
      fi
      toolchain+=($(armhf_cmake_args))
      ;;
    *) echo "package: unknown architecture '$arch' (amd64, arm64, armhf)" >&2; exit 2 ;;
  esac
  dir=$ROOT/build/pkg-$arch
  echo "=== package: $arch in $dir"
  if cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGE_BUILD_TESTS=OFF \
       "${toolchain[@]}" >"$dir.configure.log" 2>&1 \
     && cmake --build "$dir" -j"$JOBS" --target edge-agent edge_agent_man_page edge_agent_changelog \
     && (cd "$dir" && cpack -G DEB -B "$dir/cpack" >"$dir/cpack.log" 2>&1); then
    deb=$(ls "$dir"/cpack/edge-agent_*_"$arch".deb | head -n 1)
    cp "$deb" "$OUT/"
    built+=("$OUT/$(basename "$deb")")
  else
    [ -f "$dir.configure.log" ] && tail -n 20 "$dir.configure.log"
    [ -f "$dir/cpack.log" ] && tail -n 20 "$dir/cpack.log"
    failed+=("$arch")
  fi
done

for deb in "${built[@]}"; do
  echo "package: $deb ($(stat -c %s "$deb") bytes)"
  dpkg-deb -f "$deb" Package Version Architecture Depends | sed 's/^/    /'
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "package: FAILED or skipped: ${failed[*]}"
  exit 1
fi
