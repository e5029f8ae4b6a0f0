#!/usr/bin/env bash
# The README's first command: installs what is needed, builds edge-agent, and runs the main job
# as far as the agent goes today: the power-loss-safe ring taking durable appends from
# concurrent producers, then the field tools inspecting and verifying what it holds.
# (Forwarding to a local RabbitMQ, `edge-agent send` and the worker join this walkthrough as
# they land; see the README's status section.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

echo "=== installing dependencies (Debian packages)"
bash scripts/install-deps.sh --native-only

echo "=== building"
cmake -S "$ROOT" -B build/native -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/native -j"$(nproc)"

# A directory on a real disk: fdatasync on tmpfs would prove nothing.
WORK=$(mktemp -d "$ROOT/build/quickstart.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
AGENT=build/native/agent/cli/edge-agent

echo
echo "=== 8 producers appending 200-byte payloads; each answer comes after its batch is durable"
build/native/tests/bench/ring_bench --dir "$WORK" --seconds 2 --rounds 1 --sizes 200 \
  --producers 8 --ring-mb 16 --keep

echo
echo "=== edge-agent ring stats (read-only, safe next to a running agent)"
$AGENT ring stats "$WORK/ring_bench.ring"
echo
echo "=== edge-agent ring verify: every record's checksum, sequence and epoch"
$AGENT ring verify "$WORK/ring_bench.ring"
echo
echo "=== edge-agent ring dump --max 5"
$AGENT ring dump --max 5 "$WORK/ring_bench.ring"
echo
echo "quickstart: done. The ring file lived in $WORK (removed now)."
