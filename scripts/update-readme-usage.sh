#!/usr/bin/env bash
# Puts `edge-agent --help` into the README (between the usage:begin/end markers), so the
# README's command list, the man page (cmake/ManPage.cmake) and the binary say the same:
#   scripts/update-readme-usage.sh path/to/edge-agent [--check]
# tests/package/CMakeLists.txt runs it in check mode (readme_usage).
set -euo pipefail
AGENT=${1:?usage: $0 path/to/edge-agent [--check]}
MODE=${2:-write}
cd "$(dirname "$0")/.."
grep -q '<!-- usage:begin -->' README.md || { echo "README.md has no usage:begin marker" >&2; exit 1; }
usage=$(printf '```text\n%s\n```' "$("$AGENT" --help)")
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
