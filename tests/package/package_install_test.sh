#!/usr/bin/env bash
# The amd64 package, installed and run (ctest package_install, label integration):
#   package_install_test.sh BUILD_DIR SOURCE_DIR
#  1. cpack builds the .deb from BUILD_DIR; dpkg-deb -I/-c: control fields, conffiles,
#     maintainer scripts (sh -n), the files the unit and README promise; then the maintainer
#     scripts run under the real dpkg (package_scripts_test.sh: install, upgrade, remove, purge).
#  2. Depends: every library the packaged binary links is shipped by a package Depends names.
#  3. dpkg -x into a scratch root, plus the shared libraries the binary needs (a minimal chroot).
#  4. The installed binary checks the installed config: complete as a document, and without
#     the broker CA and password file it names exactly those two files.
#  5. A private broker (scripts/local-broker.sh); its CA and password go where the default
#     config expects them, and a JSON merge patch overrides only broker.endpoints and the user.
#  6. The installed binary runs chrooted (private mount namespace, nothing on the host changes),
#     takes payloads through the installed `edge-agent send`, forwards them over TLS; a
#     consumer checks every message id and body; SIGTERM; the ring is empty afterwards.
set -uo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR SOURCE_DIR}" && pwd)
SRC=$(cd "${2:?usage: $0 BUILD_DIR SOURCE_DIR}" && pwd)
COUNT=${EDGE_PACKAGE_TEST_PAYLOADS:-200}

