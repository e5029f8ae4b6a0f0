#!/usr/bin/env bash
# Footprint benchmark (issue 6), recorded in docs/BENCHMARKS.md. Prints figures and ratios
# against the targets; never fails on a number.
#   1. size     stripped edge-agent per architecture (size(1): text/data/bss), and apart from it
#               the Debian shared libraries it links, with their sizes. Target: <= 1.5 MiB on
#               aarch64.
#   2. recovery start-up recovery of a full 1 GiB ring of 200-byte records (recovery_bench),
#               warm and with the file's pages dropped. Target: <= 1 s.
#   3. rss      the real daemon (`edge-agent run`, TLS, private broker from scripts/
#               local-broker.sh): Rss (smaps_rollup, exact) and VmRSS sampled every 0.2 s while (A) producers
#               flood the intake and the agent forwards at full rate, (B) the broker is paused
#               (SIGSTOP to its process group) while producers fill a 1 GiB backlog, (C) the
#               broker resumes and the backlog drains. The queue keeps the newest 50,000
#               messages (drop-head), so the broker's own memory stays out of the way. VmHWM at the end. Target: <= 8 MiB,
#               not growing with the backlog.
#   4. cpu      instructions per forwarded message on this machine (valgrind callgrind): the
#               daemon drains a pre-filled ring of N records over TLS to the broker, for two N;
#               the difference of the two totals over the difference of N cancels start-up,
#               TLS handshake, recovery and shutdown. Then the same drain of the aarch64
#               agent (first cross build) under qemu-aarch64 and of the amd64 agent under
#               qemu-x86_64, both counted by our TCG plugin (tests/bench/qemu_insn_count, built
#               in the native build), and their ratio; and the ring's per-record work
#               (ring_image_tool churn) the same ways.
#
#   scripts/bench-footprint.sh [--build DIR] [--cross-build DIR]... [--dir DIR]
#                              [--only size,recovery,rss,cpu,cpu-qemu] [--backlog-mb N]
# Defaults: --build build/native, cross builds build/aarch64 and build/armhf when present,
# --dir /var/tmp/edge-footprint (the ring files: ~1.3 GiB free space needed), --backlog-mb 1024.
# Needs the native build's edge-agent, recovery_bench and intake_flood targets, valgrind,
# rabbitmq-server. Everything started is stopped by process id at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=build/native
CROSS=()
DIR=/var/tmp/edge-footprint
ONLY=size,recovery,rss,cpu
BACKLOG_MB=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --cross-build) CROSS+=("$2"); shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --backlog-mb) BACKLOG_MB=$2; shift 2 ;;
    *) echo "bench-footprint: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ${#CROSS[@]} = 0 ]; then
  for d in build/aarch64 build/armhf; do [ -x "$d/agent/cli/edge-agent" ] && CROSS+=("$d"); done
