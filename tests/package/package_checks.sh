# What every edge-agent .deb must hold, whatever its architecture: sourced by
# package_install_test.sh (amd64, installed and run) and package_cross_test.sh (arm64, armhf,
# run under qemu). Each check calls fail (defined by the caller) with what is wrong.

# The control part: name, architecture, the conffile, maintainer scripts that parse and do
# what the unit and README rely on (the system user; purge removes the state).
#   check_package_control DEB ARCH WORKDIR
check_package_control() {
  local deb=$1 arch=$2 work=$3
  [ "$(dpkg-deb -f "$deb" Package)" = edge-agent ] || fail "Package is '$(dpkg-deb -f "$deb" Package)'"
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] \
    || fail "Architecture is '$(dpkg-deb -f "$deb" Architecture)', not $arch"
  mkdir -p "$work/control"
  dpkg-deb -e "$deb" "$work/control"
  [ "$(cat "$work/control/conffiles")" = /etc/edge-agent/agent.json ] \
    || fail "conffiles should list /etc/edge-agent/agent.json, has: $(cat "$work/control/conffiles")"
  local script
  for script in postinst prerm postrm; do
    [ -x "$work/control/$script" ] || fail "maintainer script $script missing or not executable"
    sh -n "$work/control/$script" || fail "maintainer script $script: syntax error"
  done
  grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the system user"
  grep -q 'rm -rf /var/lib/edge-agent' "$work/control/postrm" || fail "postrm purge keeps the state directory"
}

# The files: binary, config, unit, man page, docs, and the Built-Using note for what is linked
# in statically.
#   check_package_files DEB
check_package_files() {
  local deb=$1 contents f
  contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
  for f in ./usr/bin/edge-agent ./etc/edge-agent/agent.json ./lib/systemd/system/edge-agent.service \
           ./usr/share/man/man1/edge-agent.1.gz ./usr/share/doc/edge-agent/README.md \
           ./usr/share/doc/edge-agent/copyright; do
    echo "$contents" | grep -qx "$f" || fail "package lacks $f"
  done
  dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/doc/edge-agent/built-using 2>/dev/null \
    | grep -qE '^librabbitmq \(= [0-9]' || fail "package lacks the librabbitmq version it links (built-using)"
}

# The unpacked tree: a stripped binary, a unit that runs it with the installed config, and a
# man page that carries every line of the binary's --help.
#   check_unpacked ROOT RUNNER...   (RUNNER: how to run the binary, e.g. qemu-aarch64)
check_unpacked() {
  local root=$1
  shift
  local bin=$root/usr/bin/edge-agent
  readelf -S "$bin" | grep -qE '\.symtab|\.debug_' && fail "the packaged binary is not stripped"
  local unit=$root/lib/systemd/system/edge-agent.service
  grep -q '^ExecStart=/usr/bin/edge-agent run --config /etc/edge-agent/agent.json' "$unit" \
    || fail "the unit does not run the installed binary with the installed config"
  grep -q '^StateDirectory=edge-agent' "$unit" || fail "the unit has no StateDirectory"
  local man_text help
  man_text=$(zcat "$root/usr/share/man/man1/edge-agent.1.gz")
  help=$("$@" "$bin" --help) || fail "the packaged binary's --help failed"
  [ -n "$help" ] || fail "the packaged binary's --help printed nothing"
  printf '%s\n' "$help" | while IFS= read -r line; do
    [ -z "$line" ] && continue
    printf '%s\n' "$man_text" | grep -qF -- "$(printf '%s' "$line" | sed 's/\\/\\e/g')" \
      || { echo "man page lacks: $line" >&2; exit 1; }
  done || fail "the man page does not carry the --help text"
}