WORK=$(mktemp -d /tmp/edge-pkg-test-XXXXXX)
chmod 0755 "$WORK"  # the broker runs as the rabbitmq user
ROOT=$WORK/root
AGENT_PID=""
cleanup() {
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then kill -KILL "$AGENT_PID"; fi
  bash "$SRC/scripts/local-broker.sh" stop "$WORK/broker" >/dev/null 2>&1 || true
  if [ "${EDGE_TEST_KEEP_PKG_DIR:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

checks=0
# shellcheck source=package_checks.sh
. "$SRC/tests/package/package_checks.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); echo "ok: $*"; }
# Runs the installed binary inside the scratch root, in a private mount namespace.
in_root() {
  unshare --mount --propagation private -- /bin/sh -c \
    'mount --bind /dev "$0/dev" && mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' \
    "$ROOT" /usr/bin/edge-agent "$@"
}

# 1. Build and inspect the package.
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 \
  || { cat "$WORK/cpack.log"; fail "cpack could not build the package"; }
DEB=$(ls "$WORK"/pkg/edge-agent_*_amd64.deb 2>/dev/null | head -n 1)
[ -f "$DEB" ] || fail "no edge-agent_*_amd64.deb in $WORK/pkg"
ok "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

DEPENDS=$(dpkg-deb -f "$DEB" Depends)
check_package_control "$DEB" amd64 "$WORK"
ok "control: Package edge-agent, Architecture amd64, Version $(dpkg-deb -f "$DEB" Version); conffiles and maintainer scripts (postinst creates the user, postrm purges the state)"

# 1b. The maintainer scripts executed by dpkg (install, upgrade, remove, purge) in a throw-away
#     overlay of the host's / (package_scripts_test.sh; the host is checked untouched after).
bash "$SRC/tests/package/package_scripts_test.sh" "$DEB" || fail "the maintainer scripts test failed"
checks=$((checks + 1))

check_package_files "$DEB"
ok "package holds the binary, config, unit, man page, README, copyright and the librabbitmq version linked in"

# 3. Unpack into the scratch root.
dpkg -x "$DEB" "$ROOT" || fail "dpkg -x failed"
BIN=$ROOT/usr/bin/edge-agent
check_unpacked "$ROOT" env
ok "stripped; unit runs /usr/bin/edge-agent with /etc/edge-agent/agent.json; man page = --help"

# 2. Depends: each NEEDED library resolves to a file owned by a package Depends names.
needed=$(ldd "$BIN" | awk '/=> \// {print $3}')
[ -n "$needed" ] || fail "ldd found no libraries for $BIN"
for lib in $needed; do
  real=$(readlink -f "$lib")
  owner=$(dpkg -S "$real" 2>/dev/null | head -n 1 | cut -d: -f1)
  if [ -z "$owner" ]; then owner=$(dpkg -S "$lib" 2>/dev/null | head -n 1 | cut -d: -f1); fi
  [ -n "$owner" ] || fail "no installed package owns $lib"
  # OpenSSL comes only with librabbitmq.so, which the agent no longer links (it links
  # librabbitmq.a: cmake/EdgeDependencies.cmake).
  case "$owner" in
    libssl*|librabbitmq*) fail "$lib ($owner) is linked: librabbitmq must be linked statically" ;;
  esac
  echo "$DEPENDS" | sed 's/, /\n/g' | awk '{print $1}' | grep -qxF "$owner" \
    || fail "$lib comes from $owner, which Depends ($DEPENDS) does not name"
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
loader=$(ldd "$BIN" | awk '/ld-linux/ {print $1}')
mkdir -p "$ROOT$(dirname "$loader")" && cp -L "$loader" "$ROOT$loader"
ok "Depends covers every linked library: $(echo "$needed" | xargs -n1 basename | tr '\n' ' ')"

mkdir -p "$ROOT/dev" "$ROOT/proc" "$ROOT/tmp" "$ROOT/run/edge-agent" "$ROOT/var/lib/edge-agent"
cp /etc/hosts "$ROOT/etc/hosts"

# 4. The installed config as shipped.
out=$(in_root check-config --skip-file-checks /etc/edge-agent/agent.json 2>&1) \
  || fail "the shipped config is refused as a document: $out"
out=$(in_root check-config /etc/edge-agent/agent.json 2>&1)
rc=$?
[ $rc = 1 ] || fail "check-config without the CA and password should exit 1, got $rc: $out"
echo "$out" | grep -q 'broker.tls.ca_file: /etc/edge-agent/ca.pem' || fail "check-config does not name the CA file: $out"
echo "$out" | grep -q 'broker.auth.password_file' || fail "check-config does not name the password file: $out"
ok "shipped config: a complete document; without site files check-config names the CA and the password file"

# 5. A private broker; the site files where the config expects them; the override.
bash "$SRC/scripts/local-broker.sh" start "$WORK/broker" >"$WORK/broker.log" 2>&1 \
  || { tail -n 30 "$WORK/broker.log"; fail "the private broker did not start"; }
# shellcheck disable=SC1091
. "$WORK/broker/broker.env"
install -m 0644 "$BROKER_CA_FILE" "$ROOT/etc/edge-agent/ca.pem"
install -m 0600 "$BROKER_PASSWORD_FILE" "$ROOT/etc/edge-agent/broker.password"
cp "$ROOT/etc/edge-agent/agent.json" "$WORK/agent.json.shipped"
cat >"$WORK/override.json" <<JSON
{"broker": {"endpoints": [{"host": "localhost", "port": $BROKER_AMQPS_PORT}],
            "auth": {"user": "$BROKER_USER"}}}
JSON
/usr/bin/python3 - "$WORK/agent.json.shipped" "$WORK/override.json" "$ROOT/etc/edge-agent/agent.json" <<'PY' \
  || fail "could not apply the override"
import json, sys
def merge(base, patch):  # RFC 7386 JSON merge patch
    if not isinstance(patch, dict):
        return patch
    base = dict(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = merge(base.get(k), v)
    return base
shipped, override = (json.load(open(p)) for p in sys.argv[1:3])
json.dump(merge(shipped, override), open(sys.argv[3], "w"), indent=2)
PY
out=$(in_root check-config /etc/edge-agent/agent.json 2>&1) || fail "check-config refuses the installed config with the override: $out"
echo "$out" | grep -q "localhost:$BROKER_AMQPS_PORT" || fail "check-config summary lacks the broker: $out"
ok "installed config + broker override: check-config ok"

# 6. The installed daemon, forwarding.
unshare --mount --propagation private -- /bin/sh -c \
  'mount --bind /dev "$0/dev" && mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' \
  "$ROOT" /usr/bin/edge-agent run --config /etc/edge-agent/agent.json >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 600); do
  [ -S "$ROOT/run/edge-agent/intake.sock" ] && break
  kill -0 "$AGENT_PID" 2>/dev/null || { cat "$WORK/agent.log"; fail "the agent exited at start"; }
  sleep 0.1
done
[ -S "$ROOT/run/edge-agent/intake.sock" ] || { cat "$WORK/agent.log"; fail "no intake socket"; }
ok "installed agent running (pid $AGENT_PID), intake socket up"

for i in $(seq 1 "$COUNT"); do
  out=$(in_root send --route telemetry "pkg-payload-$i" 2>&1) || fail "send $i: $out"
  echo "$out" | grep -q "seq=$i receipt=durable" || fail "send $i: unexpected answer: $out"
done
last=$((COUNT + 1))
out=$(in_root send --route telemetry --wait confirmed "pkg-payload-$last" 2>&1) || fail "send --wait confirmed: $out"
echo "$out" | grep -q "seq=$last receipt=confirmed" || fail "send --wait confirmed: $out"
ok "$last payloads handed over through the installed 'edge-agent send' (last one --wait confirmed)"

status=$(in_root status 2>&1) || fail "status: $status"
echo "$status" | grep -qi 'connected' || fail "status does not show a broker connection: $status"

# The consumer: every message, by id and body, exactly once (the run has no reconnect).
got=$WORK/consumed.txt
: >"$got"
for _ in $(seq 1 120); do
  /usr/bin/python3 - 127.0.0.1 "$BROKER_AMQP_PORT" "$BROKER_USER" "$BROKER_PASSWORD_FILE" >>"$got" <<'PY' \
    || fail "consumer failed"
import sys, pika
host, port, user, pwfile = sys.argv[1:]
cred = pika.PlainCredentials(user, open(pwfile).read().strip())
conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=int(port), credentials=cred))
ch = conn.channel()
while True:
    method, props, body = ch.basic_get("edge.telemetry")
    if method is None:
        break
    print(props.message_id, body.decode())
    ch.basic_ack(method.delivery_tag)
conn.close()
PY
  [ "$(wc -l <"$got")" -ge "$last" ] && break
  sleep 0.5
done
expected=$WORK/expected.txt
for i in $(seq 1 "$last"); do echo "gateway:$i pkg-payload-$i"; done >"$expected"
sort -t: -k2 -n "$got" | diff -q - <(cat "$expected") >/dev/null \
  || { diff <(sort -t: -k2 -n "$got") "$expected" | head -n 20; fail "the broker did not receive exactly the $last payloads"; }
ok "consumer got all $last messages, ids gateway:1..$last, bodies intact, no duplicates"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=""
[ $rc = 0 ] || { tail -n 20 "$WORK/agent.log"; fail "the agent exited with $rc after SIGTERM"; }
stats=$(in_root ring stats /var/lib/edge-agent/ring 2>&1) || fail "ring stats: $stats"
echo "$stats" | grep -qE '^records +0$' || fail "records left in the ring after a confirmed run: $stats"
ok "SIGTERM: clean exit; the ring holds no unconfirmed record"

echo "package install test: $checks checks passed ($last payloads forwarded by the installed package)"