fi
want() { [[ ",$ONLY," == *",$1,"* ]]; }
AGENT=$ROOT/$BUILD/agent/cli/edge-agent
mkdir -p "$DIR"
chmod 0755 "$DIR"
say() { echo; echo "=== footprint: $*"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
kib() { awk -v b="$1" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }

# ---------------------------------------------------------------- 1. size
binary_size() {
  local bin=$1 prefix=$2 triple=$3
  local copy=$DIR/edge-agent.stripped
  cp "$bin" "$copy"
  "${prefix}strip" "$copy"
  local bytes
  bytes=$(stat -c %s "$copy")
  local arch
  arch=$("${prefix}readelf" -h "$copy" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); print $2}')
  echo "$arch: edge-agent stripped $(kib "$bytes") ($bytes bytes); size(1):"
  "${prefix}size" "$copy" | sed 's/^/    /'
  if [[ "$arch" == *AArch64* ]]; then
    awk -v b="$bytes" 'BEGIN { printf "    target <= 1.5 MiB on aarch64: %.2f MiB, ratio %.2f: %s\n", b/1048576, b/1572864, (b <= 1572864 ? "met" : "NOT met") }'
  fi
  echo "    Debian shared libraries it links (NEEDED, as shipped, not counted above):"
  local total=0 lib path size
  for lib in $("${prefix}readelf" -d "$copy" | awk -F'[][]' '/NEEDED/ {print $2}'); do
    path=""
    for d in /usr/lib/$triple /lib/$triple /usr/$triple/lib; do
      [ -e "$d/$lib" ] && { path=$(readlink -f "$d/$lib"); break; }
    done
    if [ -n "$path" ]; then
      size=$(stat -c %s "$path")
      total=$((total + size))
      printf '      %-22s %8s\n' "$lib" "$(kib "$size")"
    else
      printf '      %-22s %8s\n' "$lib" "(not installed for this architecture)"
    fi
  done
  printf '      %-22s %8s\n' "total NEEDED" "$(kib "$total")"
  if [ -f "$bin.map" ]; then
    echo "    linked in, from the linker map (loaded sections; the rest of the file is ELF tables and alignment):"
    /usr/bin/python3 "$ROOT/scripts/link-map-summary.py" "$bin.map"
  fi
  rm -f "$copy"
}

if want size; then
  say "binary size"
  binary_size "$AGENT" "" x86_64-linux-gnu
  for b in "${CROSS[@]}"; do
    bin=$b/agent/cli/edge-agent
    machine=$(readelf -h "$bin" | awk -F: '/Machine/ {print $2}')
    case "$machine" in
      *AArch64*) binary_size "$bin" aarch64-linux-gnu- aarch64-linux-gnu ;;
      *ARM*) binary_size "$bin" arm-linux-gnueabihf- arm-linux-gnueabihf ;;
    esac
  done
  [ -x build/armhf/agent/cli/edge-agent ] || echo "armhf: no armhf build (its :armhf -dev packages are needed to link edge-agent); not measured"
fi

# ---------------------------------------------------------------- 2. recovery
if want recovery; then
  say "start-up recovery of a full 1 GiB ring"
  "$ROOT/$BUILD/tests/bench/recovery_bench" --dir "$DIR" --ring-mb 1024 --payload 200 --rounds 3
fi

