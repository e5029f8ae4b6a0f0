#!/usr/bin/env bash
# The package's maintainer scripts (config/package/postinst, prerm, postrm), executed by the real
# dpkg: install, upgrade, remove, purge.
#   package_scripts_test.sh DEB
# Called by package_install_test.sh with the .deb it has just built (one package build per run);
# runs alone with any edge-agent_*_amd64.deb too.
#
# Why it cannot touch the host: everything runs in a private mount namespace (unshare -m) in a
# chroot into an overlayfs whose lower layer is the host's / (read-only use) and whose upper and
# work directories are on a tmpfs that exists only in that namespace. dpkg, its database, adduser,
# deb-systemd-helper all come from the host's view, and every write (the dpkg database, the user
# in /etc/passwd, /var/lib/edge-agent) lands in the tmpfs, which vanishes with the namespace: no
# unmount step is needed, none can be forgotten. /run is a fresh tmpfs in the chroot, so postinst
# and prerm take their "no running systemd" path (the host's systemd, if any, is never asked to
# do anything). The host is checked before and after: no edge-agent user, no state directory,
# package not installed.
#
# The upgrade installs a second package made from the first with dpkg-deb (Version +1 release,
# a changed shipped agent.json), with --force-confold: the non-interactive choice a fleet
# update makes. The admin's edited conffile must be kept, the new one put next to it as
# agent.json.dpkg-dist, and the ring written by the old binary must survive and be read by the
# new one.
set -uo pipefail
DEB=$(readlink -f "${1:?usage: $0 DEB}")
[ -f "$DEB" ] || { echo "FAIL: no package file $1" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (mount namespace, overlayfs, chroot)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null \
  || fail "overlayfs is not available: the maintainer scripts cannot run without touching the host"

# The host before: the test is only meaningful (and only harmless) on a host without the package.
host_state() {
  getent passwd edge-agent >/dev/null && echo "user edge-agent exists"
  getent group edge-agent >/dev/null && echo "group edge-agent exists"
  [ -e /var/lib/edge-agent ] && echo "/var/lib/edge-agent exists"
  [ -e /etc/edge-agent ] && echo "/etc/edge-agent exists"
  dpkg-query -W -f='${Status}' edge-agent 2>/dev/null | grep -q 'installed' \
    && echo "dpkg: edge-agent is installed"
  true
}
before=$(host_state)
[ -z "$before" ] || fail "the host already has edge-agent ($before): refusing to run"

WORK=$(mktemp -d /tmp/edge-pkg-scripts-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The upgrade package: same files, Version one release higher, a changed shipped agent.json
# (a conffile changed both by the admin and by the package is the case dpkg must decide).
dpkg-deb -R "$DEB" "$WORK/v2" || fail "dpkg-deb -R failed"
v1=$(dpkg-deb -f "$DEB" Version)
v2="${v1%-*}-$(( ${v1##*-} + 1 ))"
dpkg --compare-versions "$v2" gt "$v1" || fail "could not make a higher version than $v1 (got $v2)"
sed -i "s/^Version: .*/Version: $v2/" "$WORK/v2/DEBIAN/control"
printf '\n' >>"$WORK/v2/etc/edge-agent/agent.json"
(cd "$WORK/v2" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
  | xargs -0 md5sum >DEBIAN/md5sums) || fail "md5sums for the upgrade package"
dpkg-deb --root-owner-group -b "$WORK/v2" "$WORK/edge-agent_v2.deb" >/dev/null \
  || fail "dpkg-deb -b of the upgrade package failed"
rm -rf "$WORK/v2"

# A CA certificate for check-config (it must parse as one) and a password file.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
  -subj /CN=edge-pkg-test-ca -days 2 >/dev/null 2>&1 || fail "openssl could not make a CA"

mkdir "$WORK/layer"
unshare --mount --propagation private -- /bin/sh -c '
  set -e
  W=$0; L=$W/layer; INNER=$1
  mount -t tmpfs -o mode=0755 edge-pkg-scripts "$L"
  mkdir "$L/upper" "$L/work" "$L/root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$L/upper,workdir=$L/work" "$L/root"
  R=$L/root
  mount --rbind /dev "$R/dev"
  mount -t proc proc "$R/proc"
  mount -t tmpfs -o mode=0755 run "$R/run"
  mount -t tmpfs -o mode=1777 tmp "$R/tmp"
  mkdir "$R/tmp/t"
  cp "$INNER" "$R/tmp/t/inner.sh"
  cp "$2" "$R/tmp/t/edge-agent_v1.deb"
  cp "$W/edge-agent_v2.deb" "$W/ca.pem" "$R/tmp/t/"
  exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive /bin/bash /tmp/t/inner.sh "$3" "$4"
' "$WORK" "$HERE/package_scripts_inner.sh" "$DEB" "$v1" "$v2"
rc=$?

after=$(host_state)
[ -z "$after" ] || fail "the host was changed: $after"
[ $rc = 0 ] || fail "maintainer scripts test failed (exit $rc; see above)"
echo "ok: the host is untouched (no edge-agent user or group, no /var/lib/edge-agent, no /etc/edge-agent, not in the dpkg database)"
