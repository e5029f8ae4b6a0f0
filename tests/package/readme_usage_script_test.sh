#!/usr/bin/env bash
# scripts/update-readme-usage.sh given wrong arguments names the problem and leaves the README
# as it was (it once took `--check` for the binary and wrote an empty command list); given the
# right ones, writing is a no-op on a README that is up to date. It runs on copies of the
# script and the README in a scratch directory, so no outcome can touch the real README.
#   readme_usage_script_test.sh SOURCE_DIR AGENT_BINARY
set -euo pipefail
src=${1:?source dir}
agent=$(realpath "${2:?edge-agent binary}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/scripts"
cp "$src/scripts/update-readme-usage.sh" "$work/scripts/"
cp "$src/README.md" "$work/README.md"
cp "$src/README.md" "$work/README.expected"
# Stand-ins for a binary whose --help fails and one that prints nothing (GNU true and false
# print their own help for --help, so they will not do).
printf '#!/bin/sh\necho broken >&2\nexit 3\n' > "$work/failing"
printf '#!/bin/sh\nexit 0\n' > "$work/silent"
chmod +x "$work/failing" "$work/silent"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect CODE TEXT ARGS...: runs the script, wants exit CODE, TEXT in its output and the
# README unchanged.
expect() {
  local code=$1 text=$2 rc=0 out
  shift 2
  out=$(cd "$work" && bash scripts/update-readme-usage.sh "$@" 2>&1) || rc=$?
  [ "$rc" = "$code" ] || fail "'$*': exit $rc, wanted $code; output: $out"
  [[ "$out" == *"$text"* ]] || fail "'$*': output lacks '$text': $out"
  cmp -s "$work/README.md" "$work/README.expected" || fail "'$*' changed the README"
}

expect 2 "'--check' is not the edge-agent binary" --check
expect 2 "is not the edge-agent binary" "$work/scripts"
expect 2 "unknown mode '--chek'" "$agent" --chek
expect 1 "--help' failed; README.md left as it was" "$work/failing"
expect 1 "--help' printed nothing; README.md left as it was" "$work/silent"
expect 0 "matches edge-agent --help" "$agent" --check
expect 0 "" "$agent"

[ "$failures" = 0 ] || exit 1
echo "readme_usage_script: every wrong argument refused, README untouched"