# ------------------------------------------------- helpers for the runs against a broker
BROKER=$DIR/broker
AGENT_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then kill -KILL "$AGENT_PID"; fi
  if [ -f "$BROKER/broker.pid" ]; then kill -CONT -- "-$(cat "$BROKER/broker.pid")" 2>/dev/null; fi
  bash "$ROOT/scripts/local-broker.sh" stop "$BROKER" >/dev/null 2>&1
  rm -rf "$BROKER" "$DIR"/*.ring "$DIR"/*.lock "$DIR"/*.sock "$DIR"/*.json "$DIR"/*.jsonl \
    "$DIR"/*.log "$DIR"/rss-*.txt "$DIR/phase"
}
trap cleanup EXIT

start_broker() {
  [ -f "$BROKER/broker.env" ] && return 0
  bash "$ROOT/scripts/local-broker.sh" start "$BROKER" >"$DIR/broker.log" 2>&1 \
    || { tail -n 20 "$DIR/broker.log"; echo "bench-footprint: broker did not start"; exit 1; }
}

# write_config FILE RING_FILE RING_SIZE AMQPS_PORT [HEARTBEAT_S]
write_config() {
  # shellcheck disable=SC1091
  . "$BROKER/broker.env"
  cat >"$1" <<JSON
{
  "agent_id": "footprint",
  "ring": {"path": "$2", "size": "$3", "full_policy": "reject"},
  "intake": {"socket_path": "$DIR/intake.sock"},
  "control": {"socket_path": "$DIR/control.sock"},
  "dead_letter_path": "$DIR/dead-letters.jsonl",
  "broker": {
    "endpoints": [{"host": "localhost", "port": $4}],
    "tls": {"enabled": true, "ca_file": "$BROKER_CA_FILE"},
    "auth": {"mechanism": "plain", "user": "$BROKER_USER", "password_file": "$BROKER_PASSWORD_FILE"},
    "heartbeat_s": ${5:-2}, "handshake_timeout_ms": 2000, "backoff_max_ms": 1000
  },
  "topology": {
    "exchanges": [{"name": "footprint", "type": "direct"}],
    "queues": [{"name": "footprint", "max_length": 50000, "overflow": "drop-head"}],
    "bindings": [{"queue": "footprint", "exchange": "footprint", "routing_key": "t"}]
  },
  "routes": {"t": {"exchange": "footprint", "routing_key": "t"}},
  "log": {"level": "warning"}
}
JSON
}

# start_agent CONFIG [wrapper...]: the daemon in the background, waits for its intake socket.
start_agent() {
  local config=$1
  shift
  rm -f "$DIR/intake.sock"
  # RUN_AGENT: another build's binary (a cross build's, run under the wrapper).
  "$@" "${RUN_AGENT:-$AGENT}" run --config "$config" >>"$DIR/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 1 3000); do
    [ -S "$DIR/intake.sock" ] && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 20 "$DIR/agent.log"; echo "bench-footprint: agent exited"; exit 1; }
    sleep 0.1
  done
  echo "bench-footprint: no intake socket after 300 s"; exit 1
}
stop_agent() {
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID"
  AGENT_PID=""
}
status_field() {
  "$AGENT" status --json --socket "$DIR/control.sock" 2>/dev/null \
    | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])" 2>/dev/null
}
wait_drained() {
  for _ in $(seq 1 36000); do
    [ "$(status_field ring_depth)" = 0 ] && return 0
    sleep 0.5
  done
  echo "bench-footprint: the ring did not drain"; exit 1
}
flood() {
  "$ROOT/$BUILD/tests/bench/intake_flood" --socket "$DIR/intake.sock" --route t "$@"
}

# ---------------------------------------------------------------- 3. rss
if want rss; then
  say "resident memory while forwarding, and with a ${BACKLOG_MB} MiB backlog"
  start_broker
  # shellcheck disable=SC1091
  . "$BROKER/broker.env"
  ring_mb=$((BACKLOG_MB + BACKLOG_MB / 4 + 64))
  write_config "$DIR/rss.json" "$DIR/rss.ring" "${ring_mb}MiB" "$BROKER_AMQPS_PORT"
  start_agent "$DIR/rss.json"
  echo "agent pid $AGENT_PID, ring ${ring_mb} MiB; after start: $(grep -E 'VmRSS' /proc/$AGENT_PID/status | tr -s ' ')"
  echo start >"$DIR/phase"
  # At each phase's highest sample so far, /proc/PID/smaps is kept too ($DIR/smaps-PHASE.txt),
  # and summarized per mapping after the run: what the peak is made of.
  rm -f "$DIR"/smaps-*.txt
  (
    declare -A top=()
    while kill -0 "$AGENT_PID" 2>/dev/null; do
      rss=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2}' "/proc/$AGENT_PID/status" 2>/dev/null)
      exact=$(awk '/^Rss:/ {print $2}' "/proc/$AGENT_PID/smaps_rollup" 2>/dev/null)
      phase=$(cat "$DIR/phase")
      if [ -n "$rss" ] && [ -n "$exact" ]; then
        echo "$phase $rss$exact"
        now=$exact
        if [ "$now" -gt "${top[$phase]:-0}" ]; then
          top[$phase]=$now
          cp "/proc/$AGENT_PID/smaps" "$DIR/smaps-$phase.txt" 2>/dev/null
        fi
      fi
      sleep 0.2
    done
  ) >"$DIR/rss-samples.txt" &
  SAMPLER_PID=$!

  # A: full rate with the record size of the backlog too, so A and C differ only by the backlog.
  echo A >"$DIR/phase"
  flood --count 300000 --bytes 200 --connections 8 --pipeline 32
  wait_drained
  flood --count 100000 --bytes 4096 --connections 8 --pipeline 32
  wait_drained
  echo "A: forwarding at full rate: $(status_field published) published in total"

  echo B >"$DIR/phase"
  kill -STOP -- "-$(cat "$BROKER/broker.pid")"
  backlog_records=$((BACKLOG_MB * 1024 / 4))
  flood --count "$backlog_records" --bytes 4096 --connections 8 --pipeline 32
  used=$(status_field ring_used_bytes)
  echo "B: broker paused; backlog $(status_field ring_depth) records, ring_used_bytes $used ($(mib "${used%.*}"))"

  echo C >"$DIR/phase"
  t0=$(date +%s.%N)
  kill -CONT -- "-$(cat "$BROKER/broker.pid")"
  wait_drained
  t1=$(date +%s.%N)
  echo "C: backlog drained in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f s", b - a }')"
  echo end >"$DIR/phase"
  sleep 0.5
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
  kill "$SAMPLER_PID" 2>/dev/null
  SAMPLER_PID=""
  stop_agent
  # Two readings, because neither alone is both exact and complete. smaps_rollup's Rss walks
  # the page tables: exact, but only at the samples. VmRSS and VmHWM come from the kernel's
  # per-CPU RSS counters (Linux >= 6.2: percpu_counter): VmHWM catches a peak between samples,
  # but both may be off by a few hundred KiB either way (proc(5): "inaccurate because of a
  # kernel-internal scalability optimization ... use smaps or smaps_rollup").
  awk -v hwm="$hwm" '
    { n[$1]++; if ($5 > max[$1]) { max[$1] = $5; vm[$1] = $2; anon[$1] = $3; file[$1] = $4 }
      if ($2 > vmmax[$1]) vmmax[$1] = $2; sum[$1] += $5 }
    END {
      split("A B C", ph, " ")
      name["A"] = "A forwarding at full rate (200 B, 4 KiB)"
      name["B"] = "B filling the backlog, broker paused   "
      name["C"] = "C draining the backlog                 "
      for (i = 1; i <= 3; i++) { p = ph[i]; if (n[p]) {
        printf "  %s max Rss %5.2f MiB (smaps_rollup; VmRSS then %5.2f: anon %5.2f + file %5.2f), mean %5.2f MiB, %d samples; max VmRSS %5.2f\n", name[p], max[p]/1024, vm[p]/1024, anon[p]/1024, file[p]/1024, sum[p]/n[p]/1024, n[p], vmmax[p]/1024
        if (max[p] > top) top = max[p] } }
      printf "  highest exact sample (smaps_rollup Rss) %.2f MiB; target <= 8 MiB: ratio %.2f, %s\n", top/1024, top/8192, (top <= 8192 ? "met" : "NOT met")
      printf "  VmHWM (kernel counter, peak over the whole run) %.2f MiB; ratio %.2f, %s\n", hwm/1024, hwm/8192, (hwm <= 8192 ? "met" : "NOT met")
      printf "  with the backlog: max(C) - max(A) = %+.2f MiB\n", (max["C"] - max["A"]) / 1024
    }' "$DIR/rss-samples.txt"
  for p in A B C; do
    [ -s "$DIR/smaps-$p.txt" ] || continue
    echo "  phase $p at its highest sample, resident KiB per mapping (smaps; anonymous ones by size):"
    awk '
      /^[0-9a-f]+-[0-9a-f]+ / { name = $6; sub(/.*\//, "", name) }
      /^Size:/ { if (name == "") name = "[anon " $2 " KiB mapping]" }
      /^Rss:/ { rss[name] += $2 }
      END { for (n in rss) if (rss[n] >= 16) printf "    %7d  %s\n", rss[n], n }' "$DIR/smaps-$p.txt" | sort -rn | head -25
  done
  rm -f "$DIR/rss.ring"
fi

# ---------------------------------------------------------------- 4. cpu
# Part cpu-qemu: only the qemu figures (no callgrind; quicker).
if want cpu || want cpu-qemu; then
  say "instructions per forwarded message (callgrind on amd64; qemu + plugin on amd64 and aarch64)"
  start_broker
  # shellcheck disable=SC1091
  . "$BROKER/broker.env"
  dead_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  declare -A total
  # fill_ring N: the native agent with a broker endpoint nobody listens on keeps all N in the
  # ring (the ring's format is the same on every architecture: tests/crossarch).
  fill_ring() {
    write_config "$DIR/fill.json" "$DIR/cpu.ring" 64MiB "$dead_port"
    rm -f "$DIR/cpu.ring"
    start_agent "$DIR/fill.json"
    flood --count "$1" --bytes 200 --connections 1 --pipeline 32 >/dev/null
    stop_agent
    # Drain config. Long heartbeat: work that scales with wall time (slower under valgrind or
    # qemu) stays small.
    write_config "$DIR/cpu.json" "$DIR/cpu.ring" 64MiB "$BROKER_AMQPS_PORT" 30
    bash "$ROOT/scripts/local-broker.sh" ctl "$BROKER" purge_queue footprint >/dev/null 2>&1
  }
  for n in 2000 12000; do
    want cpu || break
    fill_ring "$n"
    # Drain under callgrind.
    start_agent "$DIR/cpu.json" valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind.$n" -q
    wait_drained
    stop_agent
    total[$n]=$(awk '/^(summary|totals):/ {print $2; exit}' "$DIR/callgrind.$n")
    echo "  drain of $n records: $(printf "%'d" "${total[$n]}") instructions in total"
  done
  if want cpu; then
  echo "  where they go (inclusive, drain of 12000 records; callgrind_annotate):"
  callgrind_annotate --inclusive=yes "$DIR/callgrind.12000" 2>/dev/null \
    | grep -E 'Publisher::|RabbitSession|TlsPump::|mbedtls_ssl_write|mbedtls_ssl_read|amqp_basic_publish|RingStore::Read|Crc32c|EncodeEnvelope|DecodeEnvelope|ConfirmWindow' \
    | head -n 14 | sed 's/^/    /'
  awk -v a="${total[2000]}" -v b="${total[12000]}" 'BEGIN {
    printf "  per forwarded message (200 B, TLS, confirms): %.0f instructions ((%d - %d) / 10000)\n", (b - a) / 10000, b, a }'
  fi
  rm -f "$DIR"/callgrind.*

  # The same drains under qemu user mode, counted by our plugin (every guest thread; qemu's
  # -cpu max on both: SSE4.2/AES-NI on x86-64, CRC32 on aarch64, as on the real machines).
  PLUGIN=$ROOT/$BUILD/tests/bench/qemu_insn_count/libedge_insn_count.so
  arm_agent=""
  for d in "${CROSS[@]}"; do
    file -b "$d/agent/cli/edge-agent" 2>/dev/null | grep -q aarch64 && arm_agent=$ROOT/$d/agent/cli/edge-agent && break
  done
  qemu_per_message() {  # QEMU AGENT_BINARY -> prints instructions per message
    local qemu=$1 bin=$2 n
    local -A q
    for n in 2000 12000; do
      fill_ring "$n"
      rm -f "$DIR/insns.$n"
      RUN_AGENT=$bin start_agent "$DIR/cpu.json" "$qemu" -cpu max -plugin "$PLUGIN,out=$DIR/insns.$n"
      wait_drained
      stop_agent
      q[$n]=$(awk '$1 == "insns" { print $2 }' "$DIR/insns.$n")
      rm -f "$DIR/insns.$n"
      echo "    drain of $n records under $qemu: $(printf "%'d" "${q[$n]}") instructions" >&2
    done
    awk -v a="${q[2000]}" -v b="${q[12000]}" 'BEGIN { printf "%.0f", (b - a) / 10000 }'
  }
  if [ ! -f "$PLUGIN" ]; then
    echo "  under qemu: no plugin $PLUGIN (build target edge_insn_count in the native build)"
  else
    echo "  under qemu with the instruction-counting plugin (same drains, (N=12000 - N=2000) / 10000):"
    x86_q=$(qemu_per_message qemu-x86_64 "$AGENT")
    echo "  per forwarded message, amd64 under qemu-x86_64: $x86_q instructions"
    if [ -n "$arm_agent" ]; then
      arm_q=$(qemu_per_message qemu-aarch64 "$arm_agent")
      echo "  per forwarded message, aarch64 under qemu-aarch64: $arm_q instructions"
      awk -v a="$arm_q" -v x="$x86_q" 'BEGIN { printf "  ratio aarch64/amd64 (both under qemu): %.2f\n", a / x }'
    else
      echo "  aarch64: no cross build with edge-agent (--cross-build DIR)"
    fi
  fi

  # The ring's per-record work (append in batches of 32, read back, acknowledge, checkpoint):
  # callgrind natively; under qemu, our plugin (amd64 too, like for like). Two runs, the
  # difference / 1024.
  tools=$ROOT/$BUILD/tests/crossarch
  count_native() {
    valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.churn" "$tools/ring_image_tool" \
      churn "$DIR/churn.ring" "$1" >/dev/null 2>&1
    awk '/^(summary|totals):/ {print $2; exit}' "$DIR/cg.churn"
    rm -f "$DIR/cg.churn" "$DIR"/churn.ring*
  }
  count_qemu() {  # QEMU SYSROOT TOOL N
    rm -f "$DIR/insns.churn"
    "$1" -cpu max -plugin "$PLUGIN,out=$DIR/insns.churn" -L "$2" "$3" churn "$DIR/churn.ring" "$4" >/dev/null
    awk '$1 == "insns" { print $2 }' "$DIR/insns.churn"
    rm -f "$DIR/insns.churn" "$DIR"/churn.ring*
  }
  per_record() { awk -v a="$1" -v b="$2" -v base="${3:-0}" 'BEGIN { v = (b - a) / 1024; printf "%.0f instructions per record%s", v, (base > 0 ? sprintf(" (%.2fx amd64)", v / base) : "") }'; }
  x86_value=0
  if want cpu; then
    x86=$(per_record "$(count_native 512)" "$(count_native 1536)")
    echo "    ring path, amd64 (callgrind):  $x86"
    x86_value=${x86%% *}
  fi
  if [ -f "$PLUGIN" ]; then
    # The arm ratios below are against this figure: the same counting method.
    x86=$(per_record "$(count_qemu qemu-x86_64 / "$tools/ring_image_tool" 512)" "$(count_qemu qemu-x86_64 / "$tools/ring_image_tool" 1536)")
    echo "    ring path, amd64 (qemu-x86_64, plugin):  $x86"
    x86_value=${x86%% *}
  fi
  for spec in "aarch64 qemu-aarch64 aarch64-linux-gnu" "armhf qemu-arm arm-linux-gnueabihf"; do
    set -- $spec
    if [ -x "$tools/$1/ring_image_tool" ]; then
      a=$(count_qemu "$2" "/usr/$3" "$tools/$1/ring_image_tool" 512)
      b=$(count_qemu "$2" "/usr/$3" "$tools/$1/ring_image_tool" 1536)
      echo "    ring path, $1 (qemu, plugin):  $(per_record "$a" "$b" "$x86_value")"
    else
      echo "    ring path, $1: no cross-built ring_image_tool in $tools/$1"
    fi
  done
fi
