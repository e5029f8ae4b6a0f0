#!/usr/bin/env bash
# Puts `edge-agent --help` into the README (between the usage:begin/end markers), so the
# README's command list, the man page (cmake/ManPage.cmake) and the binary say the same:
#   scripts/update-readme-usage.sh path/to/edge-agent [--check]
# tests/package/CMakeLists.txt runs it in check mode (readme_usage).
set -euo pipefail
AGENT=${1:?usage: $0 path/to/edge-agent [--check]}
MODE=${2:-write}
case "$MODE" in write | --check) ;; *) echo "$0: unknown mode '$MODE' (usage: $0 path/to/edge-agent [--check])" >&2; exit 2 ;; esac
# A wrong first argument (say `--check` alone) must not write an empty command list into the
# README: the binary has to exist and its --help has to succeed before anything is written.
if [ ! -x "$AGENT" ] || [ -d "$AGENT" ]; then
  echo "$0: '$AGENT' is not the edge-agent binary (usage: $0 path/to/edge-agent [--check])" >&2
  exit 2
fi
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
cd "$(dirname "$0")/.."
grep -q '<!-- usage:begin -->' README.md || { echo "README.md has no usage:begin marker" >&2; exit 1; }
help=$("$AGENT" --help) || { echo "$0: '$AGENT --help' failed; README.md left as it was" >&2; exit 1; }
[ -n "$help" ] || { echo "$0: '$AGENT --help' printed nothing; README.md left as it was" >&2; exit 1; }
usage=$(printf '```text\n%s\n```' "$help")
new=$(awk -v usage="$usage" '
  /<!-- usage:begin -->/ { print; print usage; skip = 1; next }
  /<!-- usage:end -->/ { skip = 0 }
  !skip { print }' README.md)
if [ "$MODE" = --check ]; then
  if [ "$new" != "$(cat README.md)" ]; then
    echo "README.md's command list differs from 'edge-agent --help': run scripts/update-readme-usage.sh $AGENT" >&2
    exit 1
  fi
  echo "README.md command list matches edge-agent --help"
else
  printf '%s\n' "$new" > README.md
fi
