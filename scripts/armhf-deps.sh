# Sourced (not run) by scripts/install-deps.sh, scripts/test-all.sh and scripts/package.sh: where
# the armhf cross build finds librabbitmq.a, and what an armhf build needs on this machine.
#
# Why librabbitmq.a may live outside the multiarch directory: librabbitmq-dev:armhf depends on
# librabbitmq4:armhf -> libssl3:armhf, and multiarch wants libssl3:armhf at exactly amd64's
# version. Whenever Debian's bookworm-security armhf index lags or fails to download, amd64 has a
# newer libssl3 than armhf can get, and librabbitmq-dev:armhf cannot be installed. The agent links
# librabbitmq statically (cmake/EdgeDependencies.cmake) and needs no OpenSSL at all, so
# install-deps.sh always takes the archive from the .deb itself (`apt-get download`, which apt
# verifies against the signed index) and unpacks it with dpkg -x into EDGE_ARMHF_DEPS: one path
# that works whether or not the armhf security index does. The headers are not taken from it:
# rabbitmq-c 0.11's headers are architecture-independent and identical to the native
# librabbitmq-dev's in /usr/include (install-deps.sh checks and says so if they ever differ).
#
# EDGE_ARMHF_DEPS is outside the repository on purpose: CI works in a fresh clone every run, and
# the unpacked archive belongs to the machine's installed packages like /usr/lib does.
EDGE_ARMHF_DEPS=${EDGE_ARMHF_DEPS:-/var/cache/edge-agent/armhf-deps}
EDGE_ARMHF_LIBDIR=/usr/lib/arm-linux-gnueabihf

# Prints the librabbitmq.a an armhf build links: the installed librabbitmq-dev:armhf's if there
# is one, else the one unpacked into EDGE_ARMHF_DEPS. Returns 1 when there is none.
armhf_rabbitmq_archive() {
  local a
  for a in "$EDGE_ARMHF_LIBDIR/librabbitmq.a" "$EDGE_ARMHF_DEPS$EDGE_ARMHF_LIBDIR/librabbitmq.a"; do
    if [ -f "$a" ]; then echo "$a"; return 0; fi
  done
  return 1
}

# Prints what an armhf build (and its tests under qemu-arm) needs but this machine lacks, one
# item per word; prints nothing when everything is there. Checks the files themselves, not dpkg's
# status of any one package.
armhf_missing() {
  local missing=() f
  command -v arm-linux-gnueabihf-g++ >/dev/null 2>&1 || missing+=(arm-linux-gnueabihf-g++)
  command -v qemu-arm >/dev/null 2>&1 || missing+=(qemu-arm)
  for f in /lib/ld-linux-armhf.so.3 "$EDGE_ARMHF_LIBDIR/libstdc++.so.6" \
           "$EDGE_ARMHF_LIBDIR/libmbedtls.so" "$EDGE_ARMHF_LIBDIR/libmbedx509.so" \
           "$EDGE_ARMHF_LIBDIR/libmbedcrypto.so" "$EDGE_ARMHF_LIBDIR/libcjson.so" \
           "$EDGE_ARMHF_LIBDIR/libgtest.a" "$EDGE_ARMHF_LIBDIR/libgmock.a" /usr/include/amqp.h; do
    [ -e "$f" ] || missing+=("$f")
  done
  armhf_rabbitmq_archive >/dev/null || missing+=(librabbitmq.a)
  echo "${missing[*]}"
}

# The cmake arguments an armhf build needs besides the toolchain file: the archive's path when it
# is not in the multiarch directory (cmake/EdgeDependencies.cmake, EDGE_RABBITMQ_STATIC_LIBRARY).
armhf_cmake_args() {
  local a
  a=$(armhf_rabbitmq_archive) || return 1
  if [ "$a" != "$EDGE_ARMHF_LIBDIR/librabbitmq.a" ]; then
    echo "-DEDGE_RABBITMQ_STATIC_LIBRARY=$a"
  fi
}
