#!/usr/bin/env bash
# Regenerates the README's configuration reference from the field table:
#   scripts/update-readme-reference.sh path/to/edge-agent
# tests/unit/CMakeLists.txt runs the same generator in check mode (readme_config_reference).
set -euo pipefail
AGENT=${1:?usage: $0 path/to/edge-agent [--check]}
MODE=${2:-write}
cd "$(dirname "$0")/.."
ref=$("$AGENT" config-reference)
new=$(awk -v ref="$ref" '
  /<!-- config-reference:begin -->/ { print; print ref; skip = 1; next }
  /<!-- config-reference:end -->/ { skip = 0 }
  !skip { print }' README.md)
if [ "$MODE" = --check ]; then
  if [ "$new" != "$(cat README.md)" ]; then
    echo "README.md's configuration reference is out of date: run scripts/update-readme-reference.sh $AGENT" >&2
    exit 1
  fi
  echo "README.md configuration reference is up to date"
else
  printf '%s\n' "$new" > README.md
fi
