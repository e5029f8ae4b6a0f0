#!/usr/bin/env bash
# Builds and runs tests/bench/forward_bench: edge-agent's forwarding rate next to rabbitmq-c,
# amqplib and pika publishing the same messages to one private RabbitMQ node.
#
#   scripts/bench-forward.sh [forward_bench options...]
#     e.g. --seconds 10 --sizes 200,4096 --messages 1000000 --backlog 1000000 --skip-peers
#
# Installs the peers first: amqplib with `npm ci` into tests/bench/peers/node_modules (pinned by
# package-lock.json; node_modules is not committed), python3-pika from Debian when missing (the
# pika peer runs with /usr/bin/python3). Builds in build-bench/ (override with BUILD_DIR=...).
# A benchmark: it prints figures and ratios and never fails on a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
JOBS=${JOBS:-2}

log() { echo "bench-forward: $*"; }

if command -v npm >/dev/null 2>&1; then
  log "installing the amqplib peer (npm ci in tests/bench/peers)"
  (cd tests/bench/peers && npm ci --no-audit --no-fund --loglevel=error)
else
  log "npm not found: the amqplib peer will be skipped"
fi

if ! /usr/bin/python3 -c 'import pika' 2>/dev/null; then
  log "installing python3-pika (Debian)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pika ||
    log "python3-pika could not be installed: the pika peers will be skipped"
fi

log "building forward_bench in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target forward_bench bench_rabbitmq_c_publisher

log "running forward_bench $*"
exec "$BUILD_DIR/tests/bench/forward_bench" --peers-dir "$ROOT/tests/bench/peers" "$@"
