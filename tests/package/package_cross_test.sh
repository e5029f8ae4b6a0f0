#!/usr/bin/env bash
# The arm64 or armhf package, as a gateway gets it (ctest package_cross, label qemu; cross
# builds only, so CI checks the package of every architecture it builds):
#   package_cross_test.sh BUILD_DIR SOURCE_DIR EMULATOR...
#  1. cpack builds the .deb from the cross build; control fields (Architecture the build's),
#     conffile, maintainer scripts, the files the unit and README promise (package_checks.sh).
#  2. The packaged binary is for the target's machine and stripped; every library it links
#     (NEEDED, found in the target's multiarch directories) belongs to a package Depends names,
#     and neither librabbitmq.so nor OpenSSL is among them.
#  3. Unpacked, the binary runs under qemu user mode: its --help is the packaged man page, the
#     packaged config is a complete document, and without the site's files check-config names
#     exactly the CA and the password file (what an installer must add).
# The amd64 package installed and forwarding is package_install_test.sh; the aarch64 agent
# forwarding under qemu to a real broker is tests/qemu.
set -uo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR SOURCE_DIR EMULATOR...}" && pwd)
SRC=$(cd "${2:?usage: $0 BUILD_DIR SOURCE_DIR EMULATOR...}" && pwd)
shift 2
[ $# -gt 0 ] || { echo "FAIL: no emulator given" >&2; exit 1; }
EMULATOR=("$@")

WORK=$(mktemp -d /tmp/edge-pkg-cross-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); echo "ok: $*"; }
# shellcheck source=package_checks.sh
. "$SRC/tests/package/package_checks.sh"

arch=$(sed -nE 's/^set\(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "([a-z0-9]+)"\)$/\1/p' \
         "$BUILD/CPackConfig.cmake")
case "$arch" in
  arm64) triple=aarch64-linux-gnu machine=AArch64 ;;
  armhf) triple=arm-linux-gnueabihf machine=ARM ;;
  *) fail "package architecture '$arch' from $BUILD is not arm64 or armhf" ;;
esac

# 1. Build and inspect the package.
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 \
  || { cat "$WORK/cpack.log"; fail "cpack could not build the $arch package"; }
DEB=$(ls "$WORK"/pkg/edge-agent_*_"$arch".deb 2>/dev/null | head -n 1)
[ -f "$DEB" ] || fail "no edge-agent_*_$arch.deb in $WORK/pkg"
ok "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"
check_package_control "$DEB" "$arch" "$WORK"
check_package_files "$DEB"
ok "control (Architecture $arch), conffile, maintainer scripts, the promised files, built-using"

# 2. The binary and what it links.
ROOT=$WORK/root
dpkg -x "$DEB" "$ROOT" || fail "dpkg -x failed"
BIN=$ROOT/usr/bin/edge-agent
got=$(readelf -h "$BIN" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); print $2}')
[ "$got" = "$machine" ] || fail "the packaged binary is for '$got', not $machine"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
needed=$(readelf -d "$BIN" | awk -F'[][]' '/NEEDED/ {print $2}')
[ -n "$needed" ] || fail "the packaged binary links no library (readelf -d)"
for lib in $needed; do
  case "$lib" in
    librabbitmq*|libssl*|libcrypto.so*) fail "$lib is linked: librabbitmq must be linked statically" ;;
  esac
  # dpkg knows a file by the path its package shipped it under: with merged /usr, /lib/X and
  # /usr/lib/X are one file, so every spelling is asked.
  found="" owner=""
  for d in /usr/lib/$triple /lib/$triple /usr/lib /lib; do
    [ -e "$d/$lib" ] || continue
    found=$d/$lib
    for p in "$d/$lib" "$(readlink -f "$d/$lib")"; do
      owner=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1)
      [ -n "$owner" ] && break 2
    done
  done
  [ -n "$found" ] || fail "$lib (NEEDED) is not installed for $arch here"
  [ -n "$owner" ] || fail "no installed package owns $found"
  echo "$DEPENDS" | sed 's/, /\n/g' | awk '{print $1}' | grep -qxF "$owner" \
    || fail "$lib comes from $owner, which Depends ($DEPENDS) does not name"
done
ok "$machine binary; Depends covers every linked library: $(echo "$needed" | tr '\n' ' ')"

# 3. Run it under qemu.
check_unpacked "$ROOT" "${EMULATOR[@]}"
ok "stripped; unit runs /usr/bin/edge-agent with /etc/edge-agent/agent.json; man page = --help under ${EMULATOR[0]}"
CONFIG=$ROOT/etc/edge-agent/agent.json
out=$("${EMULATOR[@]}" "$BIN" check-config --skip-file-checks "$CONFIG" 2>&1) \
  || fail "the shipped config is refused as a document: $out"
out=$("${EMULATOR[@]}" "$BIN" check-config "$CONFIG" 2>&1)
rc=$?
[ $rc = 1 ] || fail "check-config without the CA and password should exit 1, got $rc: $out"
echo "$out" | grep -q 'broker.tls.ca_file: /etc/edge-agent/ca.pem' || fail "check-config does not name the CA file: $out"
echo "$out" | grep -q 'broker.auth.password_file' || fail "check-config does not name the password file: $out"
ok "packaged config: a complete document; without site files check-config names the CA and the password file"

echo "package cross test ($arch): $checks checks passed"
