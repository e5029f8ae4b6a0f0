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
# No librabbitmq-dev:armhf here: its librabbitmq.a comes from the downloaded .deb
# (scripts/armhf-deps.sh says why and where), armhf_fetch_rabbitmq below.
ARMHF_PKGS=(g++-arm-linux-gnueabihf libmbedtls-dev:armhf
  libcjson-dev:armhf libgtest-dev:armhf libgmock-dev:armhf libstdc++6:armhf)
# shellcheck source=armhf-deps.sh
. "$(dirname "$0")/armhf-deps.sh"

# armhf_fetch_rabbitmq: unpacks librabbitmq-dev:armhf's .deb (apt-get download: verified against
# the signed index; no install, so no libssl3:armhf) into EDGE_ARMHF_DEPS. Needs the armhf index.
armhf_fetch_rabbitmq() {
  local tmp deb i
  tmp=$(mktemp -d) || return 1
  # apt downloads as user _apt when it can write the directory (else it warns and uses root).
  chown _apt "$tmp" 2>/dev/null || true
  for i in 1 2 3; do
    (cd "$tmp" && $SUDO apt-get download -o Acquire::Retries=3 librabbitmq-dev:armhf) && break
    log "apt-get download librabbitmq-dev:armhf failed (attempt $i)"
    sleep $((i * 3))
  done
  deb=$(ls "$tmp"/librabbitmq-dev_*_armhf.deb 2>/dev/null | head -n 1)
  if [ -z "$deb" ]; then rm -rf "$tmp"; return 1; fi
  # Unpack next to the target, then swap: a half-unpacked directory is never used.
  $SUDO mkdir -p "$(dirname "$EDGE_ARMHF_DEPS")" &&
    $SUDO rm -rf "$EDGE_ARMHF_DEPS.new" &&
    $SUDO dpkg-deb -x "$deb" "$EDGE_ARMHF_DEPS.new" || { rm -rf "$tmp"; return 1; }
  # Only the archive is used: the .so symlink would dangle (no librabbitmq4:armhf).
  $SUDO rm -f "$EDGE_ARMHF_DEPS.new$EDGE_ARMHF_LIBDIR/librabbitmq.so"
  # For the package's Built-Using (cmake/Packaging.cmake): the exact source version linked in.
  dpkg-deb -f "$deb" Source Version | awk -F': ' '/^Source/{s=$2} /^Version/{v=$2}
    END{sub(/ .*/, "", s); print s " (= " v ")"}' | $SUDO tee "$EDGE_ARMHF_DEPS.new/built-using" >/dev/null
  $SUDO rm -rf "$EDGE_ARMHF_DEPS" && $SUDO mv "$EDGE_ARMHF_DEPS.new" "$EDGE_ARMHF_DEPS"
  log "armhf: librabbitmq.a from $(basename "$deb") unpacked into $EDGE_ARMHF_DEPS"
  local h
  for h in amqp.h amqp_framing.h amqp_tcp_socket.h; do
    if ! cmp -s "$EDGE_ARMHF_DEPS/usr/include/$h" "/usr/include/$h"; then
      log "NOTICE: armhf $h differs from the native /usr/include/$h (librabbitmq-dev versions differ?); the armhf build uses the native headers"
    fi
  done
  rm -rf "$tmp"
}
armhf_ready() { have_all "${ARMHF_PKGS[@]}" && [ -z "$(armhf_missing)" ]; }

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
  if dpkg --print-foreign-architectures | grep -qx armhf && ! armhf_ready; then
    $SUDO dpkg --remove-architecture armhf 2>/dev/null && had_armhf=1
  fi
  apt_update
  apt_install "${NATIVE_PKGS[@]}" || { log "FAILED to install the native packages"; exit 1; }
  if [ "$WITH_CROSS" = 1 ]; then
    apt_install "${ARM64_PKGS[@]}" || { log "FAILED to install the arm64 cross packages"; exit 1; }
  fi
fi
# armhf: Debian's bookworm-security armhf index has been seen failing to download ("File has
# unexpected size ... Mirror sync in progress?") while bookworm's main armhf index is fine. So a
# failed update is not the end: if the main armhf index was read, install what installs from it
# (apt refuses anything that breaks multiarch version matching, so nothing half-fits gets in).
if [ "$WITH_ARMHF" = 1 ] && ! armhf_ready; then
  $SUDO dpkg --add-architecture armhf
  armhf_status="installed"
  if ! apt_update; then
    grep -E '^(E|W):.*binary-armhf' /tmp/edge-agent-apt-update.log >/dev/null \
      && log "armhf: part of the armhf index failed to download (see above); trying with what was read"
  fi
  if ! ls /var/lib/apt/lists/*_dists_bookworm_main_binary-armhf_Packages* >/dev/null 2>&1; then
    armhf_status="the main bookworm armhf index could not be read"
  elif ! apt_install "${ARMHF_PKGS[@]}"; then
    armhf_status="apt-get install of ${ARMHF_PKGS[*]} failed"
  elif ! armhf_fetch_rabbitmq; then
    armhf_status="apt-get download librabbitmq-dev:armhf failed"
  elif [ -n "$(armhf_missing)" ]; then
    armhf_status="still missing after install: $(armhf_missing)"
  fi
  if [ "$armhf_status" = installed ]; then
    log "armhf cross packages installed; librabbitmq.a: $(armhf_rabbitmq_archive)"
  else
    # armhf is best effort: say so plainly; aarch64 still gates.
    log "NOTICE: armhf not set up today ($armhf_status); the armhf cross build will be skipped"
    if ! dpkg -l | grep -q ':armhf '; then
      # Nothing of armhf installed: drop the architecture so its broken index does not keep
      # the other architectures' lists stale on later runs.
      $SUDO dpkg --remove-architecture armhf 2>/dev/null || true
      apt_update >/dev/null 2>&1
    fi
  fi
fi

# The Debian rabbitmq-server package starts a default node on install; our tests run their own
# nodes and never touch it, so leave it alone.
log "done"
