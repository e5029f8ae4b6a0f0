#!/usr/bin/env bash
# Installs everything edge-agent needs to build, test and cross-test on Debian bookworm.
# Idempotent: packages already present are skipped by apt. Must run as root (or via sudo).
#
# `apt-get update` may fail for one index (a third-party source, a flaky mirror) while the
# others are fine; we retry, and then carry on as long as the Debian indexes were read.
set -uo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

WITH_CROSS=1
WITH_ARMHF=1
for arg in "$@"; do
  case "$arg" in
    --native-only) WITH_CROSS=0; WITH_ARMHF=0 ;;
    --no-armhf) WITH_ARMHF=0 ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

log() { echo "install-deps: $*"; }

have_all() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

NATIVE_PKGS=(build-essential cmake pkg-config git openssl ca-certificates
  librabbitmq-dev libmbedtls-dev libcjson-dev libgtest-dev libgmock-dev
  rabbitmq-server python3 python3-pika clang llvm libclang-rt-14-dev procps iproute2 valgrind
  adduser init-system-helpers)  # the package's Depends and postinst (package_scripts_test.sh)
# libstdc++6:<arch> gives qemu the target's own runtime (toolchains/debian-cross.cmake).
ARM64_PKGS=(qemu-user g++-aarch64-linux-gnu librabbitmq-dev:arm64 libmbedtls-dev:arm64
  libcjson-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64 libstdc++6:arm64)
# The armhf cross compiler is an amd64 package (no :armhf index needed): the cross-arch ring test
# (tests/crossarch) builds its libc-only ring tool with it even when armhf's -dev packages fail.
ARM64_PKGS+=(g++-arm-linux-gnueabihf)
ARMHF_PKGS=(g++-arm-linux-gnueabihf librabbitmq-dev:armhf libmbedtls-dev:armhf
  libcjson-dev:armhf libgtest-dev:armhf libgmock-dev:armhf libstdc++6:armhf)

apt_update() {
  local i
  for i in 1 2 3 4; do
    $SUDO apt-get update -o Acquire::Retries=3 >/tmp/edge-agent-apt-update.log 2>&1
    local rc=$?
    grep -E '^(E|W):' /tmp/edge-agent-apt-update.log | sed 's/^/install-deps: apt: /'
    if [ $rc = 0 ]; then return 0; fi
    log "apt-get update failed (attempt $i); retrying"
    sleep $((i * 3))
  done
  log "apt-get update kept failing; continuing with the package lists we have"
  return 1
}

apt_install() {
  local i
  for i in 1 2 3; do
    if $SUDO apt-get install -y --no-install-recommends -o Acquire::Retries=3 "$@"; then
      return 0
    fi
    log "apt-get install failed (attempt $i): $*"
    apt_update
  done
  return 1
}

want=("${NATIVE_PKGS[@]}")
if [ "$WITH_CROSS" = 1 ]; then want+=("${ARM64_PKGS[@]}"); fi

# armhf is added in a separate step: when one of its indexes fails, apt keeps the old lists for
# the whole repository, which would also hide arm64's security updates and break multiarch
# version matching. So arm64 is set up without armhf present, and armhf backs out on failure.
if ! have_all "${want[@]}"; then
  if [ "$WITH_CROSS" = 1 ]; then
    dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  fi
  had_armhf=0
  if dpkg --print-foreign-architectures | grep -qx armhf && ! have_all "${ARMHF_PKGS[@]}"; then
    $SUDO dpkg --remove-architecture armhf 2>/dev/null && had_armhf=1
  fi
  apt_update
  apt_install "${NATIVE_PKGS[@]}" || { log "FAILED to install the native packages"; exit 1; }
  if [ "$WITH_CROSS" = 1 ]; then
    apt_install "${ARM64_PKGS[@]}" || { log "FAILED to install the arm64 cross packages"; exit 1; }
  fi
fi
if [ "$WITH_ARMHF" = 1 ] && ! have_all "${ARMHF_PKGS[@]}"; then
  $SUDO dpkg --add-architecture armhf
  if apt_update && grep -q 'binary-armhf' /tmp/edge-agent-apt-update.log \
      && ! grep -qE '^(E|W): Failed to fetch .*binary-armhf' /tmp/edge-agent-apt-update.log \
      && apt_install "${ARMHF_PKGS[@]}"; then
    log "armhf cross packages installed"
  else
    # armhf is best effort: say so plainly; aarch64 still gates.
    log "NOTICE: armhf packages could not be installed today (index or install failed); armhf cross build will be skipped"
    $SUDO dpkg --remove-architecture armhf 2>/dev/null || true
    apt_update >/dev/null 2>&1
  fi
fi

# The Debian rabbitmq-server package starts a default node on install; our tests run their own
# nodes and never touch it, so leave it alone.
log "done"
