#!/bin/sh
# The tutorials' "heavy computation" as a worker handler: 5 seconds of work, then a result.
#
# Usage (the worker's handler argv): handler.sh RESULT_DIR
#   stdin        the task (the message body)
#   RESULT_DIR/<message id>.result   the result, written atomically (rename) when done
#   stdout       the same result line: the RPC reply when the task was sent with reply_to
#   exit 0       done; anything else makes the worker retry later (EDGE_ATTEMPT counts)
#
# Idempotent: a task whose result already exists (EDGE_DUPLICATE=1 after a lost ack, or a
# redelivery after a worker died) is answered from the result instead of being redone.
set -eu
out_dir=${1:?usage: handler.sh RESULT_DIR}
# The message id names the result file: keep it to safe characters.
id=$(printf '%s' "${EDGE_MESSAGE_ID:-no-id}" | tr -c 'A-Za-z0-9._-' '_')
result_file="$out_dir/$id.result"
mkdir -p "$out_dir"

task=$(cat)
if [ -f "$result_file" ]; then
  cat "$result_file"
  exit 0
fi

sleep 5  # the heavy part

result="COMPLETED: report generated for '$task' (attempt ${EDGE_ATTEMPT:-1})"
printf '%s\n' "$result" > "$result_file.tmp"
mv "$result_file.tmp" "$result_file"
printf '%s\n' "$result"
