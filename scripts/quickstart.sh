#!/usr/bin/env bash
# The README's first command: installs what is needed, builds edge-agent, and runs the main job
# on this machine:
#   1. a private RabbitMQ node with TLS (scripts/local-broker.sh; certificates made here),
#   2. the agent with a generated config: TLS with server verification, password from a file,
#      a telemetry route and a jobs route, and the worker consuming the jobs queue,
#   3. payloads handed over with `edge-agent send` (durable receipts, and `--wait confirmed`),
#   4. the tutorials' slow task: 5 s of work, sent through the agent in milliseconds while the
#      worker does it, next to calling it directly,
#   5. a consumer printing what arrived at the broker, and `edge-agent status`,
# then stops everything by process id. Everything lives in one directory, removed at the end
# (keep it with KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

echo "=== installing dependencies (Debian packages)"
bash scripts/install-deps.sh --native-only

echo "=== building"
cmake -S "$ROOT" -B build/native -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/native -j"$(nproc)" --target edge-agent
AGENT=$ROOT/build/native/agent/cli/edge-agent

WORK=$(mktemp -d /var/tmp/edge-quickstart.XXXXXX)
chmod 755 "$WORK"
AGENT_PID=""
cleanup() {
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  fi
  bash "$ROOT/scripts/local-broker.sh" stop "$WORK/broker" >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo
echo "=== 1. a private RabbitMQ node with TLS (about 15 s)"
bash scripts/local-broker.sh start "$WORK/broker"
# shellcheck disable=SC1091
. "$WORK/broker/broker.env"

echo
echo "=== 2. the agent: config, check-config, run"
mkdir -p "$WORK/results"
cat > "$WORK/agent.json" <<JSON
{
  "agent_id": "quickstart-gw",
  "ring": {"path": "$WORK/ring", "size": "16MiB", "full_policy": "reject"},
  "intake": {"socket_path": "$WORK/intake.sock", "socket_mode": "0660"},
  "control": {"socket_path": "$WORK/control.sock"},
  "dead_letter_path": "$WORK/dead-letters.jsonl",
  "broker": {
    "endpoints": [{"host": "127.0.0.1", "port": $BROKER_AMQPS_PORT}],
    "tls": {"enabled": true, "ca_file": "$BROKER_CA_FILE", "server_name": "localhost"},
    "auth": {"mechanism": "plain", "user": "$BROKER_USER", "password_file": "$BROKER_PASSWORD_FILE"},
    "heartbeat_s": 10
  },
  "topology": {
    "exchanges": [{"name": "sensors", "type": "topic"}],
    "queues": [{"name": "sensors.all"}, {"name": "slow-task"}],
    "bindings": [{"queue": "sensors.all", "exchange": "sensors", "routing_key": "#"}]
  },
  "routes": {
    "telemetry": {"exchange": "sensors", "routing_key": "room1.temperature", "content_type": "application/json"},
    "jobs": {"exchange": "", "routing_key": "slow-task", "content_type": "text/plain"}
  },
  "worker": {
    "enabled": true,
    "queue": "slow-task",
    "handler": ["$ROOT/docs/examples/slow-task/handler.sh", "$WORK/results"],
    "timeout_s": 30,
    "retry_delays_ms": [1000, 5000]
  },
  "metrics": {"textfile_path": "$WORK/edge-agent.prom", "interval_s": 2}
}
JSON
"$AGENT" check-config "$WORK/agent.json"
"$AGENT" run --config "$WORK/agent.json" 2> "$WORK/agent.log" &
AGENT_PID=$!
for _ in $(seq 1 50); do [ -S "$WORK/intake.sock" ] && break; sleep 0.2; done
sleep 1  # let the worker declare its queues

echo
echo "=== 3. producers hand over payloads (the answer comes once each is durable on disk)"
for t in 21.5 21.7 22.0; do
  "$AGENT" send --socket "$WORK/intake.sock" --route telemetry --header unit=celsius \
    "{\"room\": 1, \"temperature\": $t}"
done
echo "--wait confirmed: the answer comes once the broker has confirmed it"
"$AGENT" send --socket "$WORK/intake.sock" --route telemetry --wait confirmed \
  '{"room": 1, "temperature": 22.4}'
echo "a route that is not configured gets a clear error:"
"$AGENT" send --socket "$WORK/intake.sock" --route nosuchroute 'x' || true

echo
echo "=== 4. the slow task (5 s of work), called directly and then sent through the agent"
start=$(date +%s%N)
printf 'quarterly report' | EDGE_MESSAGE_ID=direct "$ROOT/docs/examples/slow-task/handler.sh" "$WORK/direct" >/dev/null
echo "called directly: the caller waited $(( ($(date +%s%N) - start) / 1000000 )) ms"
start=$(date +%s%N)
out=$("$AGENT" send --socket "$WORK/intake.sock" --route jobs 'quarterly report')
echo "sent through the agent: $out, the caller waited $(( ($(date +%s%N) - start) / 1000000 )) ms"
seq_no=${out#seq=}; seq_no=${seq_no%% *}
result="$WORK/results/quickstart-gw_$seq_no.result"
for _ in $(seq 1 60); do [ -f "$result" ] && break; sleep 0.5; done
if [ -f "$result" ]; then
  echo "the worker finished $(( ($(date +%s%N) - start) / 1000000 )) ms after sending: $(cat "$result")"
else
  echo "the worker has not finished yet; see $WORK/agent.log"; exit 1
fi

echo
echo "=== 5. what arrived at the broker (queue sensors.all), read by a plain AMQP consumer"
sleep 1
/usr/bin/python3 docs/examples/print_queue.py 127.0.0.1 "$BROKER_AMQP_PORT" "$BROKER_USER" \
  "$BROKER_PASSWORD_FILE" sensors.all
echo
echo "=== edge-agent status"
"$AGENT" status --socket "$WORK/control.sock"

echo
echo "=== stopping the agent (SIGTERM: drains, unconfirmed records stay in the ring)"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || true; AGENT_PID=""
tail -n 3 "$WORK/agent.log"
echo
echo "quickstart: done. Next: README.md (configuration, operations), docs/PROTOCOL.md (intake)."
